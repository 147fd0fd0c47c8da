//! What a dataset folder holds, as `earshot init` reports it: the layout,
//! file counts, sample rates and clip lengths, read from headers only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{DataError, Layout, list_dcase, list_folders};
use crate::audio::AudioReader;

/// A dataset at a glance.
#[derive(Debug, Clone)]
pub struct DatasetSummary {
    /// The folder.
    pub root: PathBuf,
    /// `folders` or `dcase`.
    pub layout: Layout,
    /// Training files.
    pub train: usize,
    /// Normal test files.
    pub test_normal: usize,
    /// Anomalous test files.
    pub test_anomaly: usize,
    /// Files per native sample rate (of those whose header was read).
    pub rates: BTreeMap<u32, usize>,
    /// Median clip length in seconds (of those read).
    pub median_seconds: f64,
    /// Shortest clip in seconds.
    pub min_seconds: f64,
    /// Headers that could not be read: (file, reason).
    pub unreadable: Vec<(PathBuf, String)>,
}

impl DatasetSummary {
    /// The most common native sample rate.
    pub fn common_rate(&self) -> Option<u32> {
        self.rates.iter().max_by_key(|(_, n)| **n).map(|(r, _)| *r)
    }
}

/// Files whose headers are read to measure rates and lengths (spread over the set).
const SAMPLED: usize = 200;

/// Inspects `root`: the `folders` layout (`train/normal`, `test/...`) or DCASE
/// file names under `train/` and `test/`.
pub fn inspect(root: &Path) -> Result<DatasetSummary, DataError> {
    let is_dcase = std::fs::read_dir(root.join("train")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("normal_id_"))
    });
    let (layout, files) = if root.join("train").join("normal").is_dir() {
        (Layout::Folders, list_folders(root)?)
    } else if is_dcase {
        (Layout::Dcase, list_dcase(root, &[])?.0)
    } else {
        return Err(DataError::Missing {
            path: root.to_path_buf(),
            reason: "no train/normal folder (the folders layout) and no DCASE names under train/; see datasets/README.md for the layouts".into(),
        });
    };
    let anomalies = files
        .test
        .iter()
        .filter(|(_, l)| *l == super::Label::Anomaly)
        .count();
    let all: Vec<&PathBuf> = files
        .train
        .iter()
        .chain(files.test.iter().map(|(p, _)| p))
        .collect();
    let step = (all.len() / SAMPLED).max(1);
    let mut rates = BTreeMap::new();
    let mut lengths = Vec::new();
    let mut unreadable = Vec::new();
    for path in all.iter().step_by(step) {
        match AudioReader::open(path, None) {
            Ok(reader) => {
                let info = reader.info();
                *rates.entry(info.sample_rate).or_insert(0) += 1;
                if let Some(frames) = info.frames {
                    lengths.push(frames as f64 / info.sample_rate as f64);
                }
            }
            Err(e) => unreadable.push(((*path).clone(), e.kind.to_string())),
        }
    }
    lengths.sort_by(f64::total_cmp);
    Ok(DatasetSummary {
        root: root.to_path_buf(),
        layout,
        train: files.train.len(),
        test_normal: files.test.len() - anomalies,
        test_anomaly: anomalies,
        rates,
        median_seconds: lengths.get(lengths.len() / 2).copied().unwrap_or(f64::NAN),
        min_seconds: lengths.first().copied().unwrap_or(f64::NAN),
        unreadable,
    })
}
