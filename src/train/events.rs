//! `events.jsonl`: append-only, one JSON object a line, flushed as written, so
//! a dashboard (or a person with `tail -f`) follows a run live.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::records::{Event, EventRecord, TrialStatus};
use crate::tensorboard::BoardWriter;

/// Where a partial last line of `events.jsonl` is moved (appended).
pub const FRAGMENTS: &str = "events.jsonl.fragments";

/// A log cut mid-line (a crash, a full disk) would glue the next event onto
/// the fragment: the fragment is moved to [`FRAGMENTS`] and the log cut back
/// to its last whole line. Nothing is deleted.
fn repair_last_line(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // Only the last byte decides; a whole log is not read at every open.
    let mut last = [b'\n'];
    if file.seek(SeekFrom::End(0))? > 0 {
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
    }
    if last[0] == b'\n' {
        return Ok(());
    }
    let bytes = std::fs::read(path)?;
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let aside = path.with_file_name(FRAGMENTS);
    let mut fragments = OpenOptions::new().create(true).append(true).open(&aside)?;
    fragments.write_all(&bytes[keep..])?;
    fragments.write_all(b"\n")?;
    fragments.sync_all()?;
    OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(keep as u64)?;
    eprintln!(
        "note: {} ended in a partial line ({} bytes, from a run that stopped mid-write); moved to {}",
        path.display(),
        bytes.len() - keep,
        aside.display()
    );
    Ok(())
}

/// The event log of one trial.
pub struct EventLog {
    file: File,
    trial: String,
    run_id: String,
    /// The trial's live TensorBoard file, when it writes one.
    board: Option<BoardWriter>,
}

impl EventLog {
    /// Opens (appending) `path` for run `run_id` of `trial`; events are
    /// mirrored into the folder's live TensorBoard file when it has one.
    pub fn open(path: &Path, trial: &str, run_id: &str) -> std::io::Result<Self> {
        repair_last_line(path)?;
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let board = match path.parent() {
            Some(dir) => BoardWriter::open_live(dir)?,
            None => None,
        };
        Ok(Self {
            file,
            trial: trial.to_string(),
            run_id: run_id.to_string(),
            board,
        })
    }

    /// Starts a live TensorBoard file beside `path` and opens the log on it.
    pub fn open_with_tensorboard(path: &Path, trial: &str, run_id: &str) -> std::io::Result<Self> {
        let dir = path.parent().unwrap_or(Path::new("."));
        BoardWriter::start(dir)?;
        Self::open(path, trial, run_id)
    }

    /// A loss of `split` ("train" or "valid") after `epoch` (1-based).
    pub fn loss(&mut self, epoch: usize, split: &str, loss: f64, lr: f64) -> std::io::Result<()> {
        self.write(Event::Loss {
            epoch,
            split: split.to_string(),
            loss,
            lr: Some(lr),
        })
    }

    /// Any event, with its time, trial and run.
    pub fn write(&mut self, event: Event) -> std::io::Result<()> {
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let record = EventRecord {
            t: Some(t),
            trial: Some(self.trial.clone()),
            run: Some(self.run_id.clone()),
            event,
        };
        let mut line = record.to_line();
        line.push(b'\n');
        // One write per line: a reader never sees half an event from us.
        self.file.write_all(&line)?;
        self.file.flush()?;
        match &mut self.board {
            // The line as written, read back (serde_json's parse of a float is
            // not always the exact value it printed): TensorBoard then gets
            // exactly what `earshot export tensorboard` makes of events.jsonl.
            Some(board) => board.mirror(&EventRecord::parse(&line).unwrap_or(record)),
            None => Ok(()),
        }
    }

    /// The trial's final status: done, or failed with a reason.
    pub fn status(&mut self, done: bool, reason: Option<&str>) -> std::io::Result<()> {
        let status = if done {
            TrialStatus::Done
        } else {
            TrialStatus::Failed
        };
        self.status_of(status, reason)
    }

    /// The trial's final status.
    pub fn status_of(&mut self, status: TrialStatus, reason: Option<&str>) -> std::io::Result<()> {
        self.write(Event::Status {
            status: Some(status),
            reason: reason.map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_last_line_is_moved_aside_before_appending() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("events.jsonl");
        std::fs::write(&path, "{\"epoch\":1}\n{\"epoch\":2,\"spl").unwrap();
        let mut log = EventLog::open(&path, "dense", "r1").unwrap();
        log.write(Event::Resume {
            epoch: 1,
            damaged_checkpoints: Vec::new(),
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0], "{\"epoch\":1}");
        let resumed: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(resumed["event"], "resume");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(FRAGMENTS)).unwrap(),
            "{\"epoch\":2,\"spl\n"
        );
        // A whole log is left as it is.
        drop(log);
        EventLog::open(&path, "dense", "r1").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
