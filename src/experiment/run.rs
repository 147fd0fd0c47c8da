//! Running an experiment: data once, then every model as a trial in
//! `runs/<experiment>/<trial>/`, each leaving its resolved config, events,
//! checkpoints, model and metrics.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::Experiment;
use crate::data::{self, DataError, FileFailure, Label, LoadedClip, Normalizer, WindowSet};
use crate::features::cache::FeatureCache;
use crate::features::{CpuExtractor, FeatureError};
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
        .map_err(|source| RunError::Io { path: path.to_path_buf(), source })
}

/// Prepared data: normalised windows for training, validation and held-out normal.
struct Prepared {
    normalizer: Normalizer,
    train: WindowSet,
    valid: WindowSet,
    held_out: WindowSet,
    held_out_name: &'static str,
    failures: Vec<FileFailure>,
}

fn prepare(exp: &Experiment, opts: &RunOptions, progress: &mut dyn FnMut(Progress)) -> Result<Prepared, RunError> {
    let (files, skipped) = exp.data.list()?;
    let extractor = CpuExtractor::new(&exp.features)?;
    let (mut train_idx, valid_idx) = data::split_by_file(files.train.len(), exp.data.valid_fraction, exp.seed);
    if let Some(max) = exp.data.max_files {
        train_idx.truncate(max);
    }
    let pick = |idx: &[usize]| idx.iter().map(|&i| files.train[i].clone()).collect::<Vec<_>>();
    let test_normal: Vec<PathBuf> =
        files.test.iter().filter(|(_, l)| *l == Label::Normal).map(|(p, _)| p.clone()).collect();
    let groups = [pick(&train_idx), pick(&valid_idx), test_normal];
    let total: usize = groups.iter().map(Vec::len).sum();
    progress(Progress::Stage("features"));
    let done = std::sync::atomic::AtomicUsize::new(0);
    let mut loaded: Vec<Vec<LoadedClip>> = Vec::new();
    let mut failures = skipped;
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut out = Vec::new();
            for group in &groups {
                let tick = || {
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    let _ = tx.send(n);
                };
                out.push(data::load_features(group, &extractor, opts.cache.as_ref(), &tick));
            }
            drop(tx);
            out
        });
        for n in rx {
            progress(Progress::Files(n, total));
        }
        for (clips, fails) in worker.join().expect("feature worker") {
            loaded.push(clips);
            failures.extend(fails);
        }
    });
    let mut loaded = loaded.into_iter();
    let (mut train_clips, mut valid_clips, mut test_clips) =
        (loaded.next().unwrap_or_default(), loaded.next().unwrap_or_default(), loaded.next().unwrap_or_default());
    if train_clips.is_empty() {
        return Err(DataError::Empty { what: "training files", detail: format!("all {} failed", groups[0].len()) }.into());
    }
    let coeffs = exp.features.coeffs();
    let normalizer = Normalizer::fit(exp.data.normalization, coeffs, train_clips.iter().map(|c| &c.features));
    for clip in train_clips.iter_mut().chain(valid_clips.iter_mut()).chain(test_clips.iter_mut()) {
        normalizer.apply(&mut clip.features.data);
    }
    let cut = |clips: &[LoadedClip]| WindowSet::cut(clips.iter().map(|c| &c.features), exp.data.frames, exp.data.hop);
    let (train, valid) = (cut(&train_clips), cut(&valid_clips));
    let (held_out, held_out_name) =
        if test_clips.is_empty() { (valid.clone(), "validation") } else { (cut(&test_clips), "test/normal") };
    Ok(Prepared { normalizer, train, valid, held_out, held_out_name, failures })
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
        std::fs::create_dir_all(&model_dir).map_err(|source| RunError::Io { path: model_dir.clone(), source })?;
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
        write(&model_dir.join("normalizer.json"), &serde_json::to_vec_pretty(&prepared.normalizer).expect("json"))?;

        let trial = Trial {
            name: &name,
            model,
            train: &exp.train,
            seed: exp.seed,
            dir: &dir,
            device: opts.device.clone(),
            resume: opts.resume,
        };
        let result = train::train_trial(&trial, (&prepared.train, &prepared.valid), &mut |report| {
            progress(Progress::Epoch(&name, report))
        })?;
        let (status, reason) = match &result.outcome {
            Outcome::Done { .. } => ("done", None),
            Outcome::Failed { reason, .. } => ("failed", Some(reason.clone())),
        };
        let (mse, mae, parameters) = match &result.model {
            Some(m) if status == "done" => {
                let (mse, mae, _) = train::evaluate(m, &prepared.held_out, &opts.device);
                (mse, mae, burn::module::Module::num_params(m))
            }
            _ => (f64::NAN, f64::NAN, 0),
        };
        let metrics = TrialMetrics {
            trial: name.clone(),
            kind: kind_of(model),
            status: status.to_string(),
            reason: reason.clone(),
            mse,
            rmse: mse.sqrt(),
            mae,
            held_out: prepared.held_out_name.to_string(),
            windows: prepared.held_out.len(),
            best_epoch: result.best_epoch,
            best_valid_loss: result.best_valid,
            epochs: result.epochs_done,
            parameters,
        };
        write(&dir.join("metrics.json"), &serde_json::to_vec_pretty(&metrics).expect("json"))?;
        if status == "done" {
            let events_path = dir.join("events.jsonl");
            let mut events = train::events::EventLog::open(&events_path, &name)
                .map_err(|source| RunError::Io { path: events_path.clone(), source })?;
            events
                .write(serde_json::json!({"metric": "reconstruction", "mse": mse, "rmse": mse.sqrt(), "mae": mae}))
                .and_then(|_| events.status(true, None))
                .map_err(|source| RunError::Io { path: events_path, source })?;
        }
        trials.push(metrics);
    }
    Ok(RunSummary { trials, failures: prepared.failures, dir: exp_dir })
}

fn kind_of(model: &crate::models::ModelConfig) -> String {
    serde_json::to_value(model)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default()
}
