//! Running an experiment: data once, then every model as a trial in
//! `runs/<experiment>/<trial>/`, each leaving its resolved config, events,
//! checkpoints, model and metrics.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::Experiment;
use super::claim::{self, Claim, ClaimError};
use super::prepare::prepare;
use super::score::{Scoring, score_trial};
use super::trial_dir::{self, Readied, Reuse, TrialDirError};
use crate::data::{DataError, FileFailure, Layout, machine_ids};
use crate::features::FeatureError;
use crate::features::cache::FeatureCache;
pub use crate::records::TrialMetrics;
use crate::records::{Event, TestFigures, TrialStatus};
use crate::report;
use crate::tensorboard::BoardWriter;
use crate::train::{self, EpochReport, Outcome, TrainError, Trial};

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
    crate::fsx::write_atomic(path, bytes).map_err(|source| RunError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// A trial folder made ready for this run and claimed by this process; the
/// claim is released when this is dropped.
pub(super) struct ClaimedTrial {
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) run_id: String,
    claim: Claim,
}

/// The run id a trial folder's `config.toml` records, if any.
fn recorded_run_id(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.toml")).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    value.get("run_id")?.as_str().map(str::to_string)
}

/// Claims every trial folder of `exp` and readies it under `opts.reuse`
/// before any work starts, so a refusal costs nothing and two processes
/// never write one folder.
fn claim_trials(
    exp: &Experiment,
    opts: &RunOptions,
    exp_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<ClaimedTrial>, RunError> {
    let mut claimed = Vec::new();
    let names = exp
        .model
        .iter()
        .map(|m| m.name())
        .chain(exp.ensemble.iter().map(|e| e.name.clone()));
    for name in names {
        let dir = exp_dir.join(&name);
        let lock = exp_dir.join(".claims").join(format!("{name}.lock"));
        let claim = Claim::take(&lock, opts.stale_after).map_err(|e| match e {
            ClaimError::Held(holder) => RunError::Claimed {
                path: dir.clone(),
                holder,
            },
            ClaimError::Io { path, source } => RunError::Io { path, source },
        })?;
        let Readied { run_id, moved_to } =
            trial_dir::ready(&dir, opts.reuse, recorded_run_id(&dir))?;
        if let Some(to) = &moved_to {
            progress(Progress::MovedAside(&dir, to));
        }
        claimed.push(ClaimedTrial {
            name,
            dir,
            run_id,
            claim,
        });
    }
    Ok(claimed)
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
    let exp_dir = opts.runs_dir.join(&exp.name);
    let claimed = claim_trials(exp, opts, &exp_dir, progress)?;
    let prepared = prepare(exp, opts, progress)?;
    let mut trials = Vec::new();
    // Clip scores of every scored trial, for the ensembles.
    let mut scored = Vec::new();
    for (model, claimed) in exp.model.iter().zip(&claimed) {
        progress(Progress::Trial(&claimed.name));
        write_trial_record(exp, opts, &prepared, claimed)?;
        let scoring = Scoring {
            eval: &exp.eval,
            kl_weight: model.score_kl_weight(),
            method: model.score_method(),
            data: &exp.data,
            seed: exp.seed,
            title: format!("{}/{}", exp.name, claimed.name),
        };
        if let Some(reference) = model.reference() {
            let metrics = TrialMetrics::fresh(&claimed.name, &claimed.run_id, model);
            let (metrics, clip_scores) = super::reference::fit_reference_trial(
                reference, &prepared, claimed, metrics, &scoring,
            )?;
            finish_trial(&metrics, claimed)?;
            scored.extend(clip_scores.map(|c| (claimed.name.clone(), c)));
            trials.push(metrics);
            continue;
        }
        let result = train_one(exp, opts, &prepared, model, claimed, progress)?;
        let mut metrics =
            TrialMetrics::from_training(&claimed.name, &claimed.run_id, model, &result);
        if let (Some(m), TrialStatus::Done | TrialStatus::Stopped) = (&result.model, metrics.status)
        {
            // A trial stopped by a sweep's rule still has its best model: score it too.
            metrics.parameters = burn::module::Module::num_params(m);
            let clip_scores = score_trial(
                m,
                &prepared,
                &opts.device,
                &mut metrics,
                &claimed.dir,
                &scoring,
            )?;
            scored.extend(clip_scores.map(|c| (claimed.name.clone(), c)));
        }
        finish_trial(&metrics, claimed)?;
        trials.push(metrics);
    }
    for (ensemble, claimed) in exp.ensemble.iter().zip(&claimed[exp.model.len()..]) {
        progress(Progress::Trial(&claimed.name));
        write_trial_record(exp, opts, &prepared, claimed)?;
        let scoring = Scoring {
            eval: &exp.eval,
            kl_weight: 0.0,
            method: crate::models::ae_score::ScoreMethod::Windows,
            data: &exp.data,
            seed: exp.seed,
            title: format!("{}/{}", exp.name, claimed.name),
        };
        let metrics = TrialMetrics::fresh_ensemble(&claimed.name, &claimed.run_id);
        let metrics = super::ensemble::score_ensemble(
            ensemble, &scored, &prepared, claimed, metrics, &scoring,
        )?;
        finish_trial(&metrics, claimed)?;
        trials.push(metrics);
    }
    Ok(RunSummary {
        trials,
        failures: prepared.failures,
        dir: exp_dir,
    })
}

/// The resolved experiment, seed, device and run id, in the trial folder and
/// beside its model (so `detect` needs nothing else), with the normaliser.
fn write_trial_record(
    exp: &Experiment,
    opts: &RunOptions,
    prepared: &super::prepare::Prepared,
    claimed: &ClaimedTrial,
) -> Result<(), RunError> {
    let model_dir = claimed.dir.join("model");
    std::fs::create_dir_all(&model_dir).map_err(|source| RunError::Io {
        path: model_dir.clone(),
        source,
    })?;
    let record = TrialRecord {
        earshot_version: crate::VERSION.to_string(),
        trial: claimed.name.clone(),
        run_id: Some(claimed.run_id.clone()),
        device: opts.device_name.clone(),
        features_device: prepared.features_device.clone(),
        seed: exp.seed,
        window: [exp.data.frames, exp.features.model_coeffs()],
        provenance: prepared.provenance.clone(),
        experiment: Experiment {
            data: crate::data::DataConfig {
                root: super::overrides::portable_root(&exp.data.root),
                ..exp.data.clone()
            },
            ..exp.clone()
        },
    };
    let record_text = toml::to_string_pretty(&record).expect("records serialise");
    write(&claimed.dir.join("config.toml"), record_text.as_bytes())?;
    write(&model_dir.join("config.toml"), record_text.as_bytes())?;
    write(
        &model_dir.join("normalizer.json"),
        &serde_json::to_vec_pretty(&prepared.normalizer).expect("json"),
    )?;
    // After config.toml, which holds the hyperparameters TensorBoard shows; a
    // resumed trial goes on in its live file.
    let io = |source| RunError::Io {
        path: claimed.dir.clone(),
        source,
    };
    if exp.train.tensorboard && BoardWriter::open_live(&claimed.dir).map_err(io)?.is_none() {
        BoardWriter::start(&claimed.dir).map_err(io)?;
    }
    Ok(())
}

/// Trains one claimed trial, renewing its claim's heartbeat every epoch.
fn train_one(
    exp: &Experiment,
    opts: &RunOptions,
    prepared: &super::prepare::Prepared,
    model: &crate::models::ModelConfig,
    claimed: &ClaimedTrial,
    progress: &mut dyn FnMut(Progress),
) -> Result<train::TrialResult, RunError> {
    let name = &claimed.name;
    let pruner: Option<Box<crate::train::Pruner>> = opts.pruner.clone().map(|p| {
        let name = name.clone();
        Box::new(move |epoch: usize, best: f64| p(&name, epoch, best)) as Box<crate::train::Pruner>
    });
    let trial = Trial {
        name,
        model,
        train: &exp.train,
        seed: exp.seed,
        dir: &claimed.dir,
        device: opts.device.clone(),
        resume: opts.reuse == Reuse::Resume,
        run_id: &claimed.run_id,
        pruner: pruner.as_deref(),
    };
    let lock = claimed.claim.path();
    Ok(train::train_trial(
        &trial,
        train::TrialData {
            train: &prepared.train,
            valid: &prepared.valid,
            on_device: [
                prepared.device_rows[0].as_ref(),
                prepared.device_rows[1].as_ref(),
            ],
        },
        &mut |report| {
            claim::touch(lock);
            progress(Progress::Epoch(name, report))
        },
    )?)
}

impl TrialMetrics {
    /// A trial's record after training, before scoring fills in the detection numbers.
    fn from_training(
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
        Self::fresh_named(name, run_id, kind_of(model))
    }

    fn fresh_named(name: &str, run_id: &str, kind: String) -> Self {
        TrialMetrics::new(name, Some(run_id.to_string()), &kind)
    }
}

/// metrics.json, then the test metrics and the final status in events.jsonl.
fn finish_trial(metrics: &TrialMetrics, claimed: &ClaimedTrial) -> Result<(), RunError> {
    let path = claimed.dir.join("metrics.json");
    metrics
        .write(&path)
        .map_err(|source| RunError::Io { path, source })?;
    if metrics.status == TrialStatus::Failed {
        return Ok(()); // training already wrote the failure event
    }
    let events_path = claimed.dir.join("events.jsonl");
    let io = |source| RunError::Io {
        path: events_path.clone(),
        source,
    };
    let mut events =
        train::events::EventLog::open(&events_path, &claimed.name, &claimed.run_id).map_err(io)?;
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
        .map_err(io)
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

pub(super) fn kind_of(model: &crate::models::ModelConfig) -> String {
    serde_json::to_value(model)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
        .unwrap_or_default()
}
