//! Zip and tar.gz archives unpacked into a temporary folder beside the
//! target and renamed into place only when complete. Every entry is checked
//! before anything is written: one whose path would leave the target
//! (zip-slip: `../x`, an absolute path), a link, FIFO or device entry, or two
//! entries of one name refuse the archive. While writing, the bytes unpacked
//! are counted against [`UnpackLimits`] (a bomb is cut, not a disk filled);
//! files get the user's umask and never a world-writable mode; a full disk is
//! named as such (the archive is fine). The staging folder is removed on any
//! error, on Ctrl-C/SIGTERM, and, after a kill -9, by the next run.

use std::path::Path;

pub use super::staging::ExtractError;
use super::staging::{Census, EntryKind, archive_size, refuse_declared, staged};
use crate::interrupt;

/// How much an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// An absolute bound on the bytes written; `None`: [`Self::ratio`] × the
    /// archive's size, but never below [`Self::floor`].
    pub max_bytes: Option<u64>,
    /// Unpacked bytes per archive byte. Audio barely compresses (WAV in a
    /// zip: 1.1-2x), so 10x is far above any real set and far below a bomb.
    pub ratio: u64,
    /// What any archive may unpack to, however small it is.
    pub floor: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        Self {
            max_bytes: None,
            ratio: 10,
            floor: 256 << 20,
        }
    }
}

impl UnpackLimits {
    /// The bound for an archive of `archive_bytes`, and how it was set.
    fn bound(&self, archive_bytes: u64) -> (u64, String) {
        match self.max_bytes {
            Some(max) => (max, "--max-unpacked".into()),
            None => (
                archive_bytes.saturating_mul(self.ratio).max(self.floor),
                format!(
                    "{}x the archive's {archive_bytes} bytes, at least {} bytes",
                    self.ratio, self.floor
                ),
            ),
        }
    }
}

/// Unpacks a `.zip`, `.tar.gz` or `.tgz` archive (by its name) into `target`
/// with the default [`UnpackLimits`]; the number of files written.
pub fn extract_archive(archive: &Path, target: &Path) -> Result<usize, ExtractError> {
    extract_archive_with(archive, target, UnpackLimits::default())
}

/// [`extract_archive`] with the given limits.
pub fn extract_archive_with(
    archive: &Path,
    target: &Path,
    limits: UnpackLimits,
) -> Result<usize, ExtractError> {
    let name = archive.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        extract_tar_gz_with(archive, target, limits)
    } else {
        extract_zip_with(archive, target, limits)
    }
}

/// Unpacks a gzip-compressed tar archive into `target` (default limits).
pub fn extract_tar_gz(archive: &Path, target: &Path) -> Result<usize, ExtractError> {
    extract_tar_gz_with(archive, target, UnpackLimits::default())
}

/// Unpacks a zip archive into `target` (default limits).
pub fn extract_zip(archive: &Path, target: &Path) -> Result<usize, ExtractError> {
    extract_zip_with(archive, target, UnpackLimits::default())
}

/// The kind of a tar entry.
fn tar_kind(kind: tar::EntryType) -> EntryKind {
    use tar::EntryType as T;
    match kind {
        T::Regular | T::Continuous => EntryKind::File,
        T::Directory => EntryKind::Dir,
        T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => EntryKind::Skip,
        T::Symlink | T::Link => {
            EntryKind::Refused("is a link (links are refused: one could point outside the folder)")
        }
        T::Fifo | T::Char | T::Block => EntryKind::Refused("is a FIFO or device, not a recording"),
        _ => EntryKind::Refused("is not a plain file or folder"),
    }
}

/// [`extract_tar_gz`] with the given limits.
pub fn extract_tar_gz_with(
    archive: &Path,
    target: &Path,
    limits: UnpackLimits,
) -> Result<usize, ExtractError> {
    let bad = |reason: String| ExtractError::Archive {
        path: archive.to_path_buf(),
        reason,
    };
    let open = || -> Result<tar::Archive<flate2::read::GzDecoder<std::fs::File>>, ExtractError> {
        let file = std::fs::File::open(archive).map_err(|source| ExtractError::Io {
            path: archive.to_path_buf(),
            source,
        })?;
        Ok(tar::Archive::new(flate2::read::GzDecoder::new(file)))
    };
    let limit = limits.bound(archive_size(archive)?);
    // First pass: every name and kind is checked before anything is written.
    let mut census = Census::new(archive);
    for entry in open()?.entries().map_err(|e| bad(e.to_string()))? {
        interrupt::check()?;
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let size = entry.header().size().unwrap_or(0);
        census.admit(
            &path.to_string_lossy(),
            Some(&path),
            tar_kind(entry.header().entry_type()),
            size,
        )?;
    }
    refuse_declared(archive, census.declared, &limit)?;
    staged(archive, target, limit, |writer| {
        for entry in open()?.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
            let name = path.to_string_lossy().into_owned();
            match tar_kind(entry.header().entry_type()) {
                EntryKind::File => writer.file(&path, &mut entry, &name)?,
                EntryKind::Dir => writer.dir(&path)?,
                _ => {}
            }
        }
        Ok(())
    })
}

/// The kind of a zip entry, from its Unix mode where the archive records one.
fn zip_kind(entry: &zip::read::ZipFile) -> EntryKind {
    const S_IFMT: u32 = 0o170000;
    match entry.unix_mode().map(|m| m & S_IFMT) {
        Some(0o120000) => EntryKind::Refused(
            "is a symbolic link (links are refused: one could point outside the folder)",
        ),
        Some(0o010000 | 0o020000 | 0o060000 | 0o140000) => {
            EntryKind::Refused("is a FIFO, socket or device, not a recording")
        }
        _ if entry.is_dir() => EntryKind::Dir,
        _ => EntryKind::File,
    }
}

/// [`extract_zip`] with the given limits.
pub fn extract_zip_with(
    archive: &Path,
    target: &Path,
    limits: UnpackLimits,
) -> Result<usize, ExtractError> {
    let bad = |reason: String| ExtractError::Archive {
        path: archive.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(archive).map_err(|source| ExtractError::Io {
        path: archive.to_path_buf(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let limit = limits.bound(archive_size(archive)?);
    let mut census = Census::new(archive);
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| bad(e.to_string()))?;
        census.admit(
            entry.name(),
            entry.enclosed_name(),
            zip_kind(&entry),
            entry.size(),
        )?;
    }
    refuse_declared(archive, census.declared, &limit)?;
    staged(archive, target, limit, |writer| {
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
            let Some(relative) = entry.enclosed_name().map(Path::to_path_buf) else {
                continue; // refused by the census
            };
            let name = entry.name().to_string();
            match zip_kind(&entry) {
                EntryKind::Dir => writer.dir(&relative)?,
                EntryKind::File => writer.file(&relative, &mut entry, &name)?,
                _ => {}
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::staging::Writer;
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn small_zip(path: &Path) {
        let file = std::fs::File::create(path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        zip.start_file("a/one.wav", zip::write::FileOptions::default())
            .unwrap();
        zip.write_all(&[1u8; 1000]).unwrap();
        zip.finish().unwrap();
    }

    #[test]
    fn a_signal_while_unpacking_removes_the_staging_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let archive = tmp.path().join("a.zip");
        small_zip(&archive);
        let target = tmp.path().join("out");
        let guard = interrupt::catch();
        // SAFETY: the guard's handler only raises a flag.
        unsafe { libc::raise(libc::SIGTERM) };
        let err = extract_zip(&archive, &target).unwrap_err();
        drop(guard);
        assert!(matches!(err, ExtractError::Interrupted(_)), "{err}");
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("a.zip")]);
        // The next run, with no signal, unpacks it.
        assert_eq!(extract_zip(&archive, &target).unwrap(), 1);
    }

    #[test]
    fn a_full_disk_is_named_and_the_archive_is_not_blamed() {
        let writer = Writer {
            archive: Path::new("sets/a.zip"),
            target: Path::new("data/a"),
            staging: PathBuf::from("data/.a.partial-1"),
            limit: (1, String::new()),
            written: 0,
            files: 0,
        };
        let err = writer.io(
            Path::new("data/.a.partial-1/x.wav"),
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        let text = err.to_string();
        assert!(matches!(err, ExtractError::DiskFull { .. }), "{text}");
        assert!(
            text.contains("disk is full") && text.contains("the archive is fine"),
            "{text}"
        );
        assert!(!text.contains("download again"), "{text}");
    }
}
