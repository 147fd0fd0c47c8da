//! The `manifest` layout: a CSV `path,label[,split]` whose paths are inside the
//! dataset root. Bad lines (paths leaving the root, missing files, duplicate
//! rows, unknown labels or splits) are reported with their line and skipped.

use std::path::{Component, Path};

use super::rows::{Row, collect_rows};
use super::{DataError, DatasetFiles, FileFailure, Label};

/// Reads `manifest` (relative paths resolve inside `root`).
pub fn list_manifest(
    root: &Path,
    manifest: &Path,
) -> Result<(DatasetFiles, Vec<FileFailure>), DataError> {
    let parse = |fields: &[&str]| -> Result<Row, String> {
        if !(2..=3).contains(&fields.len()) {
            return Err(format!(
                "expected `path,label[,split]`, got {} fields",
                fields.len()
            ));
        }
        let relative = Path::new(fields[0]);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(format!(
                "{} leaves the dataset root; paths must be relative and inside {}",
                fields[0],
                root.display()
            ));
        }
        let label = match fields[1].to_ascii_lowercase().as_str() {
            "normal" | "0" => Label::Normal,
            "anomaly" | "anomalous" | "1" => Label::Anomaly,
            other => {
                return Err(format!(
                    "unknown label {other:?}; allowed: normal, anomaly (or 0, 1)"
                ));
            }
        };
        let train = match fields.get(2).map(|s| s.to_ascii_lowercase()).as_deref() {
            // Without a split column, normal rows train and anomalies test.
            None => label == Label::Normal,
            Some("train") => true,
            Some("test") => false,
            Some(other) => return Err(format!("unknown split {other:?}; allowed: train, test")),
        };
        Ok(Row {
            name: fields[0].to_string(),
            path: root.join(relative),
            label,
            train,
        })
    };
    collect_rows(manifest, "path,", parse, || {
        format!(
            "{} lists no usable row with split `train`",
            manifest.display()
        )
    })
}
