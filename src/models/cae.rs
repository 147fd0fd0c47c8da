//! A 2-D convolutional autoencoder over `[1, coeffs, frames]` patches: strided
//! convolutions down, transposed convolutions back to the exact input shape.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::cpu::conv_op::{conv_transpose2d, conv2d};

/// Convolutional autoencoder settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaeConfig {
    /// Trial name (default "cae").
    #[serde(default)]
    pub name: Option<String>,
    /// Output channels of each encoder convolution; the decoder mirrors them.
    #[serde(default = "default_channels")]
    pub channels: Vec<usize>,
    /// Square kernel size.
    #[serde(default = "default_kernel")]
    pub kernel: usize,
    /// Stride of every convolution (downsampling factor per layer).
    #[serde(default = "default_stride")]
    pub stride: usize,
    /// Width of a dense bottleneck between encoder and decoder. Without one the
    /// strided convolutions alone may keep more numbers than the input has and
    /// learn to copy it, anomalies included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent: Option<usize>,
}

fn default_channels() -> Vec<usize> {
    vec![16, 32]
}
fn default_kernel() -> usize {
    3
}
fn default_stride() -> usize {
    2
}

impl Default for CaeConfig {
    fn default() -> Self {
        Self {
            name: None,
            channels: default_channels(),
            kernel: default_kernel(),
            stride: default_stride(),
            latent: None,
        }
    }
}

/// The convolutional autoencoder.
#[derive(Module, Debug)]
pub struct ConvAe {
    encoder: Vec<Conv2d>,
    to_latent: Option<Linear>,
    from_latent: Option<Linear>,
    /// `[channels, height, width]` at the bottleneck.
    code_shape: [usize; 3],
    decoder: Vec<ConvTranspose2d>,
}

impl CaeConfig {
    /// Checks the layer settings.
    pub fn validate(&self) -> Result<(), String> {
        if self.channels.is_empty() || self.channels.contains(&0) {
            return Err("channels must list at least one width, each >= 1".into());
        }
        if self.latent == Some(0) {
            return Err("latent must be >= 1 or absent".into());
        }
        if self.kernel == 0 || self.stride == 0 || self.kernel.is_multiple_of(2) {
            return Err(format!(
                "kernel must be odd and stride >= 1 (kernel {}, stride {})",
                self.kernel, self.stride
            ));
        }
        Ok(())
    }

    /// A model for windows of `frames x coeffs`; each transposed convolution gets
    /// the output padding that restores its encoder input's size exactly.
    pub fn init(&self, frames: usize, coeffs: usize, device: &Device) -> ConvAe {
        let (k, s, p) = (self.kernel, self.stride, self.kernel / 2);
        let mut sizes = vec![[coeffs, frames]];
        let mut widths = vec![1];
        let mut encoder = Vec::new();
        for &c in &self.channels {
            let [h, w] = *sizes.last().expect("input size");
            encoder.push(
                Conv2dConfig::new([*widths.last().expect("input width"), c], [k, k])
                    .with_stride([s, s])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(device),
            );
            sizes.push([(h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1]);
            widths.push(c);
        }
        let mut decoder = Vec::new();
        for layer in (0..self.channels.len()).rev() {
            let ([h_in, w_in], [h_out, w_out]) = (sizes[layer + 1], sizes[layer]);
            let restored = |n: usize| (n - 1) * s + k - 2 * p;
            decoder.push(
                ConvTranspose2dConfig::new([widths[layer + 1], widths[layer]], [k, k])
                    .with_stride([s, s])
                    .with_padding([p, p])
                    .with_padding_out([h_out - restored(h_in), w_out - restored(w_in)])
                    .init(device),
            );
        }
        let [h, w] = *sizes.last().expect("code size");
        let code_shape = [*widths.last().expect("code width"), h, w];
        let code = code_shape.iter().product::<usize>();
        let to_latent = self.latent.map(|l| LinearConfig::new(code, l).init(device));
        let from_latent = self.latent.map(|l| LinearConfig::new(l, code).init(device));
        ConvAe {
            encoder,
            to_latent,
            from_latent,
            code_shape,
            decoder,
        }
    }
}

impl ConvAe {
    /// Reconstructs `[batch, frames, coeffs]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, frames, coeffs] = x.dims();
        // [batch, frames, coeffs] -> [batch, 1, coeffs, frames]: time is the image width.
        let mut h = x.swap_dims(1, 2).reshape([batch, 1, coeffs, frames]);
        for conv in &self.encoder {
            h = relu(conv2d(conv, h));
        }
        if let (Some(down), Some(up)) = (&self.to_latent, &self.from_latent) {
            let [c, hh, ww] = self.code_shape;
            let z = down.forward(h.reshape([batch, c * hh * ww]));
            h = relu(up.forward(z)).reshape([batch, c, hh, ww]);
        }
        let last = self.decoder.len() - 1;
        for (i, deconv) in self.decoder.iter().enumerate() {
            h = conv_transpose2d(deconv, h);
            if i < last {
                h = relu(h);
            }
        }
        h.reshape([batch, coeffs, frames]).swap_dims(1, 2)
    }
}
