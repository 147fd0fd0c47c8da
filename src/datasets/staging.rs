//! The writing half of unpacking: the census every entry passes before
//! anything is written (path inside, kind a file or folder, no name twice,
//! declared sizes within the bound), and the writer that streams entries into
//! a staging folder, counting bytes, under the user's umask, renamed into
//! place only when whole and removed otherwise.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::interrupt;

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// Not a readable archive.
    #[error("{path}: not an archive this can read ({reason}); remove it and download again")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What the reader said.
        reason: String,
    },
    /// An entry would be written outside the target, or is not a plain file or folder.
    #[error("{path}: entry {entry:?} {why}; refused, nothing written")]
    Escapes {
        /// The archive.
        path: PathBuf,
        /// The entry's name.
        entry: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The archive unpacks to more than the limits allow.
    #[error(
        "{path}: unpacks to more than {limit} bytes ({why}); refused as a likely archive bomb and nothing kept. \
         If it is genuine, pass --max-unpacked with a larger size (e.g. --max-unpacked 200G)"
    )]
    TooLarge {
        /// The archive.
        path: PathBuf,
        /// The bound.
        limit: u64,
        /// Which bound.
        why: String,
    },
    /// The disk filled while unpacking.
    #[error(
        "{target}: the disk is full while unpacking {archive}; the archive is fine and kept, what was unpacked was removed: \
         free some space (or prepare into another disk with --to DIR) and run the command again"
    )]
    DiskFull {
        /// The archive.
        archive: PathBuf,
        /// Where it was unpacking to.
        target: PathBuf,
    },
    /// Stopped by Ctrl-C or SIGTERM.
    #[error(transparent)]
    Interrupted(#[from] interrupt::Interrupted),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What an entry is, as far as unpacking cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EntryKind {
    File,
    Dir,
    /// Metadata that writes nothing (a pax global header).
    Skip,
    /// A symlink, hard link, FIFO, device or anything else.
    Refused(&'static str),
}

/// The checks every entry passes before anything is written: its path stays
/// inside, its kind is a file or folder, and no file name repeats.
pub(super) struct Census<'a> {
    archive: &'a Path,
    files: HashSet<PathBuf>,
    pub(super) declared: u64,
}

impl<'a> Census<'a> {
    pub(super) fn new(archive: &'a Path) -> Self {
        Self {
            archive,
            files: HashSet::new(),
            declared: 0,
        }
    }

    pub(super) fn admit(
        &mut self,
        name: &str,
        path: Option<&Path>,
        kind: EntryKind,
        size: u64,
    ) -> Result<(), ExtractError> {
        let refuse = |why| ExtractError::Escapes {
            path: self.archive.to_path_buf(),
            entry: name.to_string(),
            why,
        };
        let Some(path) = path.filter(|p| stays_inside(p)) else {
            return Err(refuse("points outside the folder it unpacks into"));
        };
        match kind {
            EntryKind::Refused(why) => return Err(refuse(why)),
            EntryKind::File => {
                let normal: PathBuf = path
                    .components()
                    .filter(|c| !matches!(c, std::path::Component::CurDir))
                    .collect();
                if !self.files.insert(normal) {
                    return Err(refuse(
                        "appears twice (a later copy would silently replace the first)",
                    ));
                }
                self.declared = self.declared.saturating_add(size);
            }
            EntryKind::Dir | EntryKind::Skip => {}
        }
        Ok(())
    }
}

/// Whether an entry's relative path stays inside the folder it unpacks into.
pub(super) fn stays_inside(path: &Path) -> bool {
    use std::path::Component;
    path.components().next().is_some()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Writes entries into a staging folder, counting bytes against the bound.
pub(super) struct Writer<'a> {
    pub(super) archive: &'a Path,
    pub(super) target: &'a Path,
    pub(super) staging: PathBuf,
    pub(super) limit: (u64, String),
    pub(super) written: u64,
    pub(super) files: usize,
}

impl Writer<'_> {
    pub(super) fn io(&self, path: &Path, source: std::io::Error) -> ExtractError {
        if source.raw_os_error() == Some(libc::ENOSPC) {
            ExtractError::DiskFull {
                archive: self.archive.to_path_buf(),
                target: self.target.to_path_buf(),
            }
        } else {
            ExtractError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }

    fn too_large(&self) -> ExtractError {
        ExtractError::TooLarge {
            path: self.archive.to_path_buf(),
            limit: self.limit.0,
            why: self.limit.1.clone(),
        }
    }

    pub(super) fn dir(&self, relative: &Path) -> Result<(), ExtractError> {
        let out = self.staging.join(relative);
        make_dirs(&out).map_err(|e| self.io(&out, e))
    }

    /// Copies one entry's bytes (`entry`: its name in messages) into a new file.
    pub(super) fn file(
        &mut self,
        relative: &Path,
        body: &mut dyn Read,
        entry: &str,
    ) -> Result<(), ExtractError> {
        use std::os::unix::fs::OpenOptionsExt;
        let out = self.staging.join(relative);
        if let Some(dir) = out.parent() {
            make_dirs(dir).map_err(|e| self.io(dir, e))?;
        }
        // 0644 before the umask: never world-writable, whatever the archive says.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&out)
            .map_err(|e| self.io(&out, e))?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            interrupt::check()?;
            let n = body.read(&mut buf).map_err(|e| ExtractError::Archive {
                path: self.archive.to_path_buf(),
                reason: format!("{entry}: {e}"),
            })?;
            if n == 0 {
                break;
            }
            self.written += n as u64;
            if self.written > self.limit.0 {
                return Err(self.too_large());
            }
            file.write_all(&buf[..n]).map_err(|e| self.io(&out, e))?;
        }
        file.flush().map_err(|e| self.io(&out, e))?;
        self.files += 1;
        Ok(())
    }
}

pub(super) fn make_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
}

/// Runs `write` into a fresh staging folder beside `target`, and renames it
/// to `target` when it succeeds; removes it otherwise.
pub(super) fn staged(
    archive: &Path,
    target: &Path,
    limit: (u64, String),
    write: impl FnOnce(&mut Writer) -> Result<(), ExtractError>,
) -> Result<usize, ExtractError> {
    let parent = target.parent().unwrap_or(Path::new("."));
    make_dirs(parent).map_err(|source| ExtractError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    interrupt::sweep_stale(parent);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let _signals = interrupt::catch();
    let mut writer = Writer {
        archive,
        target,
        staging: staging.clone(),
        limit,
        written: 0,
        files: 0,
    };
    let result = make_dirs(&staging)
        .map_err(|e| writer.io(&staging, e))
        .and_then(|_| write(&mut writer))
        .and_then(|_| interrupt::check().map_err(ExtractError::from))
        .and_then(|_| std::fs::rename(&staging, target).map_err(|e| writer.io(target, e)));
    match result {
        Ok(()) => Ok(writer.files),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

pub(super) fn archive_size(archive: &Path) -> Result<u64, ExtractError> {
    std::fs::metadata(archive)
        .map(|m| m.len())
        .map_err(|source| ExtractError::Io {
            path: archive.to_path_buf(),
            source,
        })
}

/// Refuses before writing when the entries' own sizes already exceed the bound.
pub(super) fn refuse_declared(
    archive: &Path,
    declared: u64,
    limit: &(u64, String),
) -> Result<(), ExtractError> {
    if declared > limit.0 {
        return Err(ExtractError::TooLarge {
            path: archive.to_path_buf(),
            limit: limit.0,
            why: format!("{}; its entries declare {declared} bytes", limit.1),
        });
    }
    Ok(())
}
