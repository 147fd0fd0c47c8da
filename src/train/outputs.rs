//! What a trained model says about windows besides their errors: the
//! reconstruction residuals and the codes, for the scorers of
//! [`crate::models::ae_score`].

use burn::prelude::*;

use super::batches::batch_tensor;
use super::evaluate::eval_batch;
use crate::data::WindowSet;
use crate::models::Autoencoder;

/// The residuals `x - x̂` of the windows, `[batch, frames * coeffs]` a batch
/// at a time (never all windows at once: a long dataset has millions). The
/// VAE reconstructs from its posterior mean.
pub fn residual_batches(
    model: &Autoencoder,
    set: &WindowSet,
    device: &Device,
    mut each: impl FnMut(&[f32]),
) {
    let all: Vec<usize> = (0..set.len()).collect();
    for indices in all.chunks(eval_batch(set)) {
        let x = batch_tensor(set, indices, device);
        let reconstruction = model.forward(x.clone(), None).reconstruction;
        let values = (x - reconstruction).into_data().try_to_vec::<f32>();
        each(&values.unwrap_or_default());
    }
}

/// The code of every window, `[windows, width]`, and `width`.
pub fn codes(model: &Autoencoder, set: &WindowSet, device: &Device) -> (Vec<f32>, usize) {
    let mut out = Vec::new();
    let mut width = 0;
    let all: Vec<usize> = (0..set.len()).collect();
    for indices in all.chunks(eval_batch(set)) {
        let code = model.encode(batch_tensor(set, indices, device));
        width = code.dims()[1];
        out.extend(code.into_data().try_to_vec::<f32>().unwrap_or_default());
    }
    (out, width)
}
