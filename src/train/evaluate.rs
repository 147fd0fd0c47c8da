//! Per-window reconstruction errors of a trained model, a batch at a time,
//! for validation (every epoch) and scoring.

use burn::prelude::*;

use super::batches::Batches;
use crate::data::WindowSet;
use crate::models::{Autoencoder, window_errors};

/// Windows per evaluation batch (fewer when windows are long: [`EVAL_BATCH_BYTES`]).
pub(super) const EVAL_BATCH: usize = 1024;
/// The most input bytes in one evaluation batch.
const EVAL_BATCH_BYTES: usize = 16 << 20;

/// Windows per evaluation batch of `set`: long windows (a whole clip per
/// window) go in smaller batches, so no device buffer grows past what every
/// adapter can bind.
pub(super) fn eval_batch(set: &WindowSet) -> usize {
    let window = set.window_bytes().max(1);
    (EVAL_BATCH_BYTES / window).clamp(1, EVAL_BATCH)
}

/// Per-window errors over a window set.
#[derive(Debug, Clone, Default)]
pub struct WindowErrors {
    /// Mean squared reconstruction error per window.
    pub squared: Vec<f32>,
    /// Mean absolute reconstruction error per window.
    pub absolute: Vec<f32>,
    /// KL term per window (VAE only; empty otherwise).
    pub kl: Vec<f32>,
}

impl WindowErrors {
    /// Anomaly scores: squared error plus `kl_weight` times the KL term.
    pub fn scores(&self, kl_weight: f64) -> Vec<f32> {
        if kl_weight == 0.0 || self.kl.is_empty() {
            return self.squared.clone();
        }
        self.squared
            .iter()
            .zip(&self.kl)
            .map(|(s, k)| s + kl_weight as f32 * k)
            .collect()
    }
}

/// Per-window reconstruction errors over `set` (the model at evaluation: no sampling).
pub fn evaluate(model: &Autoencoder, set: &WindowSet, device: &Device) -> WindowErrors {
    evaluate_batches(model, &Batches::from_host(set, device))
}

/// [`evaluate`] over `batches` (a set kept on the device for every epoch's validation).
pub fn evaluate_batches(model: &Autoencoder, batches: &Batches) -> WindowErrors {
    let mut errors = WindowErrors::default();
    let all: Vec<usize> = (0..batches.set().len()).collect();
    let values = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
    for indices in all.chunks(eval_batch(batches.set())) {
        let x = batches.get(indices);
        let out = model.forward(x.clone(), None);
        let (mse, mae) = window_errors(x, out.reconstruction);
        errors.squared.extend(values(mse));
        errors.absolute.extend(values(mae));
        if let Some(kl) = out.kl {
            errors.kl.extend(values(kl));
        }
    }
    errors
}

/// Mean of `values` in f64 (NaN when empty).
pub fn mean(values: &[f32]) -> f64 {
    values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
}
