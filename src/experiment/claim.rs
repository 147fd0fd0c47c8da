//! Claiming a trial across processes and machines that share a disk: a lock
//! file created atomically (`create_new`) holding the host and pid, touched
//! after every epoch (a heartbeat). A lock left by a dead process on this host
//! is taken over at once; one from another host when its heartbeat is older
//! than the sweep's `stale_after` ([`STALE_AFTER`] unless set; that machine is
//! presumed gone).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The default age after which a lock from another host is taken over.
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

/// Renews a lock's heartbeat (its modification time).
pub fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// A held claim; the lock file goes when it is dropped.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
}

/// Why a claim was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another live process holds it.
    #[error("held by {0}")]
    Held(String),
    /// The lock could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

pub use crate::fsx::host;

fn owner_line() -> String {
    format!("{} {}", host(), std::process::id())
}

/// Whether the process named in a lock is gone: on this host by its pid, from
/// another host by a heartbeat older than `stale_after`.
fn is_stale(content: &str, heartbeat: Option<SystemTime>, stale_after: Duration) -> bool {
    let Some((h, pid)) = crate::fsx::lock_holder(content) else {
        return true; // unreadable or half-written: nobody can be relying on it
    };
    if h != host() {
        return heartbeat
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > stale_after);
    }
    if pid == std::process::id() {
        return false;
    }
    crate::fsx::process_gone(pid)
}

impl Claim {
    /// Claims `path` (e.g. `runs/<exp>/.claims/t003.lock`), taking over a lock
    /// from another host whose heartbeat is older than `stale_after`.
    pub fn take(path: &Path, stale_after: Duration) -> Result<Self, ClaimError> {
        let io = |source| ClaimError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(owner_line().as_bytes()).map_err(io)?;
                    return Ok(Self {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let content = std::fs::read_to_string(path).unwrap_or_default();
                    let heartbeat = std::fs::metadata(path).and_then(|m| m.modified()).ok();
                    if !is_stale(&content, heartbeat, stale_after) {
                        return Err(ClaimError::Held(content.trim().to_string()));
                    }
                    // Move the stale lock aside atomically; if what was moved is not
                    // the lock judged stale (someone took over in between), put it back.
                    let aside = path.with_extension(format!("stale.{}", std::process::id()));
                    if std::fs::rename(path, &aside).is_ok() {
                        let moved = std::fs::read_to_string(&aside).unwrap_or_default();
                        if moved != content {
                            let _ = std::fs::rename(&aside, path);
                            return Err(ClaimError::Held(moved.trim().to_string()));
                        }
                        let _ = std::fs::remove_file(&aside);
                    }
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(ClaimError::Held("another process, just now".into()))
    }
}

impl Claim {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_and_stale_locks_are_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = tmp.path().join("claims/t000.lock");
        let first = Claim::take(&lock, STALE_AFTER).unwrap();
        // Our own pid counts as live: a second claim in this process is refused.
        assert!(matches!(
            Claim::take(&lock, STALE_AFTER),
            Err(ClaimError::Held(_))
        ));
        drop(first);
        assert!(!lock.exists());
        // A dead process on this host: no pid reaches 2^32 - 1.
        if Path::new("/proc/self").exists() {
            std::fs::write(&lock, format!("{} 4294967295", host())).unwrap();
            let taken = Claim::take(&lock, STALE_AFTER).unwrap();
            assert!(
                std::fs::read_to_string(&lock)
                    .unwrap()
                    .ends_with(&std::process::id().to_string())
            );
            drop(taken);
        }
        // Another host: judged by its heartbeat's age only.
        std::fs::write(&lock, "some-other-host 12").unwrap();
        assert!(
            matches!(Claim::take(&lock, STALE_AFTER), Err(ClaimError::Held(h)) if h.contains("some-other-host"))
        );
        let old = SystemTime::now() - Duration::from_secs(120);
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let minute = Duration::from_secs(60);
        assert!(
            Claim::take(&lock, 3 * minute).is_err(),
            "2 minutes old, 3 allowed"
        );
        let taken = Claim::take(&lock, minute).expect("2 minutes old, 1 allowed: taken over");
        drop(taken);
    }
}
