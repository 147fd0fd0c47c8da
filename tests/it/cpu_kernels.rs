//! The hand-written CPU kernels give what burn's own layers give, forward and
//! backward, on burn's Flex backend with autodiff: the same layer (same
//! parameters) through the kernel and through burn, the gradients of one loss.

use burn::nn::gru::GruConfig;
use burn::nn::{BiLstmConfig, GateController};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::Gradients;
use earshot::models::lstm::FusedLstm;
use earshot::models::ops::gru::gru;
use earshot::models::ops::lstm::bilstm;

use crate::common::conv_cases::{conv_transpose2d_matches_burn, conv2d_matches_burn};
use crate::common::kernels::{assert_close, assert_grads_close};

fn device() -> Device {
    let device = Device::flex().autodiff();
    device.seed(11);
    device
}

/// Every weight and bias of `gates` has the same gradient in both runs.
fn assert_gate_grads(what: &str, gates: &[&GateController], ours: &Gradients, theirs: &Gradients) {
    for gate in gates {
        for linear in [&gate.input_transform, &gate.hidden_transform] {
            assert_grads_close(&format!("{what} dw"), &linear.weight.val(), ours, theirs);
            if let Some(b) = &linear.bias {
                assert_grads_close(&format!("{what} db"), &b.val(), ours, theirs);
            }
        }
    }
}

#[test]
fn conv2d_matches_burn_forward_and_backward() {
    conv2d_matches_burn(&device(), 9);
}

#[test]
fn conv_transpose2d_matches_burn_forward_and_backward() {
    conv_transpose2d_matches_burn(&device(), 9);
}

#[test]
fn lstm_kernel_matches_the_composed_layer() {
    let device = device();
    let (batch, time, input, hidden) = (37, 12, 20, 16);
    let layer = FusedLstm::new(input, hidden, &device);
    assert!(layer.has_kernel(&device, burn::tensor::DType::F32, 8));
    let x = Tensor::<3>::random(
        [batch, time, input],
        Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();
    let ours = layer.forward_sequence(x.clone());
    let steps: Vec<Tensor<2>> = (0..time)
        .map(|t| x.clone().narrow(1, t, 1).reshape([batch, input]))
        .collect();
    let theirs = Tensor::stack(layer.forward_steps(&steps), 1);
    assert_close("lstm hidden states", ours.clone(), theirs.clone());
    let r = Tensor::<3>::random(
        [batch, time, hidden],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let g_ours = (ours * r.clone()).sum().backward();
    let g_theirs = (theirs * r).sum().backward();
    assert_grads_close("lstm dx", &x, &g_ours, &g_theirs);
    let (w, b) = layer.gate_parameters();
    assert_grads_close("lstm dw", &w, &g_ours, &g_theirs);
    assert_grads_close("lstm db", &b, &g_ours, &g_theirs);
}

#[test]
fn gru_kernel_matches_burns_gru() {
    let device = device();
    let (batch, time, input, hidden) = (70, 32, 20, 64);
    for bias in [true, false] {
        let layer = GruConfig::new(input, hidden, bias).init(&device);
        let x = Tensor::<3>::random(
            [batch, time, input],
            Distribution::Normal(0.0, 1.0),
            &device,
        )
        .require_grad();
        let ours = gru(&layer, x.clone());
        let theirs = layer.forward(x.clone(), None);
        assert_close("gru hidden states", ours.clone(), theirs.clone());
        let r = Tensor::<3>::random(
            [batch, time, hidden],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        assert_grads_close("gru dx", &x, &g_ours, &g_theirs);
        let gates = [&layer.update_gate, &layer.reset_gate, &layer.new_gate];
        assert_gate_grads("gru", &gates, &g_ours, &g_theirs);
    }
}

#[test]
fn bilstm_kernel_matches_burns_bilstm() {
    let device = device();
    let (batch, time, input, hidden) = (37, 12, 20, 16);
    for bias in [true, false] {
        let layer = BiLstmConfig::new(input, hidden, bias).init(&device);
        let x = Tensor::<3>::random(
            [batch, time, input],
            Distribution::Normal(0.0, 1.0),
            &device,
        )
        .require_grad();
        let ours = bilstm(&layer, x.clone());
        let theirs = layer.forward(x.clone(), None).0;
        assert_close("bilstm hidden states", ours.clone(), theirs.clone());
        let r = Tensor::<3>::random(
            [batch, time, 2 * hidden],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * r).sum().backward();
        assert_grads_close("bilstm dx", &x, &g_ours, &g_theirs);
        for lstm in [&layer.forward, &layer.reverse] {
            let forget = lstm.forget_gate.as_ref().unwrap();
            let gates = [&lstm.input_gate, forget, &lstm.output_gate, &lstm.cell_gate];
            assert_gate_grads("bilstm", &gates, &g_ours, &g_theirs);
        }
    }
}

#[test]
fn kernels_run_on_flex_only() {
    use earshot::models::cpu::supported;
    assert!(supported(&Device::flex(), burn::tensor::DType::F32));
    assert!(supported(
        &Device::flex().autodiff(),
        burn::tensor::DType::F32
    ));
    assert!(!supported(&Device::flex(), burn::tensor::DType::F64));
}

#[test]
fn gru_kernel_matches_burns_gru_on_a_repeated_input() {
    let device = device();
    let (batch, time, input, hidden) = (70, 32, 16, 64);
    let layer = GruConfig::new(input, hidden, true).init(&device);
    let latent =
        Tensor::<2>::random([batch, input], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let repeated = || latent.clone().unsqueeze_dim::<3>(1).repeat_dim(1, time);
    let ours = gru(&layer, repeated());
    let theirs = layer.forward(repeated(), None);
    assert_close("gru hidden states", ours.clone(), theirs.clone());
    let r = Tensor::<3>::random(
        [batch, time, hidden],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let g_ours = (ours * r.clone()).sum().backward();
    let g_theirs = (theirs * r).sum().backward();
    assert_grads_close("latent grad", &latent, &g_ours, &g_theirs);
}
