//! Ctrl-C and SIGTERM during work that builds a staging folder: while a
//! [`Guard`] is held, the signal only raises a flag; the work checks it
//! ([`check`]) between pieces, returns an error, and its ordinary error path
//! removes what it staged. Dropping the guard restores the default action.
//! A kill -9 cannot be caught: [`sweep_stale`] removes what such a process
//! left behind, the next time anyone stages into the same folder.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static RAISED: AtomicBool = AtomicBool::new(false);
static HOLDERS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn raise_flag(_signal: libc::c_int) {
    RAISED.store(true, Ordering::SeqCst);
}

/// While alive, SIGINT and SIGTERM set a flag instead of ending the process.
#[derive(Debug)]
pub struct Guard(());

/// Catches SIGINT and SIGTERM until the guard is dropped.
pub fn catch() -> Guard {
    if HOLDERS.fetch_add(1, Ordering::SeqCst) == 0 {
        RAISED.store(false, Ordering::SeqCst);
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let handler = raise_flag as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
    Guard(())
}

impl Drop for Guard {
    fn drop(&mut self) {
        if HOLDERS.fetch_sub(1, Ordering::SeqCst) == 1 {
            // SAFETY: restoring the default disposition.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
            }
        }
    }
}

/// The error of work stopped by a signal.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted (Ctrl-C or SIGTERM); what was half-built was removed")]
pub struct Interrupted;

/// `Err(Interrupted)` once a signal arrived while a guard was held.
pub fn check() -> Result<(), Interrupted> {
    if RAISED.load(Ordering::SeqCst) {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// The PID at the end of a staging folder's name: `.<x>.partial-<pid>` or
/// `.<x>-unpacked-<pid>` (what earshot's staging folders are called).
pub fn staging_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, pid) = name
        .rsplit_once(".partial-")
        .or_else(|| name.rsplit_once("-unpacked-"))?;
    pid.parse().ok()
}

/// Removes the staging folders in `dir` whose process is gone; the names removed.
pub fn sweep_stale(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let Some(pid) = staging_pid(&name)
            && is_dir
            && pid != std::process::id()
            && crate::fsx::process_gone(pid)
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            tracing::info!(
                "removed {} (left by process {pid}, which is gone)",
                entry.path().display()
            );
            removed.push(name);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_staging_of_a_dead_process_goes_and_a_live_ones_stays() {
        assert_eq!(staging_pid(".fsdd.partial-123"), Some(123));
        assert_eq!(staging_pid("..bad-x-unpacked-9.partial-77"), Some(77));
        assert_eq!(staging_pid(".bad-x-unpacked-9"), Some(9));
        assert_eq!(staging_pid("fsdd.partial-1"), None, "not hidden: not ours");
        let tmp = tempfile::tempdir().unwrap();
        // A child that has exited and been reaped: its PID is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        let mine = std::process::id();
        for name in [
            format!(".a.partial-{dead_pid}"),
            format!(".b-unpacked-{mine}"),
            ".c.partial-1".into(),
        ] {
            std::fs::create_dir_all(tmp.path().join(&name).join("x")).unwrap();
        }
        std::fs::write(tmp.path().join("keep.partial-5"), "user file").unwrap();
        let removed = sweep_stale(tmp.path());
        assert_eq!(removed, vec![format!(".a.partial-{dead_pid}")]);
        assert!(
            tmp.path().join(format!(".b-unpacked-{mine}")).is_dir(),
            "this process's own"
        );
        assert!(tmp.path().join(".c.partial-1").is_dir(), "PID 1 is alive");
        assert!(tmp.path().join("keep.partial-5").is_file());
    }
}
