//! Running an experiment: data once, then every model as a trial in
//! `runs/<experiment>/<trial>/`, each leaving its resolved config, events,
//! checkpoints, model and metrics.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::prepare::prepare;
use super::score::{Scoring, score_trial};
use crate::data::{DataError, FileFailure, Layout, machine_ids};
use crate::eval::Confusion;
use crate::features::FeatureError;
use crate::features::cache::FeatureCache;
use crate::report;
use crate::train::{self, EpochReport, Outcome, TrainError, Trial};

/// How to run.
pub struct RunOptions {
    /// Parent of the experiment's run folder.
    pub runs_dir: PathBuf,
    /// Where to train.
    pub device: Device,
    /// The device in words, recorded in config.toml.
    pub device_name: String,
    /// Continue trials from their newest checkpoints.
    pub resume: bool,
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
    /// A stage begins.
    Stage(&'a str),
    /// Feature extraction: files done of total.
    Files(usize, usize),
    /// A trial finished an epoch.
    Epoch(&'a str, &'a EpochReport),
}

/// Reconstruction of held-out normal data, as the seed comparison reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialMetrics {
    /// Trial name.
    pub trial: String,
    /// Model kind.
    pub kind: String,
    /// "done" or "failed".
    pub status: String,
    /// Why it failed.
    pub reason: Option<String>,
    /// Mean squared error of normalised features.
    pub mse: f64,
    /// Its square root.
    pub rmse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// ROC AUC of clip scores, test normal vs anomaly (absent with one class).
    pub auc: Option<f64>,
    /// Partial AUC up to FPR 0.1, McClish-standardised.
    pub pauc: Option<f64>,
    /// Clip-score threshold (see `threshold_method`).
    pub threshold: Option<f64>,
    /// `percentile`, `gamma`, `max_f1` or `target_fpr`.
    pub threshold_method: String,
    /// What the threshold was fitted on, in words.
    pub threshold_fitted_on: String,
    /// How window errors became clip scores.
    pub clip_score: String,
    /// Counts at the threshold on the clips it was not fitted on.
    pub confusion: Option<Confusion>,
    /// Clips behind precision, recall, F1 and the confusion counts.
    pub decision_clips: usize,
    /// Something to know about these numbers (e.g. AUC undefined).
    pub note: Option<String>,
    /// Precision of flags at the threshold.
    pub precision: Option<f64>,
    /// Recall at the threshold.
    pub recall: Option<f64>,
    /// F1 at the threshold.
    pub f1: Option<f64>,
    /// Which data: "test/normal" or "validation".
    pub held_out: String,
    /// Windows evaluated.
    pub windows: usize,
    /// Epoch of the kept model.
    pub best_epoch: usize,
    /// Its validation loss.
    pub best_valid_loss: f64,
    /// Epochs run.
    pub epochs: usize,
    /// Trainable parameters.
    pub parameters: usize,
}

/// What `config.toml` of a trial holds: the resolved experiment and how it ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialRecord {
    /// earshot's version.
    pub earshot_version: String,
    /// The trial (model) name.
    pub trial: String,
    /// The device it trained on.
    pub device: String,
    /// What computed its features.
    #[serde(default)]
    pub features_device: String,
    /// The seed.
    pub seed: u64,
    /// Frames and coefficients per window.
    pub window: [usize; 2],
    /// The whole experiment, every default written out.
    pub experiment: Experiment,
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
    /// Writing the run folder.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
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
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Runs every model of `exp`.
pub fn run_experiment(
    exp: &Experiment,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    if exp.data.layout == Layout::Dcase && exp.data.per_machine_id {
        return run_per_machine(exp, opts, progress);
    }
    let prepared = prepare(exp, opts, progress)?;
    let exp_dir = opts.runs_dir.join(&exp.name);
    let coeffs = exp.features.coeffs();
    let mut trials = Vec::new();
    for model in &exp.model {
        let name = model.name();
        progress(Progress::Stage(&name));
        let dir = exp_dir.join(&name);
        let model_dir = dir.join("model");
        std::fs::create_dir_all(&model_dir).map_err(|source| RunError::Io {
            path: model_dir.clone(),
            source,
        })?;
        let record = TrialRecord {
            earshot_version: crate::VERSION.to_string(),
            trial: name.clone(),
            device: opts.device_name.clone(),
            features_device: prepared.features_device.clone(),
            seed: exp.seed,
            window: [exp.data.frames, coeffs],
            experiment: exp.clone(),
        };
        let record_text = toml::to_string_pretty(&record).expect("records serialise");
        write(&dir.join("config.toml"), record_text.as_bytes())?;
        write(&model_dir.join("config.toml"), record_text.as_bytes())?;
        write(
            &model_dir.join("normalizer.json"),
            &serde_json::to_vec_pretty(&prepared.normalizer).expect("json"),
        )?;

        let pruner: Option<Box<crate::train::Pruner>> = opts.pruner.clone().map(|p| {
            let name = name.clone();
            Box::new(move |epoch: usize, best: f64| p(&name, epoch, best))
                as Box<crate::train::Pruner>
        });
        let trial = Trial {
            name: &name,
            model,
            train: &exp.train,
            seed: exp.seed,
            dir: &dir,
            device: opts.device.clone(),
            resume: opts.resume,
            pruner: pruner.as_deref(),
        };
        let result =
            train::train_trial(&trial, (&prepared.train, &prepared.valid), &mut |report| {
                progress(Progress::Epoch(&name, report))
            })?;
        let mut metrics = TrialMetrics {
            trial: name.clone(),
            kind: kind_of(model),
            status: "done".into(),
            reason: None,
            mse: f64::NAN,
            rmse: f64::NAN,
            mae: f64::NAN,
            held_out: String::new(),
            windows: 0,
            auc: None,
            pauc: None,
            threshold: None,
            precision: None,
            recall: None,
            f1: None,
            confusion: None,
            decision_clips: 0,
            threshold_method: String::new(),
            threshold_fitted_on: String::new(),
            clip_score: String::new(),
            note: None,
            best_epoch: result.best_epoch,
            best_valid_loss: result.best_valid,
            epochs: result.epochs_done,
            parameters: 0,
        };
        match (&result.outcome, &result.model) {
            // A trial stopped by a sweep's rule still has its best model: score it too.
            (Outcome::Done { .. } | Outcome::Stopped { .. }, Some(m)) => {
                if let Outcome::Stopped { reason, .. } = &result.outcome {
                    metrics.status = "stopped".into();
                    metrics.reason = Some(reason.clone());
                }
                metrics.parameters = burn::module::Module::num_params(m);
                let scoring = Scoring {
                    eval: &exp.eval,
                    kl_weight: model.score_kl_weight(),
                    seed: exp.seed,
                    title: format!("{}/{name}", exp.name),
                };
                score_trial(m, &prepared, &opts.device, &mut metrics, &dir, &scoring)?;
            }
            (Outcome::Stopped { reason, .. }, None) => {
                metrics.status = "stopped".into();
                metrics.reason = Some(reason.clone());
            }
            (Outcome::Failed { reason, .. }, _) => {
                metrics.status = "failed".into();
                metrics.reason = Some(reason.clone());
            }
            (Outcome::Done { .. }, None) => {
                metrics.status = "failed".into();
                metrics.reason = Some("no model was saved".into());
            }
        }
        write(
            &dir.join("metrics.json"),
            &serde_json::to_vec_pretty(&metrics).expect("json"),
        )?;
        if metrics.status != "failed" {
            let events_path = dir.join("events.jsonl");
            let mut events =
                train::events::EventLog::open(&events_path, &name).map_err(|source| {
                    RunError::Io {
                        path: events_path.clone(),
                        source,
                    }
                })?;
            events
                .write(serde_json::json!({"metric": "test", "mse": metrics.mse, "rmse": metrics.rmse, "mae": metrics.mae,
                    "auc": metrics.auc, "pauc": metrics.pauc, "threshold": metrics.threshold}))
                .and_then(|_| events.status_named(&metrics.status, metrics.reason.as_deref()))
                .map_err(|source| RunError::Io { path: events_path, source })?;
        }
        trials.push(metrics);
    }
    Ok(RunSummary {
        trials,
        failures: prepared.failures,
        dir: exp_dir,
    })
}

/// One trial per (model, machine id), each on that id's files: `<model>_id_XX`.
fn run_per_machine(
    exp: &Experiment,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    let ids: Vec<String> = machine_ids(&exp.data.root)
        .into_iter()
        .filter(|id| exp.data.machine_ids.is_empty() || exp.data.machine_ids.contains(id))
        .collect();
    if ids.is_empty() {
        return Err(DataError::Empty {
            what: "machine ids",
            detail: format!("no normal_id_XX_*.wav in {}/train", exp.data.root.display()),
        }
        .into());
    }
    let mut summary = RunSummary {
        trials: Vec::new(),
        failures: Vec::new(),
        dir: opts.runs_dir.join(&exp.name),
    };
    for id in ids {
        let mut one = exp.clone();
        one.data.per_machine_id = false;
        one.data.machine_ids = vec![id.clone()];
        for model in &mut one.model {
            model.set_name(format!("{}_{id}", model.name()));
        }
        let part = run_experiment(&one, opts, progress)?;
        summary.trials.extend(part.trials);
        summary.failures.extend(part.failures);
    }
    Ok(summary)
}

fn kind_of(model: &crate::models::ModelConfig) -> String {
    serde_json::to_value(model)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default()
}
