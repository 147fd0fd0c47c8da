//! The variational autoencoder: a dense or convolutional encoder to a mean
//! and log-variance, a reparameterised sample, a decoder that mirrors the
//! encoder. Loss = reconstruction MSE + beta * KL (per input value, so beta is
//! independent of the window size), with beta ramped up over the first epochs
//! (KL warm-up).

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::ae_score::{
    default_latent_components, default_latent_neighbors, is_default_components,
    is_default_neighbors,
};
use super::gpu::loss_op::{linear_mse, mse};
use super::gpu::vae_op::{kl_per_sample, sample_with_kl};

use super::cae::{
    conv_decode, conv_encode, conv_stack, default_channels, default_kernel, default_stride,
    validate_conv,
};

/// The VAE's encoder (and, mirrored, its decoder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VaeEncoder {
    /// Dense layers of widths `hidden` over the flattened window.
    #[default]
    Dense,
    /// Strided 2-D convolutions of widths `channels` over the window as an
    /// image (as the `cae`), flattened to the mean and log-variance.
    Conv,
}

/// Variational autoencoder settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeConfig {
    /// Trial name (default "vae").
    #[serde(default)]
    pub name: Option<String>,
    /// Dense or convolutional encoder.
    #[serde(default)]
    pub encoder: VaeEncoder,
    /// Widths of the dense encoder's hidden layers; the decoder mirrors them.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Output channels of each convolution of a `conv` encoder.
    #[serde(default = "default_channels")]
    pub channels: Vec<usize>,
    /// Square kernel size of a `conv` encoder.
    #[serde(default = "default_kernel")]
    pub kernel: usize,
    /// Stride of every convolution of a `conv` encoder.
    #[serde(default = "default_stride")]
    pub stride: usize,
    /// Latent dimensions.
    #[serde(default = "default_latent")]
    pub latent: usize,
    /// Weight of the KL term once warmed up.
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// Epochs over which the KL weight rises linearly from 0 to `beta`.
    #[serde(default = "default_warmup")]
    pub kl_warmup_epochs: usize,
    /// Anomaly score: reconstruction error, the negative ELBO
    /// (reconstruction + beta * KL, per input value), the Mahalanobis distance
    /// of the residual, or a mixture on each clip's pooled posterior means.
    #[serde(default)]
    pub score: VaeScore,
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

/// What a VAE scores anomalies by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VaeScore {
    /// Mean squared reconstruction error, like the other models.
    #[default]
    #[serde(alias = "mse")]
    Reconstruction,
    /// Negative ELBO: reconstruction error plus beta times the KL term.
    Elbo,
    /// Mahalanobis distance of the reconstruction residual.
    Mahalanobis,
    /// A Gaussian mixture on the clip-pooled posterior means.
    LatentGmm,
    /// Nearest training clips by the clip-pooled posterior means.
    LatentKnn,
}

fn default_hidden() -> Vec<usize> {
    vec![256, 64]
}
fn default_latent() -> usize {
    16
}
fn default_beta() -> f64 {
    1.0
}
fn default_warmup() -> usize {
    5
}

impl Default for VaeConfig {
    fn default() -> Self {
        Self {
            name: None,
            encoder: VaeEncoder::Dense,
            hidden: default_hidden(),
            channels: default_channels(),
            kernel: default_kernel(),
            stride: default_stride(),
            latent: default_latent(),
            beta: default_beta(),
            kl_warmup_epochs: default_warmup(),
            score: VaeScore::Reconstruction,
            latent_components: default_latent_components(),
            latent_neighbors: default_latent_neighbors(),
        }
    }
}

/// The variational autoencoder. Dense: `encoder`, then `decoder` and
/// `output` back to the input size. Convolutional: `conv_down`, flattened;
/// `output` maps the sample to the code, `conv_up` back to the window.
#[derive(Module, Debug)]
pub struct Vae {
    encoder: Vec<Linear>,
    conv_down: Vec<Conv2d>,
    mean: Linear,
    log_var: Linear,
    decoder: Vec<Linear>,
    output: Linear,
    conv_up: Vec<ConvTranspose2d>,
    /// `[channels, height, width]` of a convolutional encoder's output.
    code_shape: [usize; 3],
}

/// What the VAE returns besides the reconstruction.
pub struct VaeOutput {
    /// `[batch, frames, coeffs]`.
    pub reconstruction: Tensor<3>,
    /// KL divergence to N(0, I) per sample, divided by the input size: `[batch]`.
    pub kl: Tensor<1>,
}

impl VaeConfig {
    /// Checks sizes.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden.contains(&0) || self.latent == 0 {
            return Err("layer widths and latent must be >= 1".into());
        }
        if self.encoder == VaeEncoder::Conv {
            validate_conv(&self.channels, self.kernel, self.stride)?;
        }
        if self.beta.is_nan() || self.beta < 0.0 {
            return Err(format!("beta is {}, must be >= 0", self.beta));
        }
        Ok(())
    }

    /// The KL weight in `epoch` (0-based).
    pub fn kl_weight(&self, epoch: usize) -> f64 {
        if self.kl_warmup_epochs == 0 {
            self.beta
        } else {
            self.beta * ((epoch + 1) as f64 / self.kl_warmup_epochs as f64).min(1.0)
        }
    }

    /// A model for windows of `frames x coeffs`.
    pub fn init(&self, frames: usize, coeffs: usize, device: &Device) -> Vae {
        let chain = |widths: &[usize]| -> Vec<Linear> {
            widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect()
        };
        let latent = |width: usize| LinearConfig::new(width, self.latent).init(device);
        match self.encoder {
            VaeEncoder::Dense => {
                let input = frames * coeffs;
                let mut down = vec![input];
                down.extend(&self.hidden);
                let top = *down.last().expect("input");
                let mut up = vec![self.latent];
                up.extend(self.hidden.iter().rev());
                let bottom = *up.last().expect("latent");
                Vae {
                    encoder: chain(&down),
                    conv_down: Vec::new(),
                    mean: latent(top),
                    log_var: latent(top),
                    decoder: chain(&up),
                    output: LinearConfig::new(bottom, input).init(device),
                    conv_up: Vec::new(),
                    code_shape: [0; 3],
                }
            }
            VaeEncoder::Conv => {
                let (conv_down, conv_up, code_shape) = conv_stack(
                    &self.channels,
                    self.kernel,
                    self.stride,
                    [frames, coeffs],
                    device,
                );
                let code = code_shape.iter().product::<usize>();
                Vae {
                    encoder: Vec::new(),
                    conv_down,
                    mean: latent(code),
                    log_var: latent(code),
                    decoder: Vec::new(),
                    output: LinearConfig::new(self.latent, code).init(device),
                    conv_up,
                    code_shape,
                }
            }
        }
    }
}

impl Vae {
    /// Latent size.
    pub fn latent(&self) -> usize {
        self.mean.weight.dims()[1]
    }

    /// The posterior mean of each window `[batch, latent]`.
    pub fn encode(&self, x: Tensor<3>) -> Tensor<2> {
        self.mean.forward(self.encoder_hidden(x))
    }

    /// Encodes, samples `z = mean + exp(log_var / 2) * noise` (the mean when
    /// `noise` is `None`, as at evaluation) and decodes.
    pub fn forward(&self, x: Tensor<3>, noise: Option<Tensor<2>>) -> VaeOutput {
        let [_, frames, coeffs] = x.dims();
        let [mean, raw] = self.posterior(x);
        let z = match noise {
            Some(eps) => sample_with_kl(mean.clone(), raw.clone(), eps, frames * coeffs, 0.0).0,
            None => mean.clone(),
        };
        let reconstruction = self.decode_output(self.decode_hidden(z), frames, coeffs);
        let kl = kl_per_sample(mean, raw, frames * coeffs);
        VaeOutput { reconstruction, kl }
    }

    /// The output layer (and a conv decoder) on the last hidden layer `d`.
    fn decode_output(&self, d: Tensor<2>, frames: usize, coeffs: usize) -> Tensor<3> {
        let [batch, _] = d.dims();
        if self.conv_up.is_empty() {
            self.output.forward(d).reshape([batch, frames, coeffs])
        } else {
            let [c, h, w] = self.code_shape;
            let code = relu(self.output.forward(d)).reshape([batch, c, h, w]);
            conv_decode(&self.conv_up, code, frames, coeffs)
        }
    }

    /// The training loss on `x`: reconstruction MSE plus `kl_weight` times
    /// the mean KL. On the GPU a dense decoder's last layer and the MSE are
    /// one operation ([`linear_mse`]; after a convolution the MSE alone is,
    /// [`mse`]), and so are the sample and the KL term ([`sample_with_kl`]).
    pub fn loss(&self, x: Tensor<3>, noise: Option<Tensor<2>>, kl_weight: f64) -> Tensor<1> {
        let [batch, frames, coeffs] = x.dims();
        let values = frames * coeffs;
        let flat = x.clone().reshape([batch, values]);
        let [mean, raw] = self.posterior(x);
        // With noise the KL term comes with the sample (added once, below).
        let (z, kl) = match noise {
            Some(eps) => {
                let (z, term) = sample_with_kl(mean, raw, eps, values, kl_weight);
                (z, term)
            }
            None => {
                let term = kl_per_sample(mean.clone(), raw, values).mean() * kl_weight;
                (mean, term)
            }
        };
        let d = self.decode_hidden(z);
        let mse = if self.conv_up.is_empty() {
            linear_mse(&self.output, d, flat)
        } else {
            let recon = self.decode_output(d, frames, coeffs);
            mse(recon.reshape([batch, values]), flat)
        };
        if kl_weight > 0.0 { mse + kl } else { mse }
    }

    /// The posterior's mean and log-variance (before its clamp), `[batch, latent]`.
    fn posterior(&self, x: Tensor<3>) -> [Tensor<2>; 2] {
        let h = self.encoder_hidden(x);
        [self.mean.forward(h.clone()), self.log_var.forward(h)]
    }

    /// The encoder's last hidden layer, the input of the mean and log-variance.
    fn encoder_hidden(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, frames, coeffs] = x.dims();
        let mut h = if self.conv_down.is_empty() {
            x.reshape([batch, frames * coeffs])
        } else {
            conv_encode(&self.conv_down, x).reshape([batch, self.code_shape.iter().product()])
        };
        for layer in &self.encoder {
            h = relu(layer.forward(h));
        }
        h
    }

    /// The decoder's hidden layers on a latent code: the output layer's input.
    fn decode_hidden(&self, z: Tensor<2>) -> Tensor<2> {
        let mut d = z;
        for layer in &self.decoder {
            d = relu(layer.forward(d));
        }
        d
    }
}
