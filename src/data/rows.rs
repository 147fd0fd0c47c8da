//! What the CSV layouts share: rows read with their line numbers, each turned
//! into a file and its role by the layout, then checked the same way
//! (duplicates, missing files, anomalies offered as training data).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{DataError, DatasetFiles, FileFailure, Label};

/// One row as a layout understood it.
pub(super) struct Row {
    /// The name the row gave, for messages.
    pub name: String,
    /// The audio file.
    pub path: PathBuf,
    /// Its label.
    pub label: Label,
    /// Whether it is training data (else test).
    pub train: bool,
}

/// Reads `csv` (skipping blank lines, `#` comments and a first line starting
/// with `header`), turns each row into a [`Row`] with `parse` (fields trimmed),
/// and files it; every refused row becomes a problem naming its line.
pub(super) fn collect_rows(
    csv: &Path,
    header: &str,
    parse: impl Fn(&[&str]) -> Result<Row, String>,
    empty_detail: impl FnOnce() -> String,
) -> Result<(DatasetFiles, Vec<FileFailure>), DataError> {
    let text = std::fs::read_to_string(csv).map_err(|e| DataError::Missing {
        path: csv.to_path_buf(),
        reason: format!("cannot read the list: {e}"),
    })?;
    let mut files = DatasetFiles::default();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for record in crate::csvx::records(&text) {
        let record = match record {
            Ok(r) => r,
            Err(reason) => {
                problems.push(FileFailure {
                    path: csv.to_path_buf(),
                    reason,
                });
                continue;
            }
        };
        let line = record.line;
        let fields: Vec<&str> = record.fields.iter().map(|f| f.trim()).collect();
        let blank = fields.iter().all(|f| f.is_empty());
        if blank || (line == 1 && fields.join(",").starts_with(header)) {
            continue;
        }
        let checked = parse(&fields).and_then(|row| {
            if !seen.insert(row.path.clone()) {
                Err(format!(
                    "{} is listed twice; the first row counts",
                    row.name
                ))
            } else if !row.path.is_file() {
                Err(format!("{} not found ({})", row.name, row.path.display()))
            } else if row.train && row.label == Label::Anomaly {
                Err("anomalies cannot be training data (the model learns normal sound only)".into())
            } else {
                Ok(row)
            }
        });
        match checked {
            Ok(Row {
                path, train: true, ..
            }) => files.train.push(path),
            Ok(Row { path, label, .. }) => files.test.push((path, label)),
            Err(reason) => problems.push(FileFailure {
                path: csv.to_path_buf(),
                reason: format!("line {line}: {reason}"),
            }),
        }
    }
    if files.train.is_empty() {
        return Err(DataError::Empty {
            what: "training files",
            detail: empty_detail(),
        });
    }
    Ok((files, problems))
}
