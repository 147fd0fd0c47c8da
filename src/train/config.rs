//! `TrainConfig`: the optimiser, the schedule and the loop's stopping rules.

use std::path::Path;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use crate::models::ModelConfig;

/// Which optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam (L2 weight decay added to the gradient when `weight_decay > 0`).
    #[default]
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
}

/// How the learning rate moves over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Cosine decay from the rate to 1% of it at the last epoch.
    Cosine,
    /// Multiply by `step_gamma` every `step_epochs`.
    Step,
}

/// The training loop's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Passes over the training windows (at most; see `patience`).
    pub epochs: usize,
    /// Windows per step.
    pub batch_size: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Adam or AdamW.
    pub optimizer: OptimizerKind,
    /// Weight decay (0 = none).
    pub weight_decay: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Epochs between decays (`schedule = "step"`).
    pub step_epochs: usize,
    /// Decay factor (`schedule = "step"`).
    pub step_gamma: f64,
    /// Linear warm-up epochs before the schedule.
    pub warmup_epochs: usize,
    /// Stop after this many epochs without a better validation loss; none = never.
    pub patience: Option<usize>,
    /// Clip the gradient norm to this; none = no clipping.
    pub grad_clip: Option<f64>,
    /// A batch whose windows pass this many MiB is split into micro-batches
    /// whose gradients are summed before one optimiser step (32 MiB: what
    /// one GPU buffer is sure to hold, with room for activations). The step
    /// is the whole batch's, except that batch norm sees each micro-batch.
    #[serde(skip_serializing_if = "is_default_max_batch_mib")]
    pub max_batch_mib: f64,
    /// Also write TensorBoard event files in each trial folder, live.
    // Left out of the record when off, so configs (and sweep hashes) of
    // earlier runs read back unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tensorboard: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 64,
            learning_rate: 1e-3,
            optimizer: OptimizerKind::Adam,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            step_epochs: 10,
            step_gamma: 0.5,
            warmup_epochs: 0,
            patience: Some(10),
            grad_clip: Some(5.0),
            max_batch_mib: DEFAULT_MAX_BATCH_MIB,
            tensorboard: false,
        }
    }
}

/// The default of [`TrainConfig::max_batch_mib`].
pub const DEFAULT_MAX_BATCH_MIB: f64 = 32.0;

// Left out of the record at its default, so configs (and sweep hashes) of
// earlier runs read back unchanged.
fn is_default_max_batch_mib(mib: &f64) -> bool {
    *mib == DEFAULT_MAX_BATCH_MIB
}

impl TrainConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 || self.batch_size == 0 {
            return Err("epochs and batch_size must be >= 1".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!(
                "learning_rate is {}, must be > 0",
                self.learning_rate
            ));
        }
        let non_negative = |x: f64| x >= 0.0; // false for NaN
        if !non_negative(self.weight_decay)
            || !non_negative(self.step_gamma)
            || self.step_gamma == 0.0
            || self.step_epochs == 0
        {
            return Err("weight_decay must be >= 0, step_gamma > 0 and step_epochs >= 1".into());
        }
        if !(self.max_batch_mib > 0.0 && self.max_batch_mib.is_finite()) {
            return Err(format!(
                "max_batch_mib is {}, must be > 0 (MiB of windows per micro-batch)",
                self.max_batch_mib
            ));
        }
        if let Some(c) = self.grad_clip
            && (c.is_nan() || c <= 0.0)
        {
            return Err(format!("grad_clip is {c}, must be > 0 or absent"));
        }
        Ok(())
    }

    /// Windows per micro-batch for windows of `window_bytes` (at least 2,
    /// which batch statistics need).
    pub fn windows_per_micro_batch(&self, window_bytes: usize) -> usize {
        let limit = self.max_batch_mib * (1u64 << 20) as f64;
        ((limit / window_bytes.max(1) as f64) as usize).max(2)
    }

    /// The learning rate of `epoch` (0-based).
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        if epoch < self.warmup_epochs {
            return self.learning_rate * (epoch + 1) as f64 / (self.warmup_epochs + 1) as f64;
        }
        let e = (epoch - self.warmup_epochs) as f64;
        let span = (self.epochs.saturating_sub(self.warmup_epochs)).max(1) as f64;
        match self.schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Cosine => {
                let floor = 0.01 * self.learning_rate;
                floor
                    + 0.5
                        * (self.learning_rate - floor)
                        * (1.0 + (std::f64::consts::PI * e / span).cos())
            }
            Schedule::Step => {
                self.learning_rate * self.step_gamma.powi((e as usize / self.step_epochs) as i32)
            }
        }
    }
}

/// Everything one trial needs.
pub struct Trial<'a> {
    /// Trial name (folder and events).
    pub name: &'a str,
    /// The model to build.
    pub model: &'a ModelConfig,
    /// The loop's settings.
    pub train: &'a TrainConfig,
    /// Seeds initialisation, shuffles and VAE noise.
    pub seed: u64,
    /// The trial's run directory.
    pub dir: &'a Path,
    /// Where to compute (without autodiff; the loop adds it).
    pub device: Device,
    /// Continue from the newest checkpoint of this run.
    pub resume: bool,
    /// This run's id (events and checkpoints carry it).
    pub run_id: &'a str,
    /// Asked after every epoch with (epoch, best validation loss so far): a
    /// reason to stop the trial now (a sweep's median rule), or `None`.
    pub pruner: Option<&'a Pruner>,
}

/// An early-termination rule: (epoch, best validation loss so far) to a reason to stop.
pub type Pruner = dyn Fn(usize, f64) -> Option<String> + Send + Sync;
