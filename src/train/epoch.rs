//! One training epoch: the windows in a seeded order, batch by batch, a
//! batch past `max_batch_mib` as micro-batches whose gradients are summed.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Normal};

use super::TrainConfig;
use super::batches::{Batches, micro_batches};
use super::config::Trial;
use super::optimizer::TrainOptimizer;
use crate::data::WindowSet;
use crate::models::Autoencoder;

/// A deterministic stream per (seed, epoch): resuming at an epoch replays it exactly.
pub(super) fn epoch_rng(seed: u64, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Micro-batches in a full training batch (1 unless the batch passes
/// `max_batch_mib`).
pub(super) fn micro_batches_per_step(cfg: &TrainConfig, train: &WindowSet) -> usize {
    let batch: Vec<usize> = (0..cfg.batch_size.min(train.len())).collect();
    micro_batches(&batch, cfg.windows_per_micro_batch(train.window_bytes())).len()
}

/// `grads` times `factor`, parameter by parameter: a micro-batch's share of
/// its batch. The share scales the gradients rather than the loss because
/// the VAE's fused KL term must enter the loss unscaled (its gradient is
/// applied inside the sample's backward pass: `models::gpu::vae_op`).
fn scaled(mut grads: GradientsParams, model: &Autoencoder, factor: f64) -> GradientsParams {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, grad.mul_scalar(self.factor));
            }
        }
    }
    model.visit(&mut Scale {
        grads: &mut grads,
        factor,
    });
    grads
}

/// One pass over the training windows in the epoch's seeded order: the
/// updated model and the mean training loss, or why the device could not
/// give it (the loss is read once per epoch, where queued work surfaces).
pub(super) fn train_epoch(
    mut model: Autoencoder,
    optim: &mut TrainOptimizer,
    batches: &Batches,
    trial: &Trial,
    epoch: usize,
) -> Result<(Autoencoder, f64), String> {
    let cfg = trial.train;
    let lr = cfg.learning_rate_at(epoch);
    let kl_weight = trial.model.kl_weight(epoch);
    let normal = Normal::new(0.0f32, 1.0).expect("unit normal");
    let mut rng = epoch_rng(trial.seed, epoch);
    let train = batches.set();
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut rng);
    // Losses stay on the device and are read once per epoch: no sync per step.
    let mut loss_sum: Option<Tensor<1>> = None;
    let mut steps = 0usize;
    let per_part = cfg.windows_per_micro_batch(train.window_bytes());
    for indices in order.chunks(cfg.batch_size) {
        // A batch of one has no batch statistics; it is dropped (at most one per epoch).
        if indices.len() < 2 && train.len() >= 2 {
            continue;
        }
        // A batch past one device buffer goes as micro-batches: each part's
        // gradients are weighted by its share, so their sum is the batch's.
        let parts = micro_batches(indices, per_part);
        let mut accumulated = GradientsAccumulator::<Autoencoder>::new();
        let mut single = None;
        for part in &parts {
            let x = batches.get(part);
            let noise = model.noise_dim().map(|d| {
                let values: Vec<f32> = (0..part.len() * d)
                    .map(|_| normal.sample(&mut rng))
                    .collect();
                Tensor::<2>::from_data(TensorData::new(values, [part.len(), d]), batches.device())
            });
            let loss = model.loss(x, noise, kl_weight);
            let share = part.len() as f64 / indices.len() as f64;
            let detached = loss.clone().detach();
            let detached = if parts.len() > 1 {
                detached.mul_scalar(share)
            } else {
                detached
            };
            loss_sum = Some(match loss_sum {
                Some(sum) => sum + detached,
                None => detached,
            });
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            if parts.len() == 1 {
                single = Some(grads);
            } else {
                accumulated.accumulate(&model, scaled(grads, &model, share));
            }
        }
        steps += 1;
        let grads = single.unwrap_or_else(|| accumulated.grads());
        model = optim.step(lr, model, grads);
    }
    model.settle_running_stats();
    let train_loss = match loss_sum {
        Some(sum) => {
            let sum = sum.try_into_scalar::<f32>().map_err(|e| e.to_string())?;
            sum as f64 / steps.max(1) as f64
        }
        None => f64::NAN,
    };
    Ok((model, train_loss))
}
