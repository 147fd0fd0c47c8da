//! The run records, typed, with one reader each: `metrics.json`, `sweep.json`
//! and the lines of `events.jsonl`. Training, sweeps, `eval`, the report, the
//! leaderboard and the dashboard all go through these types. Every file
//! carries `schema_version`; files written before it existed (version 1) still
//! read: missing fields take defaults, `null` numbers read as NaN, and status
//! or method words this release does not know read as absent.

mod detection;
mod events;
mod trial_config;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

pub use detection::{ClipScore, Confusion, DcaseMetrics, SectionMetrics};
pub use events::{Event, EventRecord, Start, TestFigures};
pub use trial_config::from_trial_record;

/// The schema this release writes.
pub const SCHEMA_VERSION: u32 = 2;

fn legacy_version() -> u32 {
    1
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrialStatus {
    /// Trained (or fitted) and scored.
    #[default]
    Done,
    /// Stopped early by a sweep's rule; its best model is scored.
    Stopped,
    /// Failed; `reason` says why.
    Failed,
}

impl TrialStatus {
    /// The word in files and tables.
    pub fn word(self) -> &'static str {
        match self {
            TrialStatus::Done => "done",
            TrialStatus::Stopped => "stopped",
            TrialStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.word())
    }
}

/// How the threshold was chosen (the rule's name; its parameters live in threshold.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMethod {
    /// A percentile of validation normal clip scores.
    Percentile,
    /// A gamma fitted to training clip scores.
    Gamma,
    /// Best F1 on a labelled calibration share of the test split.
    MaxF1,
    /// A target false-positive rate on validation normal clips.
    TargetFpr,
}

/// `null` (how JSON writes NaN and infinities) or a missing number reads as NaN.
fn nan_for_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nan() -> f64 {
    f64::NAN
}

/// An enum word this release knows, else `None` (older files wrote `""` before scoring).
fn known_or_none<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// `metrics.json` of a trial: reconstruction of held-out normal data and detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialMetrics {
    /// Schema of this file.
    #[serde(default = "legacy_version")]
    pub schema_version: u32,
    /// Trial name.
    #[serde(default)]
    pub trial: String,
    /// The run these numbers come from (absent in runs written before run ids).
    #[serde(default)]
    pub run_id: Option<String>,
    /// Model kind (`dense`, …, `knn`, `gmm`, `ensemble`).
    #[serde(default)]
    pub kind: String,
    /// How the trial ended.
    #[serde(default)]
    pub status: TrialStatus,
    /// Why it failed or stopped.
    #[serde(default)]
    pub reason: Option<String>,
    /// Mean squared error of normalised features (NaN for detectors that reconstruct nothing).
    #[serde(default = "nan", deserialize_with = "nan_for_null")]
    pub mse: f64,
    /// Its square root.
    #[serde(default = "nan", deserialize_with = "nan_for_null")]
    pub rmse: f64,
    /// Mean absolute error.
    #[serde(default = "nan", deserialize_with = "nan_for_null")]
    pub mae: f64,
    /// ROC AUC of clip scores, test normal vs anomaly (absent with one class).
    #[serde(default)]
    pub auc: Option<f64>,
    /// Partial AUC up to FPR 0.1, McClish-standardised.
    #[serde(default)]
    pub pauc: Option<f64>,
    /// Clip-score threshold (see `threshold_method`).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// How the threshold was chosen.
    #[serde(default, deserialize_with = "known_or_none")]
    pub threshold_method: Option<ThresholdMethod>,
    /// What the threshold was fitted on, in words.
    #[serde(default)]
    pub threshold_fitted_on: String,
    /// How window scores became clip scores.
    #[serde(default, deserialize_with = "known_or_none")]
    pub clip_score: Option<ClipScore>,
    /// Counts at the threshold on the clips it was not fitted on.
    #[serde(default)]
    pub confusion: Option<Confusion>,
    /// Clips behind precision, recall, F1 and the confusion counts.
    #[serde(default)]
    pub decision_clips: usize,
    /// Something to know about these numbers (e.g. AUC undefined).
    #[serde(default)]
    pub note: Option<String>,
    /// Precision of flags at the threshold.
    #[serde(default)]
    pub precision: Option<f64>,
    /// Recall at the threshold.
    #[serde(default)]
    pub recall: Option<f64>,
    /// F1 at the threshold.
    #[serde(default)]
    pub f1: Option<f64>,
    /// Which data: "test/normal" or "validation".
    #[serde(default)]
    pub held_out: String,
    /// Windows (or frames, or clips) evaluated.
    #[serde(default)]
    pub windows: usize,
    /// Epoch of the kept model.
    #[serde(default)]
    pub best_epoch: usize,
    /// Its validation loss.
    #[serde(default = "nan", deserialize_with = "nan_for_null")]
    pub best_valid_loss: f64,
    /// Epochs run.
    #[serde(default)]
    pub epochs: usize,
    /// Trainable parameters.
    #[serde(default)]
    pub parameters: usize,
    /// `earshot eval`: the dataset root scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_on: Option<PathBuf>,
    /// The dataset root that `scores.csv`'s paths are relative to (relative
    /// to the data folder where it lies there). Absent in older runs, whose
    /// `scores.csv` paths are whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_root: Option<PathBuf>,
    /// `earshot eval`: files scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_files: Option<usize>,
    /// `earshot eval`: files that could not be scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_files: Option<usize>,
    /// DCASE 2021-2025 datasets: per-section and per-domain figures and the
    /// year's official score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcase: Option<DcaseMetrics>,
}

impl TrialMetrics {
    /// A record of trial `trial` with no numbers yet.
    pub fn new(trial: &str, run_id: Option<String>, kind: &str) -> Self {
        serde_json::from_value(serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "trial": trial,
            "run_id": run_id,
            "kind": kind,
        }))
        .expect("every other field has a default")
    }

    /// A failed trial's record.
    pub fn failed(trial: &str, reason: String) -> Self {
        Self {
            status: TrialStatus::Failed,
            reason: Some(reason),
            ..Self::new(trial, None, "")
        }
    }

    /// A number by its key in the file (`auc`, `pauc`, `threshold`, `f1`,
    /// `mse`, `best_valid_loss`, …), when present and finite.
    pub fn number(&self, key: &str) -> Option<f64> {
        let v = match key {
            "auc" => self.auc,
            "pauc" => self.pauc,
            "threshold" => self.threshold,
            "precision" => self.precision,
            "recall" => self.recall,
            "f1" => self.f1,
            "mse" => Some(self.mse),
            "rmse" => Some(self.rmse),
            "mae" => Some(self.mae),
            "best_valid_loss" => Some(self.best_valid_loss),
            "epochs" => Some(self.epochs as f64),
            "best_epoch" => Some(self.best_epoch as f64),
            "parameters" => Some(self.parameters as f64),
            "windows" => Some(self.windows as f64),
            "decision_clips" => Some(self.decision_clips as f64),
            _ => None,
        };
        v.filter(|v| v.is_finite())
    }

    /// Reads `path`; `None` when it is absent or not a metrics record.
    pub fn read(path: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Writes `path` atomically, at this release's schema.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let current = Self {
            schema_version: SCHEMA_VERSION,
            ..self.clone()
        };
        crate::fsx::write_atomic(path, &serde_json::to_vec_pretty(&current).expect("json"))
    }
}

/// `sweep.json`: which sweep trial a folder belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepMarker {
    /// Schema of this file.
    #[serde(default = "legacy_version")]
    pub schema_version: u32,
    /// The sweep (experiment) name.
    pub sweep: String,
    /// The sweep trial (`tNNN`).
    pub trial: String,
    /// Its index in the expansion.
    pub index: usize,
    /// Parameter values by dotted path.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// A fingerprint of the trial's resolved config (absent before schema 2).
    #[serde(default)]
    pub config_hash: Option<String>,
}

impl SweepMarker {
    /// Reads `path`; `None` when absent or not a marker.
    pub fn read(path: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Writes `path` atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::fsx::write_atomic(path, &serde_json::to_vec_pretty(self).expect("json"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_the_previous_release_still_read() {
        // A sweep's failure record of schema 1: three fields only.
        let failed: TrialMetrics =
            serde_json::from_str(r#"{"trial":"t001","status":"failed","reason":"bad lr"}"#)
                .unwrap();
        assert_eq!(failed.schema_version, 1);
        assert_eq!(failed.status, TrialStatus::Failed);
        assert!(failed.mse.is_nan());
        // An unscored record: NaN written as null, empty method words.
        let unscored: TrialMetrics = serde_json::from_str(
            r#"{"trial":"a","kind":"dense","status":"done","mse":null,"threshold_method":"","clip_score":"","best_valid_loss":0.5}"#,
        )
        .unwrap();
        assert!(unscored.threshold_method.is_none() && unscored.clip_score.is_none());
        assert_eq!(unscored.number("best_valid_loss"), Some(0.5));
        assert_eq!(unscored.number("mse"), None);
        // Round trip at the current schema.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.json");
        unscored.write(&path).unwrap();
        let back = TrialMetrics::read(&path).unwrap();
        assert_eq!(back.schema_version, SCHEMA_VERSION);
        assert_eq!(back.kind, "dense");
    }
}
