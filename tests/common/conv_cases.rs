//! Earshot's Conv2d / ConvTranspose2d layer functions held to burn's own
//! layers on one device (the CPU kernels on Flex, the WGSL ones on wgpu):
//! the CAE's shapes and odd strides and paddings, forward and every gradient.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::prelude::*;
use earshot::models::ops::conv::{conv_transpose2d, conv2d};

use super::kernels::{assert_close, assert_grads_close, normal};

/// Output, dx, dw and db of `ours` and `theirs` on input `x` agree.
fn assert_same_layer(
    what: &str,
    x: &Tensor<4>,
    ours: Tensor<4>,
    theirs: Tensor<4>,
    weight: &Tensor<4>,
    bias: &Tensor<1>,
    device: &Device,
) {
    assert_close(&format!("{what}: output"), ours.clone(), theirs.clone());
    let r = normal(theirs.dims(), device);
    let g_ours = (ours * r.clone()).sum().backward();
    let g_theirs = (theirs * r).sum().backward();
    assert_grads_close(&format!("{what}: dx"), x, &g_ours, &g_theirs);
    assert_grads_close(&format!("{what}: dw"), weight, &g_ours, &g_theirs);
    assert_grads_close(&format!("{what}: db"), bias, &g_ours, &g_theirs);
}

/// [`conv2d`] against burn's `Conv2d` on a batch of `batch`.
pub fn conv2d_matches_burn(device: &Device, batch: usize) {
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
            .init(device);
        let x = normal([batch, channels[0], h, w], device).require_grad();
        let ours = conv2d(&layer, x.clone());
        let theirs = layer.forward(x.clone());
        let bias = layer.bias.as_ref().expect("bias").val();
        assert_same_layer(
            &format!("conv2d {channels:?} kernel {kernel:?} stride {stride:?}"),
            &x,
            ours,
            theirs,
            &layer.weight.val(),
            &bias,
            device,
        );
    }
}

/// [`conv_transpose2d`] against burn's `ConvTranspose2d` on a batch of `batch`.
pub fn conv_transpose2d_matches_burn(device: &Device, batch: usize) {
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
            .init(device);
        let x = normal([batch, channels[0], h, w], device).require_grad();
        let ours = conv_transpose2d(&layer, x.clone());
        let theirs = layer.forward(x.clone());
        let bias = layer.bias.as_ref().expect("bias").val();
        assert_same_layer(
            &format!("conv_transpose2d {channels:?} kernel {kernel:?} stride {stride:?}"),
            &x,
            ours,
            theirs,
            &layer.weight.val(),
            &bias,
            device,
        );
    }
}
