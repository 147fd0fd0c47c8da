//! Finding audio files under the paths a user gives.

use std::path::{Path, PathBuf};

/// File extensions searched for inside folders (lower case).
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave", "flac", "mp3", "ogg", "oga"];

/// An audio file found under one of the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredFile {
    /// The file itself.
    pub path: PathBuf,
    /// Its path relative to the input it was found under (its name, for a file input).
    pub relative: PathBuf,
}

/// Expands files and folders (recursively, sorted) into audio files.
///
/// A file named directly is taken whatever its extension; inside folders only
/// [`AUDIO_EXTENSIONS`] count. Inputs that do not exist are returned as errors.
pub fn discover(inputs: &[PathBuf]) -> (Vec<DiscoveredFile>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for input in inputs {
        if input.is_file() {
            let relative = input
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| input.clone());
            files.push(DiscoveredFile {
                path: input.clone(),
                relative,
            });
        } else if input.is_dir() {
            for entry in walkdir::WalkDir::new(input)
                .follow_links(true)
                .sort_by_file_name()
            {
                match entry {
                    Ok(e) if e.file_type().is_file() && has_audio_extension(e.path()) => {
                        let relative = e
                            .path()
                            .strip_prefix(input)
                            .unwrap_or(e.path())
                            .to_path_buf();
                        files.push(DiscoveredFile {
                            path: e.path().to_path_buf(),
                            relative,
                        });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let path = e
                            .path()
                            .map(Path::to_path_buf)
                            .unwrap_or_else(|| input.clone());
                        missing.push((path, format!("cannot list: {e}")));
                    }
                }
            }
        } else {
            missing.push((input.clone(), "no such file or folder".to_string()));
        }
    }
    (files, missing)
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}
