//! The training loop: seeded, checkpointed every epoch, resumable, with early
//! stopping, gradient clipping and a learning-rate schedule; every epoch goes to
//! `events.jsonl`. NaN or Inf in a loss ends the trial as `failed`, never a panic.

pub mod adam_op;
pub mod batches;
pub mod checkpoint;
mod config;
mod epoch;
mod evaluate;
pub mod events;
pub mod fused_adam;
pub mod gpu_adam;
mod optimizer;
pub mod outputs;
mod trainer;

pub use batches::TrialData;
pub use config::{OptimizerKind, Pruner, Schedule, TrainConfig, Trial};
pub use evaluate::{WindowErrors, evaluate, mean};
pub use optimizer::TrainOptimizer;
pub use trainer::{EpochReport, Outcome, TrialResult, load_model, train_trial};

use std::path::PathBuf;

/// Why a trial could not run (a diverging loss is an [`Outcome`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file of the run directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A model or optimiser record could not be (de)serialised.
    #[error("{path}: {reason}")]
    Record {
        /// The file.
        path: PathBuf,
        /// What burn said.
        reason: String,
    },
    /// There is nothing to train on.
    #[error("no training windows: {0}")]
    NoData(String),
    /// The model is a reference detector: it is fitted, not trained.
    #[error("{0} is a reference detector (fitted, not trained by gradient descent)")]
    NotTrainable(String),
}
