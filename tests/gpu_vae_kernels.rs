//! The VAE's fused reparameterisation and KL kernels (`shaders/reparameterize*.wgsl`,
//! `shaders/kl*.wgsl`) on lavapipe against the same arithmetic in burn's
//! operations (the kernels switched off): the sample, the loss term and the
//! gradients by the mean and the raw log-variance, each within 1e-5 of its
//! largest value. Log-variances past the clamp at ±20 and on it, where
//! burn's clamp still passes the gradient, are checked on their own (exp(20)
//! would swamp every other value's error).

use burn::prelude::*;
use burn::tensor::{DeviceKind, Distribution};
use earshot::models::gpu;
use earshot::models::gpu::vae_op::{kl_term, reparameterize};

/// `got` equals `want` within 1e-5 of `want`'s largest magnitude.
fn assert_close<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>) {
    let scale = want.clone().abs().max().into_scalar::<f32>();
    let diff = (got - want).abs().max().into_scalar::<f32>();
    assert!(scale > 0.0, "{what}: all zero");
    assert!(
        diff <= 1e-5 * scale,
        "{what}: largest difference {diff} (largest value {scale})"
    );
}

/// The sample z, the KL term, and the gradients by the mean and the raw
/// log-variance of `sum(z * weights)` and of the term, each on its own (the
/// term's are some 1e-5 of the sample's).
struct Run {
    z: Tensor<2>,
    term: Tensor<1>,
    sample_grads: [Tensor<2>; 2],
    kl_grads: [Tensor<2>; 2],
}

fn run(kernels: bool, inputs: &[Tensor<2>; 4]) -> Run {
    gpu::set_enabled(kernels);
    let [mean, raw, noise, weights] = inputs.clone();
    let leaves = || [mean.clone().require_grad(), raw.clone().require_grad()];
    let [m, r] = leaves();
    let z = reparameterize(m.clone(), r.clone(), noise);
    let grads = (z.clone() * weights).sum().backward();
    let sample_grads = [&m, &r].map(|t| t.grad(&grads).expect("a gradient"));
    let [m, r] = leaves();
    let term = kl_term(m.clone(), r.clone(), 640, 0.7);
    let grads = term.clone().backward();
    let kl_grads = [&m, &r].map(|t| t.grad(&grads).expect("a gradient"));
    gpu::set_enabled(true);
    Run {
        z: z.detach(),
        term: term.detach(),
        sample_grads,
        kl_grads,
    }
}

#[test]
fn fused_sample_and_kl_match_burns_operations_forward_and_backward() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    device.seed(3);
    let normal =
        |scale: f64| Tensor::<2>::random([64, 16], Distribution::Normal(0.0, scale), &device);
    let inputs = [normal(1.0), normal(1.5), normal(1.0), normal(1.0)];
    let (ours, burn) = (run(true, &inputs), run(false, &inputs));
    assert_close("z", ours.z, burn.z);
    assert_close("KL term", ours.term, burn.term);
    let names = ["mean", "raw log-variance"];
    for (k, name) in names.iter().enumerate() {
        let sample = (ours.sample_grads[k].clone(), burn.sample_grads[k].clone());
        assert_close(&format!("sample, d/d{name}"), sample.0, sample.1);
        let kl = (ours.kl_grads[k].clone(), burn.kl_grads[k].clone());
        assert_close(&format!("KL, d/d{name}"), kl.0, kl.1);
    }

    // On the clamp burn's gradient passes, past it there is none.
    let edges = [20.0f32, -20.0, 25.0, -25.0];
    let raw = Tensor::<1>::from_floats(edges, &device).reshape([1, 4]);
    let ones = Tensor::<2>::ones([1, 4], &device);
    let inputs = [ones.clone() * 0.5, raw, ones.clone(), ones];
    let (ours, burn) = (run(true, &inputs), run(false, &inputs));
    let values = |t: &Tensor<2>| -> Vec<f32> { t.clone().into_data().iter::<f32>().collect() };
    // The sample's and the KL's gradients by the log-variance, side by side.
    let got = [values(&ours.sample_grads[1]), values(&ours.kl_grads[1])].concat();
    let want = [values(&burn.sample_grads[1]), values(&burn.kl_grads[1])].concat();
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs(),
            "{got:?} vs burn's {want:?}"
        );
    }
    for start in [0, 4] {
        let edge = &got[start..start + 4];
        assert!(edge[0] != 0.0 && edge[1] != 0.0, "{got:?}");
        assert!(edge[2] == 0.0 && edge[3] == 0.0, "{got:?}");
    }
}
