//! The Bird Audio Detection challenge layout: a CSV `itemid,datasetid,hasbird`
//! and a folder of `<itemid>.wav`. Which `hasbird` value counts as normal is a
//! setting; rows of the test datasets (e.g. Chernobyl) form the test split,
//! the others train on their normal rows and test on the rest.

use std::path::Path;

use super::rows::{Row, collect_rows};
use super::{DataError, DatasetFiles, FileFailure, Label};

/// Reads a BAD labels CSV against the clips in `root`.
pub fn list_bad(
    root: &Path,
    labels: &Path,
    normal_hasbird: u8,
    test_datasets: &[String],
) -> Result<(DatasetFiles, Vec<FileFailure>), DataError> {
    let parse = |fields: &[&str]| -> Result<Row, String> {
        let [item, dataset, hasbird] = fields[..] else {
            return Err(format!(
                "expected `itemid,datasetid,hasbird`, got {} fields",
                fields.len()
            ));
        };
        if item.is_empty() || item.contains(['/', '\\']) || item.starts_with('.') {
            return Err(format!(
                "item id {item:?} must be a plain file name inside {}",
                root.display()
            ));
        }
        let label = match hasbird {
            "0" | "1" if hasbird == normal_hasbird.to_string() => Label::Normal,
            "0" | "1" => Label::Anomaly,
            other => return Err(format!("hasbird is {other:?}; allowed: 0, 1")),
        };
        let in_test_dataset = test_datasets
            .iter()
            .any(|d| d.eq_ignore_ascii_case(dataset));
        let train = label == Label::Normal && !in_test_dataset;
        Ok(Row {
            name: format!("item {item}"),
            path: root.join(format!("{item}.wav")),
            label,
            train,
        })
    };
    collect_rows(labels, "itemid", parse, || {
        format!(
            "{} has no usable row with hasbird = {normal_hasbird} outside the test datasets {test_datasets:?}",
            labels.display()
        )
    })
}
