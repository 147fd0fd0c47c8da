//! The WGSL convolution kernels (im2col / col2im around burn matmuls) give
//! what burn's own Conv2d and ConvTranspose2d give on wgpu (lavapipe in CI),
//! forward and gradients, within 2e-5 of the largest value.

use burn::prelude::*;
use burn::tensor::DeviceKind;

use crate::common::conv_cases::{conv_transpose2d_matches_burn, conv2d_matches_burn};

fn device() -> Device {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    device.seed(13);
    device
}

#[test]
fn conv2d_kernels_match_burn_forward_and_backward() {
    conv2d_matches_burn(&device(), 3);
}

#[test]
fn conv_transpose2d_kernels_match_burn_forward_and_backward() {
    conv_transpose2d_matches_burn(&device(), 3);
}

/// A layer whose im2col passes 65,535 workgroups, so the kernels' 2-D grid
/// has a second row (1,400 x 1,400 positions x 9 = 17.6 M column values):
/// the forward pass still matches burn's.
#[test]
fn a_layer_past_one_grid_row_of_workgroups_matches_burn_forward() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    device.seed(5);
    let layer = Conv2dConfig::new([1, 2], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&device);
    let x = Tensor::<4>::random(
        [1, 1, 1400, 1400],
        burn::tensor::Distribution::Default,
        &device,
    );
    let ours = earshot::models::ops::conv::conv2d(&layer, x.clone());
    let theirs = layer.forward(x);
    let diff = (ours - theirs.clone()).abs().max().into_scalar::<f32>();
    let scale = theirs.abs().max().into_scalar::<f32>();
    assert!(
        diff <= 2e-5 * scale,
        "largest difference {diff} (scale {scale})"
    );
}
