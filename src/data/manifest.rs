//! The `manifest` layout: a CSV `path,label[,split]` whose paths are inside the
//! dataset root. Bad lines (paths leaving the root, missing files, duplicate
//! rows, unknown labels or splits) are reported with their line and skipped.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use super::{DataError, DatasetFiles, FileFailure, Label};

/// Reads `manifest` (relative paths resolve inside `root`).
pub fn list_manifest(
    root: &Path,
    manifest: &Path,
) -> Result<(DatasetFiles, Vec<FileFailure>), DataError> {
    let text = std::fs::read_to_string(manifest).map_err(|e| DataError::Missing {
        path: manifest.to_path_buf(),
        reason: format!("cannot read manifest: {e}"),
    })?;
    let mut files = DatasetFiles::default();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let row = raw.trim();
        if row.is_empty() || row.starts_with('#') || (line == 1 && row.starts_with("path,")) {
            continue;
        }
        let mut bad = |reason: String| {
            problems.push(FileFailure {
                path: manifest.to_path_buf(),
                reason: format!("line {line}: {reason}"),
            })
        };
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        if !(2..=3).contains(&fields.len()) {
            bad(format!(
                "expected `path,label[,split]`, got {} fields",
                fields.len()
            ));
            continue;
        }
        let relative = Path::new(fields[0]);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            bad(format!(
                "{} leaves the dataset root; paths must be relative and inside {}",
                fields[0],
                root.display()
            ));
            continue;
        }
        let label = match fields[1].to_ascii_lowercase().as_str() {
            "normal" | "0" => Label::Normal,
            "anomaly" | "anomalous" | "1" => Label::Anomaly,
            other => {
                bad(format!(
                    "unknown label {other:?}; allowed: normal, anomaly (or 0, 1)"
                ));
                continue;
            }
        };
        let split = fields.get(2).map(|s| s.to_ascii_lowercase());
        let is_train = match split.as_deref() {
            // Without a split column, normal rows train and anomalies test.
            None => label == Label::Normal,
            Some("train") => true,
            Some("test") => false,
            Some(other) => {
                bad(format!("unknown split {other:?}; allowed: train, test"));
                continue;
            }
        };
        let path: PathBuf = root.join(relative);
        if !seen.insert(path.clone()) {
            bad(format!(
                "{} is listed twice; the first row counts",
                fields[0]
            ));
            continue;
        }
        if !path.is_file() {
            bad(format!("{} not found under {}", fields[0], root.display()));
            continue;
        }
        if is_train && label == Label::Anomaly {
            bad("anomalies cannot be training data (the model learns normal sound only)".into());
            continue;
        }
        if is_train {
            files.train.push(path);
        } else {
            files.test.push((path, label));
        }
    }
    if files.train.is_empty() {
        return Err(DataError::Empty {
            what: "training files",
            detail: format!(
                "{} lists no usable row with split `train`",
                manifest.display()
            ),
        });
    }
    Ok((files, problems))
}
