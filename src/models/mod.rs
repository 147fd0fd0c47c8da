//! The autoencoder zoo, one file per architecture: [`dense`] (the DCASE
//! baseline), [`cae`] (convolutional), [`rnn`] (LSTM / GRU) and [`vae`]
//! (variational). Every model maps `[batch, frames, coeffs]` windows to their
//! reconstruction; models know no files.

pub mod ae_score;
pub mod cae;
pub mod cpu;
pub mod dense;
pub mod gpu;
pub mod lstm;
pub mod ops;
pub mod reference;
pub mod rnn;
pub mod size;
pub mod vae;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use cae::{CaeConfig, ConvAe};
pub use dense::{DenseAe, DenseConfig};
pub use rnn::{Cell, RnnAe, RnnConfig};
pub use vae::{Vae, VaeConfig, VaeEncoder, VaeScore};

/// One model of an experiment, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    /// Dense autoencoder (DCASE baseline).
    Dense(DenseConfig),
    /// Convolutional autoencoder.
    Cae(CaeConfig),
    /// Recurrent (LSTM / GRU) autoencoder.
    Rnn(RnnConfig),
    /// Variational autoencoder.
    Vae(VaeConfig),
    /// Reference detector: a Gaussian mixture on feature vectors.
    Gmm(reference::GmmConfig),
    /// Reference detector: nearest neighbours on feature vectors.
    Knn(reference::KnnConfig),
}

impl ModelConfig {
    /// The kind, as `kind = "..."` names it in an experiment and as records keep it.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Dense(_) => "dense",
            ModelConfig::Cae(_) => "cae",
            ModelConfig::Rnn(_) => "rnn",
            ModelConfig::Vae(_) => "vae",
            ModelConfig::Gmm(_) => "gmm",
            ModelConfig::Knn(_) => "knn",
        }
    }

    /// The trial's name: the configured `name`, else the kind.
    pub fn name(&self) -> String {
        let name = match self {
            ModelConfig::Dense(c) => &c.name,
            ModelConfig::Cae(c) => &c.name,
            ModelConfig::Rnn(c) => &c.name,
            ModelConfig::Vae(c) => &c.name,
            ModelConfig::Gmm(c) => &c.name,
            ModelConfig::Knn(c) => &c.name,
        };
        name.clone().unwrap_or_else(|| self.kind().to_string())
    }

    /// Renames the trial.
    pub fn set_name(&mut self, name: String) {
        let slot = match self {
            ModelConfig::Dense(c) => &mut c.name,
            ModelConfig::Cae(c) => &mut c.name,
            ModelConfig::Rnn(c) => &mut c.name,
            ModelConfig::Vae(c) => &mut c.name,
            ModelConfig::Gmm(c) => &mut c.name,
            ModelConfig::Knn(c) => &mut c.name,
        };
        *slot = Some(name);
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name();
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!("name {name:?} must be a plain folder name"));
        }
        match self {
            ModelConfig::Dense(c) => c.validate(),
            ModelConfig::Cae(c) => c.validate(),
            ModelConfig::Rnn(c) => c.validate(),
            ModelConfig::Vae(c) => c.validate(),
            ModelConfig::Gmm(c) => c.validate(),
            ModelConfig::Knn(c) => c.validate(),
        }
    }

    /// The reference-detector config, for `gmm` and `knn`.
    pub fn reference(&self) -> Option<reference::ReferenceConfig<'_>> {
        match self {
            ModelConfig::Gmm(c) => Some(reference::ReferenceConfig::Gmm(c)),
            ModelConfig::Knn(c) => Some(reference::ReferenceConfig::Knn(c)),
            _ => None,
        }
    }

    /// Builds the autoencoder for windows of `frames x coeffs` on `device`
    /// (`None` for a reference detector: those are fitted, see [`Self::reference`]).
    pub fn init(&self, frames: usize, coeffs: usize, device: &Device) -> Option<Autoencoder> {
        Some(match self {
            ModelConfig::Dense(c) => Autoencoder::Dense(c.init(frames, coeffs, device)),
            ModelConfig::Cae(c) => Autoencoder::Cae(c.init(frames, coeffs, device)),
            ModelConfig::Rnn(c) => Autoencoder::Rnn(c.init(coeffs, device)),
            ModelConfig::Vae(c) => Autoencoder::Vae(c.init(frames, coeffs, device)),
            ModelConfig::Gmm(_) | ModelConfig::Knn(_) => return None,
        })
    }

    /// Weight of the per-window KL term in the anomaly score (non-zero only for a
    /// VAE scoring by negative ELBO).
    pub fn score_kl_weight(&self) -> f64 {
        match self {
            ModelConfig::Vae(c) if c.score == VaeScore::Elbo => c.beta,
            _ => 0.0,
        }
    }

    /// How the trained model's windows become scores.
    pub fn score_method(&self) -> ae_score::ScoreMethod {
        use ae_score::{AeScore, ScoreMethod};
        let (score, components, neighbors) = match self {
            ModelConfig::Dense(c) => (c.score, c.latent_components, c.latent_neighbors),
            ModelConfig::Cae(c) => (c.score, c.latent_components, c.latent_neighbors),
            ModelConfig::Rnn(c) => (c.score, c.latent_components, c.latent_neighbors),
            ModelConfig::Vae(c) => (
                match c.score {
                    VaeScore::Reconstruction | VaeScore::Elbo => AeScore::Mse,
                    VaeScore::Mahalanobis => AeScore::Mahalanobis,
                    VaeScore::LatentGmm => AeScore::LatentGmm,
                    VaeScore::LatentKnn => AeScore::LatentKnn,
                },
                c.latent_components,
                c.latent_neighbors,
            ),
            ModelConfig::Gmm(_) | ModelConfig::Knn(_) => (AeScore::Mse, 1, 3),
        };
        match score {
            AeScore::Mse => ScoreMethod::Windows,
            AeScore::Mahalanobis => ScoreMethod::Mahalanobis,
            AeScore::LatentGmm => ScoreMethod::LatentGmm { components },
            AeScore::LatentKnn => ScoreMethod::LatentKnn { neighbors },
        }
    }

    /// Weight of the KL term in `epoch` (zero for non-variational models).
    pub fn kl_weight(&self, epoch: usize) -> f64 {
        match self {
            ModelConfig::Vae(c) => c.kl_weight(epoch),
            _ => 0.0,
        }
    }
}

/// Any model of the zoo.
// Modules are held by value (the derive needs it); one model per trial, so the size gap costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Autoencoder {
    /// Dense.
    Dense(DenseAe),
    /// Convolutional.
    Cae(ConvAe),
    /// Recurrent.
    Rnn(RnnAe),
    /// Variational.
    Vae(Vae),
}

/// A forward pass: the reconstruction and, for the VAE, the KL term.
pub struct Forward {
    /// `[batch, frames, coeffs]`.
    pub reconstruction: Tensor<3>,
    /// Per-sample KL per input value, `[batch]`; `None` for plain autoencoders.
    pub kl: Option<Tensor<1>>,
}

impl Autoencoder {
    /// Brings the batch norms' running statistics up to date after training
    /// steps on the GPU (which keep them aside between steps: see
    /// [`gpu::norm_op`]); call before validating or saving a model.
    pub fn settle_running_stats(&self) {
        if let Autoencoder::Dense(m) = self {
            m.settle_running_stats();
        }
    }

    /// Latent size of a variational model (it needs noise of `[batch, latent]`).
    pub fn noise_dim(&self) -> Option<usize> {
        match self {
            Autoencoder::Vae(v) => Some(v.latent()),
            _ => None,
        }
    }

    /// Reconstructs `x`; `noise` drives the VAE's sampling (ignored by the others;
    /// `None` uses the VAE's mean, as at evaluation).
    pub fn forward(&self, x: Tensor<3>, noise: Option<Tensor<2>>) -> Forward {
        match self {
            Autoencoder::Dense(m) => Forward {
                reconstruction: m.forward(x),
                kl: None,
            },
            Autoencoder::Cae(m) => Forward {
                reconstruction: m.forward(x),
                kl: None,
            },
            Autoencoder::Rnn(m) => Forward {
                reconstruction: m.forward(x),
                kl: None,
            },
            Autoencoder::Vae(m) => {
                let out = m.forward(x, noise);
                Forward {
                    reconstruction: out.reconstruction,
                    kl: Some(out.kl),
                }
            }
        }
    }

    /// The code of each window, `[batch, width]`: the bottleneck (dense), the
    /// latent vector (cae, rnn), the posterior mean (vae).
    pub fn encode(&self, x: Tensor<3>) -> Tensor<2> {
        match self {
            Autoencoder::Dense(m) => m.encode(x),
            Autoencoder::Cae(m) => m.encode(x),
            Autoencoder::Rnn(m) => m.encode(x),
            Autoencoder::Vae(m) => m.encode(x),
        }
    }

    /// Training loss: mean squared reconstruction error plus `kl_weight` times the mean KL.
    /// Call `backward` on it as it is: on the GPU the VAE's KL gradient is
    /// applied inside the graph for a loss taken whole (to weight a part of a
    /// batch, scale its gradients, as the training loop's micro-batches do).
    pub fn loss(&self, x: Tensor<3>, noise: Option<Tensor<2>>, kl_weight: f64) -> Tensor<1> {
        match self {
            Autoencoder::Dense(m) => return m.loss(x),
            Autoencoder::Vae(m) => return m.loss(x, noise, kl_weight),
            _ => {}
        }
        let out = self.forward(x.clone(), noise);
        let [batch, frames, coeffs] = x.dims();
        let flat = |t: Tensor<3>| t.reshape([batch, frames * coeffs]);
        let mse = gpu::loss_op::mse(flat(out.reconstruction), flat(x));
        match out.kl {
            Some(kl) if kl_weight > 0.0 => mse + kl.mean() * kl_weight,
            _ => mse,
        }
    }
}

/// Per-window reconstruction errors `[batch]`: mean squared and mean absolute.
pub fn window_errors(x: Tensor<3>, reconstruction: Tensor<3>) -> (Tensor<1>, Tensor<1>) {
    let [batch, ..] = x.dims();
    let diff = reconstruction - x;
    let mse = diff
        .clone()
        .square()
        .flatten::<2>(1, 2)
        .mean_dim(1)
        .reshape([batch]);
    let mae = diff.abs().flatten::<2>(1, 2).mean_dim(1).reshape([batch]);
    (mse, mae)
}
