//! Zip and tar.gz archives unpacked into a temporary folder beside the
//! target and renamed into place only when complete; an entry whose path
//! would leave the target (zip-slip: `../x`, an absolute path) or a link
//! entry refuses the archive and nothing of it is kept.

use std::path::{Path, PathBuf};

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// Not a readable zip archive.
    #[error("{path}: not a zip archive this can read ({reason}); remove it and download again")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What the reader said.
        reason: String,
    },
    /// An entry would be written outside the target.
    #[error(
        "{path}: entry {entry:?} points outside the folder it unpacks into; refused, nothing written"
    )]
    Escapes {
        /// The archive.
        path: PathBuf,
        /// The entry's name.
        entry: String,
    },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Unpacks a `.zip`, `.tar.gz` or `.tgz` archive (by its name) into `target`.
pub fn extract_archive(archive: &Path, target: &Path) -> Result<usize, ExtractError> {
    let name = archive.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        extract_tar_gz(archive, target)
    } else {
        extract_zip(archive, target)
    }
}

/// The staging folder beside `target`.
fn staging_for(target: &Path) -> Result<PathBuf, ExtractError> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| ExtractError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    let staging = parent.join(format!(
        ".{}.partial-{}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    Ok(staging)
}

/// Whether an entry's relative path stays inside the folder it unpacks into.
fn stays_inside(path: &Path) -> bool {
    use std::path::Component;
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Unpacks a gzip-compressed tar archive into `target` (see [`extract_zip`]).
pub fn extract_tar_gz(archive: &Path, target: &Path) -> Result<usize, ExtractError> {
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
    // First pass: every name and type is checked before anything is written.
    for entry in open()?.entries().map_err(|e| bad(e.to_string()))? {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let kind = entry.header().entry_type();
        if !stays_inside(&path) || kind.is_symlink() || kind.is_hard_link() {
            return Err(ExtractError::Escapes {
                path: archive.to_path_buf(),
                entry: path.to_string_lossy().into_owned(),
            });
        }
    }
    let staging = staging_for(target)?;
    let result = (|| {
        // `unpack_in` resolves paths against an existing folder.
        std::fs::create_dir_all(&staging).map_err(|source| ExtractError::Io {
            path: staging.clone(),
            source,
        })?;
        let mut files = 0;
        for entry in open()?.entries().map_err(|e| bad(e.to_string()))? {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            if entry.header().entry_type().is_file() {
                files += 1;
            }
            entry.unpack_in(&staging).map_err(|e| bad(e.to_string()))?;
        }
        Ok(files)
    })();
    match result {
        Ok(files) => {
            std::fs::rename(&staging, target).map_err(|source| ExtractError::Io {
                path: target.to_path_buf(),
                source,
            })?;
            Ok(files)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

/// Unpacks `archive` so that its entries end up under `target` (which must
/// not exist yet); returns the number of files written.
pub fn extract_zip(archive: &Path, target: &Path) -> Result<usize, ExtractError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExtractError::Io { path, source }
    };
    let bad = |reason: String| ExtractError::Archive {
        path: archive.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(archive).map_err(io(archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    // Every name is checked before anything is written.
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        if entry.enclosed_name().is_none() {
            return Err(ExtractError::Escapes {
                path: archive.to_path_buf(),
                entry: entry.name().to_string(),
            });
        }
    }
    let staging = staging_for(target)?;
    let result = (|| {
        let mut files = 0;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
            let Some(relative) = entry.enclosed_name().map(Path::to_path_buf) else {
                continue; // checked above
            };
            let out = staging.join(relative);
            if entry.is_dir() {
                std::fs::create_dir_all(&out).map_err(io(&out))?;
                continue;
            }
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            let mut writer = std::fs::File::create(&out).map_err(io(&out))?;
            std::io::copy(&mut entry, &mut writer)
                .map_err(|e| bad(format!("{}: {e}", entry.name())))?;
            files += 1;
        }
        Ok(files)
    })();
    match result {
        Ok(files) => {
            std::fs::rename(&staging, target).map_err(io(target))?;
            Ok(files)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}
