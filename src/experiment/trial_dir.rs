//! One run per trial folder. A folder that already holds a run is refused,
//! resumed (only the run its checkpoints carry) or moved aside whole; two
//! runs never share `events.jsonl`, checkpoints or metrics, and nothing is
//! deleted.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What to do with a trial folder that already holds a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Refuse (the default): the message names `--resume` and `--overwrite`.
    Refuse,
    /// Continue the run recorded there, from its newest checkpoint.
    Resume,
    /// Move the old run aside to `<trial>.prev-<timestamp>` and start anew.
    Overwrite,
}

/// Files whose presence means a run was started in a folder.
const RUN_FILES: [&str; 5] = [
    "config.toml",
    "events.jsonl",
    "metrics.json",
    "checkpoints",
    "model",
];

/// Whether `dir` holds (part of) a run.
pub fn holds_run(dir: &Path) -> bool {
    RUN_FILES.iter().any(|f| dir.join(f).exists())
}

/// A fresh run id: UTC time, then the process id and a counter, so two runs
/// started in the same second (or by two processes) never share one.
pub fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{:x}-{}",
        utc_stamp(SystemTime::now()),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// `YYYYMMDDTHHMMSSZ` for `t` (UTC; civil date from days since 1970, Howard Hinnant's formula).
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Why a trial folder cannot take this run.
#[derive(Debug, thiserror::Error)]
pub enum TrialDirError {
    /// A run is there and neither `--resume` nor `--overwrite` was given.
    #[error(
        "{0} already holds a run; pass --resume to continue it, --overwrite to move it aside (to <trial>.prev-<time>) and start anew, or another --runs-dir"
    )]
    Occupied(PathBuf),
    /// Moving the old run aside failed.
    #[error("cannot move {from} aside to {to}: {source}")]
    MoveAside {
        /// The trial folder.
        from: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What became of a trial folder before a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readied {
    /// The run id to record (the old one when resuming).
    pub run_id: String,
    /// Where an old run was moved, with `--overwrite`.
    pub moved_to: Option<PathBuf>,
}

/// Makes `dir` ready for a run under `reuse`; `recorded_id` is the run id the
/// folder's `config.toml` holds (read by the caller, which owns that format).
pub fn ready(
    dir: &Path,
    reuse: Reuse,
    recorded_id: Option<String>,
) -> Result<Readied, TrialDirError> {
    if !holds_run(dir) {
        return Ok(Readied {
            run_id: new_run_id(),
            moved_to: None,
        });
    }
    match reuse {
        Reuse::Refuse => Err(TrialDirError::Occupied(dir.to_path_buf())),
        Reuse::Resume => Ok(Readied {
            // A folder written before run ids existed continues under a new one.
            run_id: recorded_id.unwrap_or_else(new_run_id),
            moved_to: None,
        }),
        Reuse::Overwrite => {
            let to = move_aside(dir)?;
            Ok(Readied {
                run_id: new_run_id(),
                moved_to: Some(to),
            })
        }
    }
}

/// Renames `dir` to a sibling `<name>.prev-<timestamp>[-n]` that does not exist yet.
pub fn move_aside(dir: &Path) -> Result<PathBuf, TrialDirError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trial".into());
    let stamp = utc_stamp(SystemTime::now());
    let aside = crate::fsx::SET_ASIDE;
    let mut to = dir.with_file_name(format!("{name}{aside}{stamp}"));
    let mut n = 1;
    while to.exists() {
        n += 1;
        to = dir.with_file_name(format!("{name}{aside}{stamp}-{n}"));
    }
    std::fs::rename(dir, &to).map_err(|source| TrialDirError::MoveAside {
        from: dir.to_path_buf(),
        to: to.clone(),
        source,
    })?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_match_hand_worked_dates() {
        let at = |s: u64| utc_stamp(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        // 2000-02-29 12:34:56 UTC (a leap day in a century leap year).
        assert_eq!(at(951_827_696), "20000229T123456Z");
        // 2026-12-01 22:40:27 UTC.
        assert_eq!(at(1_796_164_827), "20261201T224027Z");
    }

    #[test]
    fn a_folder_with_a_run_is_refused_resumed_or_moved_aside_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("rnn");
        let fresh = ready(&dir, Reuse::Refuse, None).unwrap();
        assert!(fresh.moved_to.is_none());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("events.jsonl"), "{}\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();

        let refused = ready(&dir, Reuse::Refuse, None).unwrap_err().to_string();
        assert!(
            refused.contains("--resume") && refused.contains("--overwrite"),
            "{refused}"
        );
        let resumed = ready(&dir, Reuse::Resume, Some("old-id".into())).unwrap();
        assert_eq!(resumed.run_id, "old-id");

        let moved = ready(&dir, Reuse::Overwrite, Some("old-id".into())).unwrap();
        assert_ne!(moved.run_id, "old-id");
        let to = moved.moved_to.unwrap();
        assert!(!dir.exists());
        assert!(
            to.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rnn.prev-")
        );
        assert_eq!(
            std::fs::read_to_string(to.join("notes.txt")).unwrap(),
            "mine"
        );
        // A second overwrite in the same second gets its own name.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("metrics.json"), "{}").unwrap();
        let again = ready(&dir, Reuse::Overwrite, None)
            .unwrap()
            .moved_to
            .unwrap();
        assert_ne!(again, to);
        assert!(to.is_dir() && again.is_dir());
    }
}
