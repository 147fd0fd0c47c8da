//! The DCASE 2020 task-2 baseline: `frames x coeffs` stacked into one vector,
//! Linear + BatchNorm + ReLU down to a small bottleneck and mirrored back.

use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::ae_score::{
    AeScore, default_latent_components, default_latent_neighbors, is_default_components,
    is_default_neighbors,
};
use super::gpu::loss_op::linear_mse;
use super::gpu::norm_op::{linear_batch_norm_relu, settle_running_stats};

/// Dense autoencoder settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseConfig {
    /// Trial name (default "dense").
    #[serde(default)]
    pub name: Option<String>,
    /// Widths of the encoder's hidden layers; the decoder mirrors them.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Bottleneck width.
    #[serde(default = "default_bottleneck")]
    pub bottleneck: usize,
    /// How windows are scored: "mse", "mahalanobis" (of the reconstruction
    /// residual), "latent_gmm" (a mixture on each clip's pooled codes) or
    /// "latent_knn" (nearest training clips by those codes).
    #[serde(default, skip_serializing_if = "AeScore::is_mse")]
    pub score: AeScore,
    /// Mixture components of `score = "latent_gmm"`.
    #[serde(
        default = "default_latent_components",
        skip_serializing_if = "is_default_components"
    )]
    pub latent_components: usize,
    /// Neighbours of `score = "latent_knn"`.
    #[serde(
        default = "default_latent_neighbors",
        skip_serializing_if = "is_default_neighbors"
    )]
    pub latent_neighbors: usize,
}

fn default_hidden() -> Vec<usize> {
    vec![128, 128, 128, 128]
}
fn default_bottleneck() -> usize {
    8
}

impl Default for DenseConfig {
    fn default() -> Self {
        Self {
            name: None,
            hidden: default_hidden(),
            bottleneck: default_bottleneck(),
            score: AeScore::Mse,
            latent_components: default_latent_components(),
            latent_neighbors: default_latent_neighbors(),
        }
    }
}

/// Linear, BatchNorm, ReLU.
#[derive(Module, Debug)]
pub struct DenseBlock {
    linear: Linear,
    norm: BatchNorm,
}

impl DenseBlock {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        Self {
            linear: LinearConfig::new(input, output).init(device),
            norm: BatchNormConfig::new(output).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        linear_batch_norm_relu(&self.linear, &self.norm, x)
    }
}

/// The dense autoencoder.
#[derive(Module, Debug)]
pub struct DenseAe {
    blocks: Vec<DenseBlock>,
    output: Linear,
}

impl DenseConfig {
    /// Checks widths.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden.contains(&0) || self.bottleneck == 0 {
            return Err("layer widths must be >= 1".into());
        }
        Ok(())
    }

    /// A model for windows of `frames x coeffs`.
    pub fn init(&self, frames: usize, coeffs: usize, device: &Device) -> DenseAe {
        let input = frames * coeffs;
        let mut widths = vec![input];
        widths.extend(&self.hidden);
        widths.push(self.bottleneck);
        widths.extend(self.hidden.iter().rev());
        let blocks = widths
            .windows(2)
            .map(|w| DenseBlock::new(w[0], w[1], device))
            .collect();
        let last = *widths.last().expect("at least the input");
        DenseAe {
            blocks,
            output: LinearConfig::new(last, input).init(device),
        }
    }
}

impl DenseAe {
    /// The bottleneck code `[batch, bottleneck]`: the bottleneck layer's
    /// linear output, before its normalisation and ReLU (which would zero
    /// about half of it and lose what distances between codes tell).
    pub fn encode(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, frames, coeffs] = x.dims();
        let mut h = x.reshape([batch, frames * coeffs]);
        let bottleneck = self.blocks.len() / 2;
        for block in &self.blocks[..bottleneck] {
            h = block.forward(h);
        }
        self.blocks[bottleneck].linear.forward(h)
    }

    /// Writes running statistics the GPU kernels keep between training
    /// steps into the batch norms ([`settle_running_stats`]).
    pub fn settle_running_stats(&self) {
        for block in &self.blocks {
            settle_running_stats(&block.norm);
        }
    }

    /// The training loss on `x`: the mean squared reconstruction error (the
    /// last layer and the loss one operation on the GPU: [`linear_mse`]).
    pub fn loss(&self, x: Tensor<3>) -> Tensor<1> {
        let [batch, frames, coeffs] = x.dims();
        let flat = x.reshape([batch, frames * coeffs]);
        let mut h = flat.clone();
        for block in &self.blocks {
            h = block.forward(h);
        }
        linear_mse(&self.output, h, flat)
    }

    /// Reconstructs `[batch, frames, coeffs]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, frames, coeffs] = x.dims();
        let mut h = x.reshape([batch, frames * coeffs]);
        for block in &self.blocks {
            h = block.forward(h);
        }
        self.output.forward(h).reshape([batch, frames, coeffs])
    }
}
