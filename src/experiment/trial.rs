//! The types every kind of trial shares, below the code that runs them: how a
//! run is asked for and reports, its errors, a claimed trial folder, the
//! record files every trial writes (`config.toml`, `metrics.json`, the final
//! events). Nothing here knows a trial kind.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::claim::Claim;
use super::trial_dir::{Reuse, TrialDirError};
use crate::data::{DataError, FileFailure};
use crate::features::FeatureError;
use crate::features::cache::FeatureCache;
pub use crate::records::TrialMetrics;
use crate::records::{Event, TestFigures, TrialStatus};
use crate::report;
use crate::train::{self, EpochReport, Outcome, TrainError};

/// How to run.
pub struct RunOptions {
    /// Parent of the experiment's run folder.
    pub runs_dir: PathBuf,
    /// The experiment file, for provenance (its repository's commit).
    pub experiment_file: Option<PathBuf>,
    /// Where to train.
    pub device: Device,
    /// The device in words, recorded in config.toml.
    pub device_name: String,
    /// What to do with trial folders that already hold a run.
    pub reuse: Reuse,
    /// A trial claimed by another host whose heartbeat (one per epoch) is older
    /// than this is taken over.
    pub stale_after: std::time::Duration,
    /// Feature cache (`None` = no cache).
    pub cache: Option<FeatureCache>,
    /// Compute features with the WGSL kernels on the wgpu device (training on wgpu).
    pub gpu_features: bool,
    /// Early termination (sweeps): (trial, epoch, best validation loss) to a reason to stop.
    pub pruner: Option<std::sync::Arc<TrialPruner>>,
}

/// A sweep's early-termination rule, told which trial asks.
pub type TrialPruner = dyn Fn(&str, usize, f64) -> Option<String> + Send + Sync;

/// What a run reports while it goes.
pub enum Progress<'a> {
    /// Feature extraction begins.
    Features,
    /// A trial begins.
    Trial(&'a str),
    /// Feature extraction: files done of total.
    Files(usize, usize),
    /// A trial finished an epoch.
    Epoch(&'a str, &'a EpochReport),
    /// `--overwrite` moved a trial folder's old run aside: (trial folder, new place).
    MovedAside(&'a Path, &'a Path),
}

/// What `config.toml` of a trial holds: the resolved experiment and how it ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialRecord {
    /// earshot's version.
    pub earshot_version: String,
    /// The trial (model) name.
    pub trial: String,
    /// This run's id; events, checkpoints and metrics carry it.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The device it trained on.
    pub device: String,
    /// What computed its features.
    #[serde(default)]
    pub features_device: String,
    /// The seed.
    pub seed: u64,
    /// Frames and coefficients per window.
    pub window: [usize; 2],
    /// The git commit around the experiment file and the dataset's fingerprint.
    #[serde(default)]
    pub provenance: super::provenance::Provenance,
    /// The whole experiment, every default written out.
    pub experiment: Experiment,
}

impl TrialRecord {
    /// The `model/` folder of a trial folder (`runs/<experiment>/<model>`),
    /// or `dir` itself when it is already one.
    pub fn model_dir(dir: &Path) -> PathBuf {
        if dir.join("model").is_dir() {
            dir.join("model")
        } else {
            dir.to_path_buf()
        }
    }

    /// Reads `model_dir/config.toml`; the error is (file, reason with what to do).
    pub fn read(model_dir: &Path) -> Result<Self, (PathBuf, String)> {
        let path = model_dir.join("config.toml");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            (
                path.clone(),
                format!("{e}; is this the folder of a trained trial (runs/<experiment>/<model>)?"),
            )
        })?;
        toml::from_str(&text).map_err(|e| {
            (
                path,
                format!("unreadable ({e}); it may come from another earshot version"),
            )
        })
    }
}

/// Why an experiment could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Dataset problems.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Feature settings.
    #[error(transparent)]
    Features(#[from] FeatureError),
    /// Training problems.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The report or its plots.
    #[error(transparent)]
    Report(#[from] report::ReportError),
    /// A trial folder holds another run, or could not be moved aside.
    #[error(transparent)]
    TrialDir(#[from] TrialDirError),
    /// Another process is training this trial.
    #[error(
        "{path}: another process is training this trial ({holder}); wait for it, or use another --runs-dir"
    )]
    Claimed {
        /// The trial folder.
        path: PathBuf,
        /// Host and pid of the holder.
        holder: String,
    },
    /// Writing the run folder.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl RunError {
    /// The error of an I/O failure at `path`, for `map_err` (reusable).
    pub(super) fn io(path: impl Into<PathBuf>) -> impl Fn(std::io::Error) -> Self {
        let path = path.into();
        move |source| RunError::Io {
            path: path.clone(),
            source,
        }
    }
}

/// The outcome of a run.
pub struct RunSummary {
    /// Per trial, in experiment order.
    pub trials: Vec<TrialMetrics>,
    /// Files that could not be used.
    pub failures: Vec<FileFailure>,
    /// The experiment's run folder.
    pub dir: PathBuf,
}

pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    crate::fsx::write_atomic(path, bytes).map_err(RunError::io(path.to_path_buf()))
}

/// A trial folder made ready for this run and claimed by this process; the
/// claim is released when this is dropped.
pub(super) struct ClaimedTrial {
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) run_id: String,
    pub(super) claim: Claim,
}

impl TrialMetrics {
    /// A trial's record after training, before scoring fills in the detection numbers.
    pub(super) fn from_training(
        name: &str,
        run_id: &str,
        model: &crate::models::ModelConfig,
        result: &train::TrialResult,
    ) -> Self {
        let (status, reason) = match (&result.outcome, &result.model) {
            (Outcome::Done { .. }, Some(_)) => (TrialStatus::Done, None),
            (Outcome::Stopped { reason, .. }, _) => (TrialStatus::Stopped, Some(reason.clone())),
            (Outcome::Failed { reason, .. }, _) => (TrialStatus::Failed, Some(reason.clone())),
            (Outcome::Done { .. }, None) => {
                (TrialStatus::Failed, Some("no model was saved".to_string()))
            }
        };
        TrialMetrics {
            status,
            reason,
            best_epoch: result.best_epoch,
            best_valid_loss: result.best_valid,
            epochs: result.epochs_done,
            ..Self::fresh(name, run_id, model)
        }
    }

    /// An ensemble's record before scoring.
    pub(super) fn fresh_ensemble(name: &str, run_id: &str) -> Self {
        TrialMetrics {
            kind: "ensemble".into(),
            ..Self::fresh_named(name, run_id, String::new())
        }
    }

    /// A "done" record with no numbers yet.
    pub(super) fn fresh(name: &str, run_id: &str, model: &crate::models::ModelConfig) -> Self {
        Self::fresh_named(name, run_id, model.kind().to_string())
    }

    fn fresh_named(name: &str, run_id: &str, kind: String) -> Self {
        TrialMetrics::new(name, Some(run_id.to_string()), &kind)
    }
}

/// metrics.json, then the test metrics and the final status in events.jsonl.
pub(super) fn finish_trial(metrics: &TrialMetrics, claimed: &ClaimedTrial) -> Result<(), RunError> {
    let path = claimed.dir.join("metrics.json");
    metrics.write(&path).map_err(RunError::io(path))?;
    if metrics.status == TrialStatus::Failed {
        return Ok(()); // training already wrote the failure event
    }
    let events_path = claimed.dir.join("events.jsonl");
    let io = RunError::io(events_path.clone());
    let mut events =
        train::events::EventLog::open(&events_path, &claimed.name, &claimed.run_id).map_err(&io)?;
    events
        .write(Event::Test(TestFigures {
            mse: Some(metrics.mse).filter(|v| v.is_finite()),
            rmse: Some(metrics.rmse).filter(|v| v.is_finite()),
            mae: Some(metrics.mae).filter(|v| v.is_finite()),
            auc: metrics.auc,
            pauc: metrics.pauc,
            threshold: metrics.threshold,
        }))
        .and_then(|_| events.status_of(metrics.status, metrics.reason.as_deref()))
        .map_err(&io)
}
