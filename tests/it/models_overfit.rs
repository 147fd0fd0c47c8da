//! Every model of the zoo can memorise a tiny batch: the loss falls at least 10x.

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use earshot::models::{
    CaeConfig, Cell, DenseConfig, ModelConfig, RnnConfig, VaeConfig, VaeEncoder,
};

fn tiny_batch(device: &Device) -> Tensor<3> {
    // Smooth, structured windows (like features), different per sample.
    let (batch, frames, coeffs) = (8, 16, 8);
    let values: Vec<f32> = (0..batch * frames * coeffs)
        .map(|i| {
            let (b, t, c) = (i / (frames * coeffs), (i / coeffs) % frames, i % coeffs);
            ((b as f32 + 1.0) * 0.3 * t as f32 / frames as f32 + c as f32 * 0.7).sin()
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, frames, coeffs]), device)
}

fn loss_ratio(config: ModelConfig, steps: usize, lr: f64) -> f64 {
    let device = Device::flex().autodiff();
    device.seed(7);
    let x = tiny_batch(&device);
    let mut model = config.init(16, 8, &device).expect("an autoencoder");
    let mut optim = AdamConfig::new().init();
    let mut first = None;
    let mut last = f64::NAN;
    for _ in 0..steps {
        let noise = model
            .noise_dim()
            .map(|d| Tensor::<2>::zeros([8, d], &device));
        let loss = model.loss(x.clone(), noise, 0.0);
        last = loss.clone().into_scalar::<f32>() as f64;
        first.get_or_insert(last);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
    }
    first.unwrap() / last
}

#[test]
fn dense_overfits() {
    let ratio = loss_ratio(
        ModelConfig::Dense(DenseConfig {
            hidden: vec![64, 32],
            bottleneck: 8,
            ..Default::default()
        }),
        300,
        3e-3,
    );
    assert!(ratio >= 10.0, "loss fell only {ratio:.1}x");
}

#[test]
fn cae_overfits() {
    for latent in [None, Some(8)] {
        let ratio = loss_ratio(
            ModelConfig::Cae(CaeConfig {
                latent,
                ..Default::default()
            }),
            300,
            3e-3,
        );
        assert!(
            ratio >= 10.0,
            "latent {latent:?}: loss fell only {ratio:.1}x"
        );
    }
}

#[test]
fn lstm_and_gru_overfit() {
    for cell in [Cell::Lstm, Cell::Gru] {
        let config = RnnConfig {
            cell,
            hidden: 32,
            latent: 16,
            ..Default::default()
        };
        let ratio = loss_ratio(ModelConfig::Rnn(config), 300, 1e-2);
        assert!(ratio >= 10.0, "{cell:?}: loss fell only {ratio:.1}x");
    }
}

#[test]
fn bidirectional_two_layer_lstm_overfits() {
    let config = RnnConfig {
        hidden: 24,
        layers: 2,
        latent: 16,
        bidirectional: true,
        ..Default::default()
    };
    let ratio = loss_ratio(ModelConfig::Rnn(config), 300, 1e-2);
    assert!(ratio >= 10.0, "loss fell only {ratio:.1}x");
}

#[test]
fn vae_overfits() {
    let config = VaeConfig {
        hidden: vec![64],
        latent: 8,
        ..Default::default()
    };
    let ratio = loss_ratio(ModelConfig::Vae(config), 300, 3e-3);
    assert!(ratio >= 10.0, "loss fell only {ratio:.1}x");
}

#[test]
fn conv_vae_overfits_and_restores_odd_shapes() {
    let config = VaeConfig {
        encoder: VaeEncoder::Conv,
        latent: 8,
        ..Default::default()
    };
    let ratio = loss_ratio(ModelConfig::Vae(config.clone()), 300, 3e-3);
    assert!(ratio >= 10.0, "loss fell only {ratio:.1}x");
    let device = Device::flex();
    for (frames, coeffs) in [(13, 7), (32, 20), (5, 3)] {
        let model = ModelConfig::Vae(config.clone())
            .init(frames, coeffs, &device)
            .unwrap();
        let x = Tensor::<3>::zeros([2, frames, coeffs], &device);
        assert_eq!(
            model.forward(x, None).reconstruction.dims(),
            [2, frames, coeffs]
        );
    }
}

#[test]
fn cae_restores_odd_shapes_exactly() {
    let device = Device::flex();
    for (frames, coeffs) in [(13, 7), (32, 20), (5, 3)] {
        let model = ModelConfig::Cae(CaeConfig::default())
            .init(frames, coeffs, &device)
            .unwrap();
        let x = Tensor::<3>::zeros([2, frames, coeffs], &device);
        assert_eq!(
            model.forward(x, None).reconstruction.dims(),
            [2, frames, coeffs]
        );
    }
}
