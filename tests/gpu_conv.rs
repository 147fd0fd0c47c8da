//! The WGSL convolution kernels (im2col / col2im around burn matmuls) give
//! what burn's own Conv2d and ConvTranspose2d give on wgpu (lavapipe in CI),
//! forward and gradients, within 2e-5 of the largest value.

use burn::prelude::*;
use burn::tensor::DeviceKind;

mod common;
use common::conv_cases::{conv_transpose2d_matches_burn, conv2d_matches_burn};

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
