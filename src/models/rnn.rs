//! The recurrent autoencoder: an LSTM or GRU encoder summarises the window in
//! a latent vector, which is repeated over time and decoded by a second
//! recurrent stack and a linear head.

use burn::nn::{BiLstm, BiLstmConfig, Gru, GruConfig, Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::ae_score::{
    AeScore, default_latent_components, default_latent_neighbors, is_default_components,
    is_default_neighbors,
};

use super::lstm::FusedLstm;
use super::ops::gru::gru;
use super::ops::lstm::bilstm;

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// Long short-term memory.
    #[default]
    Lstm,
    /// Gated recurrent unit.
    Gru,
}

/// Recurrent autoencoder settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnConfig {
    /// Trial name (default "rnn").
    #[serde(default)]
    pub name: Option<String>,
    /// LSTM or GRU.
    #[serde(default)]
    pub cell: Cell,
    /// Hidden units per layer.
    #[serde(default = "default_hidden")]
    pub hidden: usize,
    /// Stacked layers in encoder and decoder.
    #[serde(default = "default_layers")]
    pub layers: usize,
    /// Latent vector size.
    #[serde(default = "default_latent")]
    pub latent: usize,
    /// Read the window both ways in the encoder's first layer (LSTM only).
    #[serde(default)]
    pub bidirectional: bool,
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

fn default_hidden() -> usize {
    64
}
fn default_layers() -> usize {
    1
}
fn default_latent() -> usize {
    16
}

impl Default for RnnConfig {
    fn default() -> Self {
        Self {
            name: None,
            cell: Cell::Lstm,
            hidden: default_hidden(),
            layers: default_layers(),
            latent: default_latent(),
            bidirectional: false,
            score: AeScore::Mse,
            latent_components: default_latent_components(),
            latent_neighbors: default_latent_neighbors(),
        }
    }
}

/// One recurrent layer of either kind.
// Modules are held by value (the derive needs it); the size gap costs nothing here.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum RecurrentLayer {
    /// Unidirectional LSTM (fused gates, see [`FusedLstm`]).
    Lstm(FusedLstm),
    /// Bidirectional LSTM (output is twice as wide).
    BiLstm(BiLstm),
    /// GRU.
    Gru(Gru),
}

/// A sequence between layers: separate steps (cheap to differentiate per step)
/// or one `[batch, time, width]` tensor (what burn's layers take).
#[allow(clippy::large_enum_variant)]
enum Sequence {
    Steps(Vec<Tensor<2>>),
    Whole(Tensor<3>),
}

impl Sequence {
    /// Whether `layer` over this sequence runs as one kernel (CPU or GPU).
    fn runs_kernel_of(&self, layer: &FusedLstm) -> bool {
        let (device, dtype, time) = match self {
            Sequence::Steps(steps) => match steps.first() {
                Some(step) => (step.device(), step.dtype(), steps.len()),
                None => return false,
            },
            Sequence::Whole(x) => (x.device(), x.dtype(), x.dims()[1]),
        };
        layer.has_kernel(&device, dtype, time)
    }

    fn whole(self) -> Tensor<3> {
        match self {
            Sequence::Steps(steps) => Tensor::stack(steps, 1),
            Sequence::Whole(x) => x,
        }
    }

    fn steps(self) -> Vec<Tensor<2>> {
        match self {
            Sequence::Steps(steps) => steps,
            Sequence::Whole(x) => {
                let [batch, time, width] = x.dims();
                (0..time)
                    .map(|t| x.clone().narrow(1, t, 1).reshape([batch, width]))
                    .collect()
            }
        }
    }

    fn last(self) -> Tensor<2> {
        match self {
            Sequence::Steps(mut steps) => steps.pop().expect("at least one frame"),
            Sequence::Whole(x) => {
                let [batch, time, width] = x.dims();
                x.narrow(1, time - 1, 1).reshape([batch, width])
            }
        }
    }
}

impl RecurrentLayer {
    fn forward(&self, x: Sequence) -> Sequence {
        match self {
            RecurrentLayer::Lstm(l) if x.runs_kernel_of(l) => {
                Sequence::Whole(l.forward_sequence(x.whole()))
            }
            RecurrentLayer::Lstm(l) => Sequence::Steps(l.forward_steps(&x.steps())),
            RecurrentLayer::BiLstm(l) => Sequence::Whole(bilstm(l, x.whole())),
            RecurrentLayer::Gru(l) => Sequence::Whole(gru(l, x.whole())),
        }
    }

    /// The layer over `time` steps of the same input `x`.
    fn forward_repeated(&self, x: Tensor<2>, time: usize) -> Sequence {
        match self {
            RecurrentLayer::Lstm(l) if l.has_kernel(&x.device(), x.dtype(), time) => {
                Sequence::Whole(l.forward_sequence(x.unsqueeze_dim::<3>(1).repeat_dim(1, time)))
            }
            RecurrentLayer::Lstm(l) => Sequence::Steps(l.forward_constant(x, time)),
            other => other.forward(Sequence::Whole(x.unsqueeze_dim::<3>(1).repeat_dim(1, time))),
        }
    }
}

/// The recurrent autoencoder.
#[derive(Module, Debug)]
pub struct RnnAe {
    encoder: Vec<RecurrentLayer>,
    to_latent: Linear,
    decoder: Vec<RecurrentLayer>,
    head: Linear,
}

impl RnnConfig {
    /// Checks sizes.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden == 0 || self.layers == 0 || self.latent == 0 {
            return Err("hidden, layers and latent must be >= 1".into());
        }
        if self.bidirectional && self.cell == Cell::Gru {
            return Err("bidirectional is available with cell = \"lstm\" only".into());
        }
        Ok(())
    }

    fn layer(&self, input: usize, bidirectional: bool, device: &Device) -> (RecurrentLayer, usize) {
        match (self.cell, bidirectional) {
            (Cell::Lstm, false) => (
                RecurrentLayer::Lstm(FusedLstm::new(input, self.hidden, device)),
                self.hidden,
            ),
            (Cell::Lstm, true) => (
                RecurrentLayer::BiLstm(BiLstmConfig::new(input, self.hidden, true).init(device)),
                2 * self.hidden,
            ),
            (Cell::Gru, _) => (
                RecurrentLayer::Gru(GruConfig::new(input, self.hidden, true).init(device)),
                self.hidden,
            ),
        }
    }

    /// A model for windows of `coeffs` per frame (any number of frames).
    pub fn init(&self, coeffs: usize, device: &Device) -> RnnAe {
        let mut encoder = Vec::new();
        let mut width = coeffs;
        for i in 0..self.layers {
            let (layer, out) = self.layer(width, self.bidirectional && i == 0, device);
            encoder.push(layer);
            width = out;
        }
        let to_latent = LinearConfig::new(width, self.latent).init(device);
        let mut decoder = Vec::new();
        let mut width = self.latent;
        for _ in 0..self.layers {
            let (layer, out) = self.layer(width, false, device);
            decoder.push(layer);
            width = out;
        }
        RnnAe {
            encoder,
            to_latent,
            decoder,
            head: LinearConfig::new(width, coeffs).init(device),
        }
    }
}

impl RnnAe {
    /// The latent vector of each window `[batch, latent]`.
    pub fn encode(&self, x: Tensor<3>) -> Tensor<2> {
        let mut h = Sequence::Whole(x);
        for layer in &self.encoder {
            h = layer.forward(h);
        }
        self.to_latent.forward(h.last())
    }

    /// Reconstructs `[batch, frames, coeffs]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let frames = x.dims()[1];
        let mut h = Sequence::Whole(x);
        for layer in &self.encoder {
            h = layer.forward(h);
        }
        // The last step's output summarises the window (for a bidirectional first
        // layer, later layers have already mixed both directions in).
        let latent = self.to_latent.forward(h.last());
        let mut layers = self.decoder.iter();
        let first = layers.next().expect("at least one decoder layer");
        let mut d = first.forward_repeated(latent, frames);
        for layer in layers {
            d = layer.forward(d);
        }
        self.head.forward(d.whole())
    }
}
