//! One trial: a model trained on windows, with checkpoints and events.

use std::path::Path;

use burn::module::Module;
use burn::optim::OptimizerRecord;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use super::TrainError;
use super::batches::{Batches, TrialData};
use super::checkpoint::{self, Checkpoint, LoopState};
use super::config::Trial;
use super::epoch::{micro_batches_per_step, train_epoch};
use super::evaluate::{evaluate_batches, mean};
use super::events::EventLog;
use super::optimizer::TrainOptimizer;
use crate::data::WindowSet;
use crate::models::{Autoencoder, ModelConfig};
use crate::records::{Event, Start};

/// One epoch's numbers, for progress output.
#[derive(Debug, Clone, Copy)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Of at most.
    pub epochs: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation reconstruction MSE.
    pub valid_loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Whether it is the best so far.
    pub improved: bool,
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Ran all epochs or stopped early.
    Done {
        /// Whether early stopping ended it.
        stopped_early: bool,
    },
    /// An early-termination rule (a sweep's) stopped it.
    Stopped {
        /// 1-based epoch it stopped after.
        epoch: usize,
        /// For people.
        reason: String,
    },
    /// The loss diverged.
    Failed {
        /// 1-based epoch of the divergence.
        epoch: usize,
        /// For people.
        reason: String,
    },
}

/// A finished trial.
pub struct TrialResult {
    /// How it ended.
    pub outcome: Outcome,
    /// The best model (by validation loss), for inference.
    pub model: Option<Autoencoder>,
    /// Its validation loss.
    pub best_valid: f64,
    /// Its epoch.
    pub best_epoch: usize,
    /// Epochs completed.
    pub epochs_done: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn record_err(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Record {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Trains one trial to the end (or to divergence), writing its run directory.
/// A run stopped by a file error (a full disk, a folder gone read-only)
/// still ends with a `failed` event where one can be written, so it never
/// looks as if it were running.
pub fn train_trial<'a>(
    trial: &Trial,
    data: impl Into<TrialData<'a>>,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<TrialResult, TrainError> {
    let result = train_trial_inner(trial, data.into(), on_epoch);
    if let Err(e @ TrainError::Io { .. }) = &result {
        let path = trial.dir.join("events.jsonl");
        if path.is_file()
            && let Ok(mut events) = EventLog::open(&path, trial.name, trial.run_id)
        {
            // Best effort: the disk may still be full.
            let _ = events.status(false, Some(&format!("stopped by an error: {e}")));
        }
    }
    result
}

fn train_trial_inner(
    trial: &Trial,
    data: TrialData<'_>,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<TrialResult, TrainError> {
    let (train, valid) = (data.train, data.valid);
    if train.is_empty() {
        return Err(TrainError::NoData(format!(
            "trial {} got 0 windows",
            trial.name
        )));
    }
    let dir = trial.dir;
    let checkpoints = dir.join("checkpoints");
    let model_dir = dir.join("model");
    std::fs::create_dir_all(&model_dir).map_err(io(&model_dir))?;
    let events_path = dir.join("events.jsonl");
    let mut events =
        EventLog::open(&events_path, trial.name, trial.run_id).map_err(io(&events_path))?;

    // An impossible size fails the trial here, before the allocator aborts the process.
    if let Err(reason) = fits_in_memory(trial, train) {
        return Ok(TrialResult {
            outcome: failed(&mut events, &events_path, 0, reason)?,
            model: None,
            best_valid: f64::NAN,
            best_epoch: 0,
            epochs_done: 0,
        });
    }
    let autodiff = trial.device.clone().autodiff();
    trial.device.seed(trial.seed);
    let mut model = trial
        .model
        .init(train.frames, train.coeffs, &autodiff)
        .ok_or_else(|| TrainError::NotTrainable(trial.name.to_string()))?;
    let mut optim = TrainOptimizer::for_config(trial.train, &trial.device);
    let mut state = LoopState {
        epochs_done: 0,
        best_valid: f64::INFINITY,
        best_epoch: 0,
        last_train: f64::NAN,
        run_id: Some(trial.run_id.to_string()),
    };
    // On a GPU both sets' frames live there (built there, or uploaded once);
    // each batch is cut and gathered there.
    let (train_batches, valid_batches) = data.batches(&trial.device);
    let found = if trial.resume {
        checkpoint::latest(&checkpoints, Some(trial.run_id)).map_err(io(&checkpoints))?
    } else {
        checkpoint::Resumable::default()
    };
    let first_event = match resumable(found, trial.name, &checkpoints)? {
        Some((ckpt, damaged)) => {
            (model, optim, state) = restore(model, optim, ckpt, trial.run_id, &checkpoints)?;
            Event::Resume {
                epoch: state.epochs_done,
                damaged_checkpoints: damaged,
            }
        }
        None => Event::Start(start_of(trial, data, &train_batches, &valid_batches)),
    };
    events.write(first_event).map_err(io(&events_path))?;

    let cfg = trial.train;
    let mut since_best = state.epochs_done.saturating_sub(state.best_epoch);
    let mut outcome = Outcome::Done {
        stopped_early: false,
    };
    for epoch in state.epochs_done..cfg.epochs {
        if cfg.patience.is_some_and(|p| since_best >= p) && state.best_epoch > 0 {
            outcome = Outcome::Done {
                stopped_early: true,
            };
            break;
        }
        let lr = cfg.learning_rate_at(epoch);
        let epoch_number = epoch + 1;
        let (trained, train_loss) = match train_epoch(
            model,
            &mut optim,
            &train_batches,
            trial,
            epoch,
        ) {
            Ok(done) => done,
            Err(device) => {
                // A lost or failed device: this trial stops here, its last
                // checkpoint (written whole after the previous epoch) stays.
                let reason = format!(
                    "the device failed in epoch {epoch_number} ({device}); the checkpoint of epoch {} is kept",
                    state.epochs_done
                );
                outcome = failed(&mut events, &events_path, epoch_number, reason)?;
                break;
            }
        };
        model = trained;
        let valid_loss = if valid.is_empty() {
            train_loss
        } else {
            mean(&evaluate_batches(&model.valid(), &valid_batches).squared)
        };
        events
            .loss(epoch_number, "train", train_loss, lr)
            .map_err(io(&events_path))?;
        if train_loss.is_finite() {
            events
                .loss(epoch_number, "valid", valid_loss, lr)
                .map_err(io(&events_path))?;
        }
        if !train_loss.is_finite() || !valid_loss.is_finite() {
            let reason = format!(
                "loss became {} in epoch {epoch_number}",
                if train_loss.is_nan() {
                    "NaN"
                } else {
                    "infinite"
                }
            );
            outcome = failed(&mut events, &events_path, epoch_number, reason)?;
            break;
        }
        let improved = valid_loss < state.best_valid;
        if improved {
            state.best_valid = valid_loss;
            state.best_epoch = epoch_number;
            since_best = 0;
            save_best(&model, &model_dir)?;
        } else {
            since_best += 1;
        }
        state.epochs_done = epoch_number;
        state.last_train = train_loss;
        let ckpt = checkpoint_of(&model, &optim, &state, &checkpoints)?;
        checkpoint::save(&checkpoints, &ckpt).map_err(io(&checkpoints))?;
        on_epoch(&EpochReport {
            epoch: epoch_number,
            epochs: cfg.epochs,
            train_loss,
            valid_loss,
            lr,
            improved,
        });
        if let Some(reason) = trial.pruner.and_then(|p| p(epoch_number, state.best_valid)) {
            events
                .write(Event::Stopped {
                    epoch: epoch_number,
                    reason: reason.clone(),
                })
                .map_err(io(&events_path))?;
            outcome = Outcome::Stopped {
                epoch: epoch_number,
                reason,
            };
            break;
        }
    }
    if let Outcome::Done { stopped_early } = outcome {
        events
            .write(Event::Best {
                epoch: state.best_epoch,
                valid_loss: state.best_valid,
                stopped_early,
            })
            .map_err(io(&events_path))?;
    }
    let best = load_model(
        trial.model,
        train.frames,
        train.coeffs,
        &model_dir.join("model.bin"),
        &trial.device,
    )
    .ok();
    Ok(TrialResult {
        outcome,
        model: best,
        best_valid: state.best_valid,
        best_epoch: state.best_epoch,
        epochs_done: state.epochs_done,
    })
}

/// The checkpoint to resume from and the epochs of the damaged ones it
/// skipped; `None` to start afresh; an error when every checkpoint of the run
/// is damaged.
fn resumable(
    found: checkpoint::Resumable,
    name: &str,
    checkpoints: &Path,
) -> Result<Option<(Checkpoint, Vec<usize>)>, TrainError> {
    let Some(ckpt) = found.checkpoint else {
        let Some((epoch, _)) = found.damaged.last() else {
            return Ok(None);
        };
        let list: Vec<String> = found
            .damaged
            .iter()
            .map(|(e, why)| format!("epoch {e}: {why}"))
            .collect();
        return Err(TrainError::Record {
            path: checkpoints.join(format!("epoch-{epoch:05}")),
            reason: format!(
                "no intact checkpoint to resume from ({}); start the trial over with --overwrite",
                list.join("; ")
            ),
        });
    };
    for (epoch, why) in &found.damaged {
        eprintln!(
            "warning: {name}: the checkpoint of epoch {epoch} is damaged ({why}); resuming from epoch {} instead",
            ckpt.state.epochs_done
        );
    }
    Ok(Some((ckpt, found.damaged.iter().map(|d| d.0).collect())))
}

/// What a fresh run starts on: its windows and what stays on the device.
fn start_of(trial: &Trial, data: TrialData<'_>, train: &Batches, valid: &Batches) -> Start {
    Start {
        schema_version: Some(crate::records::SCHEMA_VERSION),
        train_windows: Some(data.train.len()),
        valid_windows: Some(data.valid.len()),
        windows_on_device: Some(train.is_resident()),
        resident_bytes: Some(train.resident_bytes() + valid.resident_bytes()),
        resident_upload_bytes: Some(train.resident_upload_bytes() + valid.resident_upload_bytes()),
        upload_bytes_per_epoch: Some(train.upload_bytes_per_pass() + valid.upload_bytes_per_pass()),
        micro_batches_per_step: Some(micro_batches_per_step(trial.train, data.train)),
        ..Start::default()
    }
}

/// Ends a trial as failed in `epoch`: the status line in its events, and the outcome.
fn failed(
    events: &mut EventLog,
    events_path: &Path,
    epoch: usize,
    reason: String,
) -> Result<Outcome, TrainError> {
    events
        .status(false, Some(&reason))
        .map_err(io(events_path))?;
    Ok(Outcome::Failed { epoch, reason })
}

/// Refuses a model whose training state would not fit in this machine's memory.
fn fits_in_memory(trial: &Trial, train: &WindowSet) -> Result<(), String> {
    match crate::models::size::physical_memory() {
        Some(memory) => trial.model.check_fits(train.frames, train.coeffs, memory),
        None => Ok(()),
    }
}

/// The best model so far, for inference, as `model/model.bin`.
fn save_best(model: &Autoencoder, model_dir: &Path) -> Result<(), TrainError> {
    let bytes = model
        .clone()
        .valid()
        .into_record()
        .into_bytes()
        .map_err(|e| record_err(model_dir, e))?;
    write_atomically(&model_dir.join("model.bin"), &bytes)
}

/// Model, optimiser and counters from a checkpoint of run `run_id`.
fn restore(
    model: Autoencoder,
    optim: TrainOptimizer,
    ckpt: Checkpoint,
    run_id: &str,
    dir: &Path,
) -> Result<(Autoencoder, TrainOptimizer, LoopState), TrainError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(ckpt.model))
        .map_err(|e| record_err(dir, e))?;
    let record_optim = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(ckpt.optimizer))
        .map_err(|e| record_err(dir, e))?;
    let state = LoopState {
        run_id: Some(run_id.to_string()),
        ..ckpt.state
    };
    let model = model.load_record(record);
    let optim = optim.load_record(record_optim, &model);
    Ok((model, optim, state))
}

/// The model, optimiser state and counters after an epoch, as bytes.
fn checkpoint_of(
    model: &Autoencoder,
    optim: &TrainOptimizer,
    state: &LoopState,
    dir: &Path,
) -> Result<Checkpoint, TrainError> {
    Ok(Checkpoint {
        model: model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| record_err(dir, e))?
            .to_vec(),
        optimizer: optim
            .to_record(model)
            .into_bytes()
            .map_err(|e| record_err(dir, e))?
            .to_vec(),
        state: state.clone(),
    })
}

/// Loads a model saved by training.
pub fn load_model(
    config: &ModelConfig,
    frames: usize,
    coeffs: usize,
    path: &Path,
    device: &Device,
) -> Result<Autoencoder, TrainError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| record_err(path, e))?;
    Ok(config
        .init(frames, coeffs, device)
        .ok_or_else(|| TrainError::NotTrainable(config.name()))?
        .load_record(record)
        .valid())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    crate::fsx::write_atomic(path, bytes).map_err(io(path))
}
