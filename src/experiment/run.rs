//! Running an experiment: data once, then every model as a trial in
//! `runs/<experiment>/<trial>/`, each leaving its resolved config, events,
//! checkpoints, model and metrics.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::prepare::{Prepared, prepare};
use crate::data::{DataError, FileFailure, Label};
use crate::eval::{ClipScore, Confusion, Threshold, clip_scores, partial_auc, percentile, roc_auc};
use crate::features::FeatureError;
use crate::features::cache::FeatureCache;
use crate::models::Autoencoder;
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
}

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
    /// Clip-score threshold: 95th percentile of validation normal clips.
    pub threshold: Option<f64>,
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| RunError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Percentile of validation normal clip scores used as the default threshold.
const THRESHOLD_PERCENTILE: f64 = 95.0;

/// Reconstruction of held-out normal windows and, with anomalies, detection metrics.
fn score_trial(
    model: &Autoencoder,
    prepared: &Prepared,
    device: &Device,
    metrics: &mut TrialMetrics,
    dir: &Path,
    kl_weight: f64,
) -> Result<(), RunError> {
    let valid_errors = train::evaluate(model, &prepared.valid, device);
    let test_errors = train::evaluate(model, &prepared.test, device);
    let normal_window = |w: &usize| prepared.test_clips[prepared.test.clip[*w]].1 == Label::Normal;
    let held: Vec<usize> = (0..prepared.test.len()).filter(normal_window).collect();
    let (sq, ab, name): (Vec<f32>, Vec<f32>, &str) = if held.is_empty() {
        (
            valid_errors.squared.clone(),
            valid_errors.absolute.clone(),
            "validation",
        )
    } else {
        let pick = |v: &[f32]| held.iter().map(|&w| v[w]).collect::<Vec<f32>>();
        (
            pick(&test_errors.squared),
            pick(&test_errors.absolute),
            "test/normal",
        )
    };
    metrics.mse = train::mean(&sq);
    metrics.rmse = metrics.mse.sqrt();
    metrics.mae = train::mean(&ab);
    metrics.windows = sq.len();
    metrics.held_out = name.to_string();

    let valid_scores: Vec<f64> = clip_scores(
        &valid_errors.scores(kl_weight),
        &prepared.valid.clip,
        prepared.valid_clips,
        ClipScore::Mean,
    )
    .into_iter()
    .flatten()
    .collect();
    let test_scores = clip_scores(
        &test_errors.scores(kl_weight),
        &prepared.test.clip,
        prepared.test_clips.len(),
        ClipScore::Mean,
    );
    metrics.threshold = percentile(&valid_scores, THRESHOLD_PERCENTILE);
    if let Some(value) = metrics.threshold {
        let rule = Threshold {
            value,
            clip_score: ClipScore::Mean,
            percentile: THRESHOLD_PERCENTILE,
        };
        write(
            &dir.join("model").join("threshold.json"),
            &serde_json::to_vec_pretty(&rule).expect("json"),
        )?;
    }
    let mut scored = Vec::new();
    let mut csv = String::from("file,score,label,flag\n");
    for ((path, label), score) in prepared.test_clips.iter().zip(&test_scores) {
        let Some(score) = score else { continue };
        let flag = metrics.threshold.is_some_and(|t| *score > t);
        let label_text = if *label == Label::Anomaly {
            "anomaly"
        } else {
            "normal"
        };
        csv.push_str(&format!(
            "{},{score:.6},{label_text},{}\n",
            path.display(),
            u8::from(flag)
        ));
        scored.push((*score, *label == Label::Anomaly));
    }
    if !scored.is_empty() {
        write(&dir.join("scores.csv"), csv.as_bytes())?;
    }
    let (scores, anomalous): (Vec<f64>, Vec<bool>) = scored.into_iter().unzip();
    metrics.auc = roc_auc(&scores, &anomalous);
    metrics.pauc = partial_auc(&scores, &anomalous, 0.1);
    if let (Some(t), Some(_)) = (metrics.threshold, metrics.auc) {
        let c = Confusion::at(&scores, &anomalous, t);
        metrics.precision = Some(c.precision());
        metrics.recall = Some(c.recall());
        metrics.f1 = Some(c.f1());
    }
    Ok(())
}

/// Runs every model of `exp`.
pub fn run_experiment(
    exp: &Experiment,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
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

        let trial = Trial {
            name: &name,
            model,
            train: &exp.train,
            seed: exp.seed,
            dir: &dir,
            device: opts.device.clone(),
            resume: opts.resume,
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
            best_epoch: result.best_epoch,
            best_valid_loss: result.best_valid,
            epochs: result.epochs_done,
            parameters: 0,
        };
        match (&result.outcome, &result.model) {
            (Outcome::Done { .. }, Some(m)) => {
                metrics.parameters = burn::module::Module::num_params(m);
                score_trial(
                    m,
                    &prepared,
                    &opts.device,
                    &mut metrics,
                    &dir,
                    model.score_kl_weight(),
                )?;
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
        if metrics.status == "done" {
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
                .and_then(|_| events.status(true, None))
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

fn kind_of(model: &crate::models::ModelConfig) -> String {
    serde_json::to_value(model)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default()
}
