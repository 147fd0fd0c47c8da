//! TensorBoard event files, written by earshot itself (the format is small:
//! TFRecord framing in [`record`], a few protobuf messages in [`proto`]).
//!
//! Live: with `[train] tensorboard = true` a trial folder gets
//! `events.out.tfevents.<secs>.<host>.earshot` when the trial starts, and every
//! later line of `events.jsonl` is mirrored into it (see [`convert`]), so
//! `tensorboard --logdir runs/` shows one run per trial, HParams included.
//! Afterwards: [`export_trial`] writes the same records from `events.jsonl`
//! into `events.out.tfevents.<secs>.earshot-export`.

pub mod convert;
pub mod proto;
pub mod record;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::records::EventRecord;

use proto::HParam;

const PREFIX: &str = "events.out.tfevents.";
const LIVE_SUFFIX: &str = ".earshot";
const EXPORT_SUFFIX: &str = ".earshot-export";

/// An event file being appended to.
pub struct BoardWriter {
    file: File,
    hparams: Vec<(String, HParam)>,
}

impl BoardWriter {
    /// Starts a live event file in `trial_dir` (its hyperparameters from the
    /// folder's `config.toml`).
    pub fn start(trial_dir: &Path) -> std::io::Result<Self> {
        let now = now();
        let host = crate::fsx::host();
        let name = format!("{PREFIX}{}.{host}{LIVE_SUFFIX}", now as u64);
        let path = trial_dir.join(name);
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(&record::frame(&proto::file_version_event(now)))?;
        file.flush()?;
        Ok(Self {
            file,
            hparams: hparams_in(trial_dir),
        })
    }

    /// The newest live event file of `trial_dir`, opened for appending;
    /// `None` when the trial writes none.
    pub fn open_live(trial_dir: &Path) -> std::io::Result<Option<Self>> {
        let Some(path) = event_files(trial_dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(LIVE_SUFFIX))
            .max()
        else {
            return Ok(None);
        };
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Some(Self {
            file,
            hparams: hparams_in(trial_dir),
        }))
    }

    /// Mirrors one line of `events.jsonl`.
    pub fn mirror(&mut self, event: &EventRecord) -> std::io::Result<()> {
        let (bytes, _) = encode(event, &self.hparams);
        if bytes.is_empty() {
            return Ok(());
        }
        self.file.write_all(&bytes)?;
        self.file.flush()
    }
}

/// The framed records of one event line, and how many there are.
fn encode(event: &EventRecord, hparams: &[(String, HParam)]) -> (Vec<u8>, usize) {
    let t = event.t.unwrap_or_else(now);
    let summaries = convert::summaries_of(event, hparams);
    let mut out = Vec::new();
    for (step, values) in &summaries {
        out.extend(record::frame(&proto::summary_event(t, *step, values)));
    }
    (out, summaries.len())
}

fn hparams_in(trial_dir: &Path) -> Vec<(String, HParam)> {
    std::fs::read_to_string(trial_dir.join("config.toml"))
        .map(|text| convert::hparams_of(&text))
        .unwrap_or_default()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The TensorBoard event files in `dir`, sorted.
pub fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// What [`export_trial`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Exported {
    /// Wrote this file with this many records.
    Wrote(PathBuf, usize),
    /// The trial already writes live event files; nothing written.
    HasLive,
    /// No `events.jsonl`.
    NoEvents,
}

/// Writes (or rewrites) `trial_dir`'s exported event file from its
/// `events.jsonl`: atomically, so TensorBoard never reads half a file.
pub fn export_trial(trial_dir: &Path) -> std::io::Result<Exported> {
    if event_files(trial_dir)
        .iter()
        .any(|p| p.to_string_lossy().ends_with(LIVE_SUFFIX))
    {
        return Ok(Exported::HasLive);
    }
    let events_path = trial_dir.join("events.jsonl");
    let text = match std::fs::read(&events_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Exported::NoEvents),
        Err(e) => return Err(e),
    };
    let events: Vec<EventRecord> = text
        .split(|&b| b == b'\n')
        .filter_map(EventRecord::parse)
        .collect();
    let hparams = hparams_in(trial_dir);
    let first_t = events.iter().find_map(|e| e.t).unwrap_or(0.0);
    let mut bytes = record::frame(&proto::file_version_event(first_t));
    let mut records = 1;
    for event in &events {
        let (encoded, count) = encode(event, &hparams);
        records += count;
        bytes.extend(encoded);
    }
    // One export file per trial: an earlier export is replaced, not added to.
    for old in event_files(trial_dir) {
        if old.to_string_lossy().ends_with(EXPORT_SUFFIX) {
            std::fs::remove_file(old)?;
        }
    }
    let path = trial_dir.join(format!("{PREFIX}{}{EXPORT_SUFFIX}", first_t as u64));
    crate::fsx::write_atomic(&path, &bytes)?;
    Ok(Exported::Wrote(path, records))
}
