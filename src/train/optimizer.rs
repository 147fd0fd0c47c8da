//! The optimiser a trial trains with: burn's `ModuleOptimizer` (Adam fused
//! per parameter on the CPU, burn's Adam and AdamW elsewhere), or on wgpu
//! Adam a chunk of parameters per dispatch ([`ChunkedAdam`]). Both write
//! burn's `OptimizerRecord`, so checkpoints move between devices.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::prelude::*;

use super::fused_adam::adam_for;
use super::gpu_adam::ChunkedAdam;
use super::{OptimizerKind, TrainConfig};
use crate::models::Autoencoder;

/// One of the two optimisers (see the module docs).
#[derive(Clone)]
pub enum TrainOptimizer {
    /// Parameter by parameter, through burn.
    Module(ModuleOptimizer),
    /// Adam on wgpu, a chunk of parameters per dispatch.
    Chunked(ChunkedAdam),
}

impl TrainOptimizer {
    /// The optimiser of `config` for a model on `device`: the chunked Adam
    /// where it runs ([`ChunkedAdam::supported`]) unless gradients are
    /// clipped (clipping is burn's, per parameter).
    pub fn for_config(config: &TrainConfig, device: &Device) -> Self {
        let clip = config
            .grad_clip
            .map(|c| GradientClippingConfig::Norm(c as f32));
        match config.optimizer {
            OptimizerKind::Adam => {
                let decay = (config.weight_decay > 0.0).then_some(config.weight_decay as f32);
                match clip {
                    None => Self::adam(device, decay),
                    Some(clip) => {
                        Self::Module(adam_for(device, decay).with_grad_clipping(clip.init()))
                    }
                }
            }
            OptimizerKind::Adamw => Self::Module(
                AdamWConfig::new()
                    .with_weight_decay(config.weight_decay as f32)
                    .with_grad_clipping(clip)
                    .init(),
            ),
        }
    }

    /// Adam (L2 `weight_decay` if any) with the fewest dispatches `device`
    /// allows.
    pub fn adam(device: &Device, weight_decay: Option<f32>) -> Self {
        if ChunkedAdam::supported(device) {
            Self::Chunked(ChunkedAdam::new(weight_decay))
        } else {
            Self::Module(adam_for(device, weight_decay))
        }
    }

    /// One step on `model` with learning rate `lr`.
    pub fn step(&mut self, lr: f64, model: Autoencoder, grads: GradientsParams) -> Autoencoder {
        match self {
            Self::Module(optim) => optim.step(lr, model, grads),
            Self::Chunked(optim) => optim.step(lr, model, grads),
        }
    }

    /// burn's record of the state, for `model`'s parameters.
    pub fn to_record(&self, model: &Autoencoder) -> OptimizerRecord {
        match self {
            Self::Module(optim) => optim.to_record(),
            Self::Chunked(optim) => optim.to_record(model),
        }
    }

    /// The state from burn's `record`, for `model`'s parameters.
    pub fn load_record(self, record: OptimizerRecord, model: &Autoencoder) -> Self {
        match self {
            Self::Module(optim) => Self::Module(optim.load_record(record)),
            Self::Chunked(optim) => Self::Chunked(optim.load_record(record, model)),
        }
    }
}
