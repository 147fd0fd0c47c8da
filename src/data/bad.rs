//! The Bird Audio Detection challenge layout: a CSV `itemid,datasetid,hasbird`
//! and a folder of `<itemid>.wav`. Which `hasbird` value counts as normal is a
//! setting; rows of the test datasets (e.g. Chernobyl) form the test split,
//! the others train on their normal rows and test on the rest.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{DataError, DatasetFiles, FileFailure, Label};

/// Reads a BAD labels CSV against the clips in `root`.
pub fn list_bad(
    root: &Path,
    labels: &Path,
    normal_hasbird: u8,
    test_datasets: &[String],
) -> Result<(DatasetFiles, Vec<FileFailure>), DataError> {
    let text = std::fs::read_to_string(labels).map_err(|e| DataError::Missing {
        path: labels.to_path_buf(),
        reason: format!("cannot read labels: {e}"),
    })?;
    let mut files = DatasetFiles::default();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let row = raw.trim();
        if row.is_empty() || (line == 1 && row.starts_with("itemid")) {
            continue;
        }
        let mut bad = |reason: String| {
            problems.push(FileFailure {
                path: labels.to_path_buf(),
                reason: format!("line {line}: {reason}"),
            })
        };
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        let [item, dataset, hasbird] = fields[..] else {
            bad(format!(
                "expected `itemid,datasetid,hasbird`, got {} fields",
                fields.len()
            ));
            continue;
        };
        if item.is_empty() || item.contains(['/', '\\']) || item.starts_with('.') {
            bad(format!(
                "item id {item:?} must be a plain file name inside {}",
                root.display()
            ));
            continue;
        }
        let label = match hasbird {
            "0" | "1" if hasbird == normal_hasbird.to_string() => Label::Normal,
            "0" | "1" => Label::Anomaly,
            other => {
                bad(format!("hasbird is {other:?}; allowed: 0, 1"));
                continue;
            }
        };
        if !seen.insert(item.to_string()) {
            bad(format!("item {item} is listed twice; the first row counts"));
            continue;
        }
        let path: PathBuf = root.join(format!("{item}.wav"));
        if !path.is_file() {
            bad(format!("{item}.wav not found in {}", root.display()));
            continue;
        }
        let is_test_dataset = test_datasets
            .iter()
            .any(|d| d.eq_ignore_ascii_case(dataset));
        if label == Label::Normal && !is_test_dataset {
            files.train.push(path);
        } else {
            files.test.push((path, label));
        }
    }
    if files.train.is_empty() {
        return Err(DataError::Empty {
            what: "training files",
            detail: format!(
                "{} has no usable row with hasbird = {normal_hasbird} outside the test datasets {test_datasets:?}",
                labels.display()
            ),
        });
    }
    Ok((files, problems))
}
