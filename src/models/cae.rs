//! A 2-D convolutional autoencoder over `[1, coeffs, frames]` patches: strided
//! convolutions down, transposed convolutions back to the exact input shape.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use super::ae_score::{
    AeScore, default_latent_components, default_latent_neighbors, is_default_components,
    is_default_neighbors,
};

use super::ops::conv::{conv_transpose2d, conv2d};

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
    /// learn to copy it, anomalies included: an experiment that leaves it out
    /// gets [`DEFAULT_LATENT`] (see [`CaeConfig::resolve_default_latent`]);
    /// `latent = 0` asks for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent: Option<usize>,
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

pub(super) fn default_channels() -> Vec<usize> {
    vec![16, 32]
}
pub(super) fn default_kernel() -> usize {
    3
}
pub(super) fn default_stride() -> usize {
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
            score: AeScore::Mse,
            latent_components: default_latent_components(),
            latent_neighbors: default_latent_neighbors(),
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

/// The bottleneck an experiment's `cae` gets when it names none.
pub const DEFAULT_LATENT: usize = 16;

impl CaeConfig {
    /// Checks the layer settings.
    pub fn validate(&self) -> Result<(), String> {
        validate_conv(&self.channels, self.kernel, self.stride)
    }

    /// For a config as a user wrote it: no `latent` becomes [`DEFAULT_LATENT`]
    /// (a CAE without a bottleneck can copy its input and detect nothing) and
    /// `latent = 0` becomes none. Records of trained trials are read as
    /// written, so models trained before this default still load.
    pub fn resolve_default_latent(&mut self) {
        self.latent = match self.latent {
            None => Some(DEFAULT_LATENT),
            Some(0) => None,
            Some(n) => Some(n),
        };
    }

    /// A model for windows of `frames x coeffs`; each transposed convolution gets
    /// the output padding that restores its encoder input's size exactly.
    pub fn init(&self, frames: usize, coeffs: usize, device: &Device) -> ConvAe {
        let (encoder, decoder, code_shape) = conv_stack(
            &self.channels,
            self.kernel,
            self.stride,
            [frames, coeffs],
            device,
        );
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

/// Checks a convolution stack's settings (shared with the convolutional VAE).
pub(super) fn validate_conv(
    channels: &[usize],
    kernel: usize,
    stride: usize,
) -> Result<(), String> {
    if channels.is_empty() || channels.contains(&0) {
        return Err("channels must list at least one width, each >= 1".into());
    }
    if kernel == 0 || stride == 0 || kernel.is_multiple_of(2) {
        return Err(format!(
            "kernel must be odd and stride >= 1 (kernel {kernel}, stride {stride})"
        ));
    }
    Ok(())
}

/// Strided convolutions down from `[1, coeffs, frames]` and the transposed
/// convolutions back, each with the output padding that restores its encoder
/// input's size exactly; and `[channels, height, width]` at the bottom.
pub(super) fn conv_stack(
    channels: &[usize],
    kernel: usize,
    stride: usize,
    [frames, coeffs]: [usize; 2],
    device: &Device,
) -> (Vec<Conv2d>, Vec<ConvTranspose2d>, [usize; 3]) {
    let (k, s, p) = (kernel, stride, kernel / 2);
    let mut sizes = vec![[coeffs, frames]];
    let mut widths = vec![1];
    let mut encoder = Vec::new();
    for &c in channels {
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
    for layer in (0..channels.len()).rev() {
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
    (
        encoder,
        decoder,
        [*widths.last().expect("code width"), h, w],
    )
}

/// `[batch, frames, coeffs]` through the convolutions (ReLU after each) to `[batch, channels, h, w]`.
pub(super) fn conv_encode(layers: &[Conv2d], x: Tensor<3>) -> Tensor<4> {
    let [batch, frames, coeffs] = x.dims();
    // [batch, frames, coeffs] -> [batch, 1, coeffs, frames]: time is the image width.
    let mut h = x.swap_dims(1, 2).reshape([batch, 1, coeffs, frames]);
    for conv in layers {
        h = relu(conv2d(conv, h));
    }
    h
}

/// The transposed convolutions (ReLU between them) back to `[batch, frames, coeffs]`.
pub(super) fn conv_decode(
    layers: &[ConvTranspose2d],
    mut h: Tensor<4>,
    frames: usize,
    coeffs: usize,
) -> Tensor<3> {
    let batch = h.dims()[0];
    let last = layers.len() - 1;
    for (i, deconv) in layers.iter().enumerate() {
        h = conv_transpose2d(deconv, h);
        if i < last {
            h = relu(h);
        }
    }
    h.reshape([batch, coeffs, frames]).swap_dims(1, 2)
}

impl ConvAe {
    /// The code of each window `[batch, width]`: the latent vector, or the
    /// flattened last feature map when the model has no latent layer.
    pub fn encode(&self, x: Tensor<3>) -> Tensor<2> {
        let batch = x.dims()[0];
        let [c, hh, ww] = self.code_shape;
        let h = conv_encode(&self.encoder, x).reshape([batch, c * hh * ww]);
        match &self.to_latent {
            Some(down) => down.forward(h),
            None => h,
        }
    }

    /// Reconstructs `[batch, frames, coeffs]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, frames, coeffs] = x.dims();
        let mut h = conv_encode(&self.encoder, x);
        if let (Some(down), Some(up)) = (&self.to_latent, &self.from_latent) {
            let [c, hh, ww] = self.code_shape;
            let z = down.forward(h.reshape([batch, c * hh * ww]));
            h = relu(up.forward(z)).reshape([batch, c, hh, ww]);
        }
        conv_decode(&self.decoder, h, frames, coeffs)
    }
}
