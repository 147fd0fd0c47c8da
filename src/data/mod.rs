//! Datasets: which files are normal training data and which are tests, their
//! features (through the cache), the split, normalisation and windows.

mod bad;
mod dcase;
mod device_rows;
mod folders;
pub mod inspect;
mod load;
mod manifest;
mod normalize;
mod rows;
pub mod synth;
mod windows;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use bad::list_bad;
pub use dcase::{
    DCASE_TEST_FOLDERS, DcaseName, Domain, list_dcase, machine_ids, parse_dcase, parse_dcase_name,
};
pub use device_rows::{RESIDENT_LIMIT_BYTES, device_rows};
pub use folders::{DatasetFiles, Label, list_folders};
pub use load::{FileFailure, LoadedClip, load_features};
pub use manifest::list_manifest;
pub use normalize::{Normalization, Normalizer};
pub use windows::{WindowSet, split_by_file};

/// How a dataset is laid out on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `root/train/normal`, `root/test/normal`, `root/test/anomaly` (files at any depth).
    Folders,
    /// A CSV `path,label[,split]` (`manifest = "..."`), paths inside `root`.
    Manifest,
    /// Bird Audio Detection: `labels = "..."` CSV `itemid,datasetid,hasbird`, clips `root/<itemid>.wav`.
    Bad,
    /// DCASE task 2: `root/train/normal_id_XX_*.wav`, `root/test/{normal,anomaly}_id_XX_*.wav`.
    Dcase,
}

/// Where the audio is and how its features are cut into windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The layout of `root`.
    pub layout: Layout,
    /// The dataset folder, relative to the current directory unless absolute.
    pub root: PathBuf,
    /// The CSV of the `manifest` layout (relative to the current directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<PathBuf>,
    /// The labels CSV of the `bad` layout (relative to the current directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<PathBuf>,
    /// `bad` layout: the `hasbird` value that counts as normal (0: birds are the anomaly).
    #[serde(default)]
    pub normal_hasbird: u8,
    /// `bad` layout: datasets whose rows form the test split (e.g. `["chernobyl"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_datasets: Vec<String>,
    /// `dcase` layout: machine ids to use (e.g. `["id_00"]`); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machine_ids: Vec<String>,
    /// `dcase` layout: train one model per machine id (trials `<model>_id_XX`).
    #[serde(default)]
    pub per_machine_id: bool,
    /// Feature frames per window (the models' time axis).
    #[serde(default = "default_frames")]
    pub frames: usize,
    /// Frames between window starts.
    #[serde(default = "default_hop")]
    pub hop: usize,
    /// Feature normalisation, fitted on training files only.
    #[serde(default)]
    pub normalization: Normalization,
    /// Share of training files held out for validation (split by file).
    #[serde(default = "default_valid_fraction")]
    pub valid_fraction: f64,
    /// Use at most this many training files (after a seeded shuffle); all when absent.
    #[serde(default)]
    pub max_files: Option<usize>,
    /// Seconds of audio decoded per file at most; a longer file is skipped with its reason.
    #[serde(default = "default_max_duration")]
    pub max_duration: f64,
    /// The DCASE challenge year whose metrics apply to 2021-on names (2021-2025).
    #[serde(
        default = "default_dcase_year",
        skip_serializing_if = "is_default_dcase_year"
    )]
    pub dcase_year: u16,
}

fn default_dcase_year() -> u16 {
    2023
}

fn is_default_dcase_year(year: &u16) -> bool {
    *year == default_dcase_year()
}

fn default_max_duration() -> f64 {
    crate::audio::DEFAULT_MAX_DURATION_S
}

fn default_frames() -> usize {
    32
}
fn default_hop() -> usize {
    8
}
fn default_valid_fraction() -> f64 {
    0.1
}

impl DataConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.frames == 0 || self.hop == 0 {
            return Err("frames and hop must be >= 1".into());
        }
        if (self.layout == Layout::Manifest) != self.manifest.is_some() {
            return Err(
                "`manifest = \"file.csv\"` is needed with layout = \"manifest\", and only then"
                    .into(),
            );
        }
        if (self.layout == Layout::Bad) != self.labels.is_some() {
            return Err(
                "`labels = \"labels.csv\"` is needed with layout = \"bad\", and only then".into(),
            );
        }
        if self.layout != Layout::Dcase && (self.per_machine_id || !self.machine_ids.is_empty()) {
            return Err("machine_ids and per_machine_id belong to layout = \"dcase\"".into());
        }
        if !(2021..=2025).contains(&self.dcase_year) {
            return Err(format!(
                "dcase_year is {}, must be 2021-2025 (the years with sections and domains)",
                self.dcase_year
            ));
        }
        if self.normal_hasbird > 1 {
            return Err(format!(
                "normal_hasbird is {}, must be 0 or 1",
                self.normal_hasbird
            ));
        }
        if !(self.max_duration.is_finite() && self.max_duration > 0.0) {
            return Err(format!(
                "max_duration is {}, must be a positive number of seconds (default 86400 = 24 h)",
                self.max_duration
            ));
        }
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(format!(
                "valid_fraction is {}, must be in [0, 1)",
                self.valid_fraction
            ));
        }
        Ok(())
    }
}

impl DataConfig {
    /// The dataset's files by role, and the rows or files that were skipped.
    pub fn list(&self) -> Result<(DatasetFiles, Vec<FileFailure>), DataError> {
        match (self.layout, &self.manifest, &self.labels) {
            (Layout::Manifest, Some(csv), _) => list_manifest(&self.root, csv),
            (Layout::Bad, _, Some(csv)) => {
                list_bad(&self.root, csv, self.normal_hasbird, &self.test_datasets)
            }
            (Layout::Dcase, _, _) => list_dcase(&self.root, &self.machine_ids),
            _ => Ok((list_folders(&self.root)?, Vec::new())),
        }
    }
}

/// Why a dataset could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The root or a required folder is missing.
    #[error("{path}: {reason}")]
    Missing {
        /// The folder.
        path: PathBuf,
        /// What was expected there.
        reason: String,
    },
    /// Nothing usable is left.
    #[error("no usable {what}: {detail}")]
    Empty {
        /// Which part of the data.
        what: &'static str,
        /// Why (e.g. every file failed).
        detail: String,
    },
}
