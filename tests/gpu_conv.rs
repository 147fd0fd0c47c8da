//! The WGSL convolution kernels (im2col / col2im around burn matmuls) give
//! what burn's own Conv2d and ConvTranspose2d give on wgpu (lavapipe in CI),
//! forward and gradients, within 2e-5 of the largest value.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::prelude::*;
use burn::tensor::DeviceKind;
use earshot::models::cpu::conv_op::{conv_transpose2d, conv2d};

mod common;
use common::kernels::{assert_close, assert_grads_close, normal};

fn device() -> Device {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    device.seed(13);
    device
}

#[test]
fn conv2d_kernels_match_burn_forward_and_backward() {
    let device = device();
    // The CAE's first two layers, one with uneven kernel, stride and padding, one unpadded.
    let cases = [
        (
            [1, 16],
            [3, 3],
            [2, 2],
            PaddingConfig2d::Explicit(1, 1, 1, 1),
            [20, 32],
        ),
        (
            [16, 32],
            [3, 3],
            [2, 2],
            PaddingConfig2d::Explicit(1, 1, 1, 1),
            [10, 16],
        ),
        (
            [3, 5],
            [3, 2],
            [1, 2],
            PaddingConfig2d::Explicit(0, 1, 0, 1),
            [7, 9],
        ),
        ([2, 4], [3, 3], [1, 1], PaddingConfig2d::Valid, [5, 6]),
    ];
    for (channels, kernel, stride, padding, [h, w]) in cases {
        let layer = Conv2dConfig::new(channels, kernel)
            .with_stride(stride)
            .with_padding(padding)
            .init(&device);
        let x = normal([3, channels[0], h, w], &device).require_grad();
        let ours = conv2d(&layer, x.clone());
        let theirs = layer.forward(x.clone());
        let what = format!("conv2d {channels:?} kernel {kernel:?} stride {stride:?}");
        assert_close(&format!("{what}: output"), ours.clone(), theirs.clone());
        let r = normal(theirs.dims(), &device);
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        assert_grads_close(&format!("{what}: dx"), &x, &g_ours, &g_theirs);
        assert_grads_close(
            &format!("{what}: dw"),
            &layer.weight.val(),
            &g_ours,
            &g_theirs,
        );
        let b = layer.bias.as_ref().expect("bias").val();
        assert_grads_close(&format!("{what}: db"), &b, &g_ours, &g_theirs);
    }
}

#[test]
fn conv_transpose2d_kernels_match_burn_forward_and_backward() {
    let device = device();
    // The CAE's decoder (output padding restores 20 x 32) and an odd case.
    let cases = [
        ([32, 16], [3, 3], [2, 2], [1, 1], [1, 1], [5, 8]),
        ([16, 1], [3, 3], [2, 2], [1, 1], [1, 1], [10, 16]),
        ([3, 2], [2, 3], [1, 2], [0, 1], [0, 1], [4, 5]),
    ];
    for (channels, kernel, stride, padding, padding_out, [h, w]) in cases {
        let layer = ConvTranspose2dConfig::new(channels, kernel)
            .with_stride(stride)
            .with_padding(padding)
            .with_padding_out(padding_out)
            .init(&device);
        let x = normal([3, channels[0], h, w], &device).require_grad();
        let ours = conv_transpose2d(&layer, x.clone());
        let theirs = layer.forward(x.clone());
        let what = format!("conv_transpose2d {channels:?} kernel {kernel:?} stride {stride:?}");
        assert_close(&format!("{what}: output"), ours.clone(), theirs.clone());
        let r = normal(theirs.dims(), &device);
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        assert_grads_close(&format!("{what}: dx"), &x, &g_ours, &g_theirs);
        assert_grads_close(
            &format!("{what}: dw"),
            &layer.weight.val(),
            &g_ours,
            &g_theirs,
        );
        let b = layer.bias.as_ref().expect("bias").val();
        assert_grads_close(&format!("{what}: db"), &b, &g_ours, &g_theirs);
    }
}
