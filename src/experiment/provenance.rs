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

/// Settings that make git start no program of the repository's choosing:
/// the repository may be a downloaded folder, and its `.git/config` is the
/// author's. fsmonitor and hooks (`post-index-change`) are switched off, the
/// index is never rewritten (`--no-optional-locks`), submodules (whose own
/// configs would run) are not entered, and no pager or editor is asked for.
const NEUTRAL: [&str; 8] = [
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.untrackedCache=false",
    "--no-optional-locks",
    "--no-pager",
];

fn git(dir: &Path, extra: &[String], args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(NEUTRAL)
        .args(extra)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `-c filter.NAME.clean= -c filter.NAME.process=` for every filter driver
/// any config names: `git status` would run a driver's clean command on each
/// file whose stat data changed, and an empty command means no filter.
fn neutral_filters(dir: &Path) -> Vec<String> {
    let listed = git(
        dir,
        &[],
        &[
            "config",
            "--name-only",
            "--get-regexp",
            r"^filter\..*\.(clean|process|smudge)$",
        ],
    )
    .unwrap_or_default();
    let mut names: Vec<&str> = listed
        .lines()
        .filter_map(|key| {
            key.strip_prefix("filter.")?
                .rsplit_once('.')
                .map(|(n, _)| n)
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .iter()
        .flat_map(|n| {
            ["clean", "smudge", "process"]
                .map(|var| ["-c".to_string(), format!("filter.{n}.{var}=")])
        })
        .flatten()
        .collect()
}

/// The commit and dirty flag of the repository around `file` (none outside
/// one, or without git). Nothing the repository configures is executed.
pub fn git_state(file: &Path) -> (Option<String>, Option<bool>) {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(commit) = git(dir, &[], &["rev-parse", "HEAD"]) else {
        return (None, None);
    };
    let filters = neutral_filters(dir);
    let dirty = git(
        dir,
        &filters,
        &["status", "--porcelain", "--ignore-submodules=all"],
    )
    .map(|s| !s.is_empty());
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

    /// A downloaded experiment folder whose `.git` names programs for
    /// fsmonitor, a hook and a clean filter: none of them may run.
    #[test]
    fn a_hostile_repository_runs_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("bundle");
        std::fs::create_dir(&repo).unwrap();
        let run = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        run(&["init", "-q"]);
        std::fs::write(repo.join("exp.toml"), "name = \"x\"\n").unwrap();
        std::fs::write(repo.join(".gitattributes"), "* filter=evil\n").unwrap();
        run(&["add", "."]);
        run(&["commit", "-q", "-m", "one"]);
        let marker = |what: &str| tmp.path().join(format!("ran-{what}"));
        let touch = |what: &str| format!("touch '{}'; false", marker(what).display());
        run(&["config", "core.fsmonitor", &touch("fsmonitor")]);
        run(&["config", "filter.evil.clean", &touch("clean")]);
        run(&["config", "filter.evil.process", &touch("process")]);
        let hooks = repo.join(".git/hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        let hook = hooks.join("post-index-change");
        std::fs::write(&hook, format!("#!/bin/sh\n{}\n", touch("hook"))).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A changed file makes status look at its content (where a filter runs).
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(repo.join("exp.toml"), "name = \"y\"\n").unwrap();

        let (commit, dirty) = git_state(&repo.join("exp.toml"));
        assert_eq!(commit.map(|c| c.len()), Some(40));
        assert_eq!(dirty, Some(true));
        for what in ["fsmonitor", "clean", "process", "hook"] {
            assert!(
                !marker(what).exists(),
                "git ran the repository's {what} command"
            );
        }
    }
}
