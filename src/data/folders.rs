//! The `folders` layout: `train/normal`, `test/normal`, `test/anomaly`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DataError;
use crate::audio::discover;

/// The ground truth of a test file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Sounds like the training data.
    Normal,
    /// Should be flagged.
    Anomaly,
}

/// The files of a dataset, by role.
#[derive(Debug, Clone, Default)]
pub struct DatasetFiles {
    /// Normal files to train (and validate) on.
    pub train: Vec<PathBuf>,
    /// Labelled test files.
    pub test: Vec<(PathBuf, Label)>,
}

/// Lists a `folders` dataset; `train/normal` must hold audio, the test folders may be absent.
pub fn list_folders(root: &Path) -> Result<DatasetFiles, DataError> {
    if !root.is_dir() {
        return Err(DataError::Missing {
            path: root.to_path_buf(),
            reason:
                "dataset root not found (a relative `root` is taken from the current directory)"
                    .into(),
        });
    }
    let train_dir = root.join("train").join("normal");
    let files = |dir: PathBuf| -> Vec<PathBuf> {
        if dir.is_dir() {
            discover(&[dir]).0.into_iter().map(|f| f.path).collect()
        } else {
            Vec::new()
        }
    };
    let train = files(train_dir.clone());
    if train.is_empty() {
        return Err(DataError::Missing {
            path: train_dir,
            reason: "no audio here; the folders layout needs train/normal (and optionally test/normal, test/anomaly)"
                .into(),
        });
    }
    let mut test: Vec<(PathBuf, Label)> = files(root.join("test").join("normal"))
        .into_iter()
        .map(|p| (p, Label::Normal))
        .collect();
    test.extend(
        files(root.join("test").join("anomaly"))
            .into_iter()
            .map(|p| (p, Label::Anomaly)),
    );
    Ok(DatasetFiles { train, test })
}
