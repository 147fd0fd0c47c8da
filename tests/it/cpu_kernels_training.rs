//! Training through the CPU kernels and the fused Adam gives what training
//! through burn's own operations and Adam gives: the same seed, the same initial model (parameters
//! initialise lazily in order of first use, and the kernels keep that order),
//! the same losses step after step. The kernels are switched for this test's
//! thread only, so it runs beside the others.

use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use earshot::models::cpu::with_kernels;
use earshot::models::{
    CaeConfig, Cell, DenseConfig, ModelConfig, RnnConfig, VaeConfig, VaeEncoder,
};
use earshot::train::fused_adam::adam_for;

/// Losses of three steps (Adam, else plain SGD) on one fixed batch, from the seed.
fn losses(config: &ModelConfig, adam: bool) -> Vec<f32> {
    let device = Device::flex().autodiff();
    device.seed(7);
    let (batch, frames, coeffs) = (40, 32, 20);
    let values: Vec<f32> = (0..batch * frames * coeffs)
        .map(|i| ((i % 977) as f32 * 0.37).sin() + ((i / 640) as f32 * 0.11).cos())
        .collect();
    let x = Tensor::<3>::from_data(TensorData::new(values, [batch, frames, coeffs]), &device);
    let mut model = config.init(frames, coeffs, &device).unwrap();
    // Burn's Adam with the kernels off, the fused one with them on.
    let mut optim = match adam {
        true => adam_for(&device, Some(1e-4)),
        false => SgdConfig::new().init(),
    };
    let lr = if adam { 1e-3 } else { 1e-2 };
    let mut out = Vec::new();
    for _ in 0..3 {
        let noise = model
            .noise_dim()
            .map(|d| Tensor::<2>::zeros([batch, d], &device));
        let loss = model.loss(x.clone(), noise, 0.5);
        out.push(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
    }
    out
}

#[test]
fn kernels_train_as_burn_does() {
    let configs = [
        ModelConfig::Dense(DenseConfig::default()),
        ModelConfig::Rnn(RnnConfig {
            name: Some("lstm".into()),
            ..Default::default()
        }),
        ModelConfig::Rnn(RnnConfig {
            name: Some("bilstm, 2 layers".into()),
            bidirectional: true,
            layers: 2,
            ..Default::default()
        }),
        ModelConfig::Rnn(RnnConfig {
            name: Some("gru".into()),
            cell: Cell::Gru,
            ..Default::default()
        }),
        ModelConfig::Cae(CaeConfig {
            latent: Some(16),
            ..Default::default()
        }),
        ModelConfig::Cae(CaeConfig {
            name: Some("cae 5x5 stride 3".into()),
            channels: vec![8, 8, 4],
            kernel: 5,
            stride: 3,
            latent: None,
            ..Default::default()
        }),
        ModelConfig::Vae(VaeConfig {
            name: Some("conv vae".into()),
            encoder: VaeEncoder::Conv,
            ..Default::default()
        }),
    ];
    for config in &configs {
        for adam in [false, true] {
            let burn = with_kernels(false, || losses(config, adam));
            let ours = with_kernels(true, || losses(config, adam));
            for (step, (a, b)) in ours.iter().zip(&burn).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs(),
                    "{} ({}) step {step}: {a} with the kernels, {b} with burn's ops",
                    config.name(),
                    if adam { "adam" } else { "sgd" }
                );
            }
        }
    }
}
