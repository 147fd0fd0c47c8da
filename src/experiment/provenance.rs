//! Where a run's inputs came from, recorded in each trial's `config.toml`: the
//! git commit of the experiment file's repository (and whether it had
//! uncommitted changes), and a fingerprint of the dataset, so two runs with
//! the same config on different data never look identical.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// What `[provenance]` of a trial's `config.toml` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The commit of the repository holding the experiment file, when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Whether that repository had uncommitted changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    /// FNV-1a over the sorted (path, size, modification time) of every file used.
    #[serde(default)]
    pub dataset_fingerprint: String,
    /// Files per split: train, validation, test.
    #[serde(default)]
    pub files: [usize; 3],
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit and dirty flag of the repository around `file` (none outside one, or without git).
pub fn git_state(file: &Path) -> (Option<String>, Option<bool>) {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(commit) = git(dir, &["rev-parse", "HEAD"]) else {
        return (None, None);
    };
    let dirty = git(dir, &["status", "--porcelain"]).map(|s| !s.is_empty());
    (Some(commit), dirty)
}

/// A fingerprint of the files of each split: their sorted paths, sizes and
/// modification times, hashed.
pub fn dataset_fingerprint(splits: [&[PathBuf]; 3]) -> String {
    let mut entries: Vec<String> = splits
        .iter()
        .enumerate()
        .flat_map(|(split, files)| {
            files.iter().map(move |p| {
                let meta = std::fs::metadata(p).ok();
                let size = meta.as_ref().map_or(0, |m| m.len());
                let mtime = meta
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{split}\0{}\0{size}\0{mtime}", p.display())
            })
        })
        .collect();
    entries.sort();
    format!("{:016x}", crate::fsx::fnv1a(entries.join("\n").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_files_and_git_is_optional() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a.wav");
        std::fs::write(&a, b"one").unwrap();
        let files = vec![a.clone()];
        let first = dataset_fingerprint([&files, &[], &[]]);
        assert_eq!(first, dataset_fingerprint([&files, &[], &[]]));
        assert_ne!(
            first,
            dataset_fingerprint([&[], &files, &[]]),
            "the split counts"
        );
        std::fs::write(&a, b"longer").unwrap();
        assert_ne!(
            first,
            dataset_fingerprint([&files, &[], &[]]),
            "the size counts"
        );
        // A folder outside any repository has no commit.
        assert_eq!(git_state(&a), (None, None));
    }
}
