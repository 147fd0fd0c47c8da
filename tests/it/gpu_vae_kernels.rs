//! The VAE's fused sample-and-KL kernels (`shaders/vae_sample*.wgsl`) on
//! lavapipe against the same arithmetic in burn's operations (the kernels
//! switched off): the sample, the KL term, and the gradients by the mean and
//! the raw log-variance of the loss `sum(z * weights) + term`, each within
//! 1e-5 of its largest value. The KL's gradients are some 1e-5 of the
//! sample's, so they are checked on their own too (weights zero), and so are
//! log-variances past the clamp at ±20 and on it, where burn's clamp still
//! passes the gradient (exp(20) would swamp every other value's error).

use burn::prelude::*;
use burn::tensor::{DeviceKind, Distribution};
use earshot::gpu;
use earshot::models::gpu::vae_op::sample_with_kl;

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

/// z, the term, and the gradients by the mean and the raw log-variance of
/// `sum(z * weights) + term`, with the kernels or with burn's operations.
fn run(kernels: bool, inputs: &[Tensor<2>; 4]) -> (Tensor<2>, Tensor<1>, [Tensor<2>; 2]) {
    gpu::with_kernels(kernels, || run_once(inputs))
}

fn run_once(inputs: &[Tensor<2>; 4]) -> (Tensor<2>, Tensor<1>, [Tensor<2>; 2]) {
    let [mean, raw, noise, weights] = inputs.clone();
    let (mean, raw) = (mean.require_grad(), raw.require_grad());
    let (z, term) = sample_with_kl(mean.clone(), raw.clone(), noise, 640, 0.7);
    let grads = ((z.clone() * weights).sum() + term.clone()).backward();
    let grad = |t: &Tensor<2>| t.grad(&grads).expect("a gradient");
    (z.detach(), term.detach(), [grad(&mean), grad(&raw)])
}

#[test]
fn fused_sample_and_kl_match_burns_operations_forward_and_backward() {
    let device = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    device.seed(3);
    let normal =
        |scale: f64| Tensor::<2>::random([64, 16], Distribution::Normal(0.0, scale), &device);
    let (mean, raw, noise) = (normal(1.0), normal(1.5), normal(1.0));
    for (case, weights) in [("sample and KL", normal(1.0)), ("KL alone", normal(0.0))] {
        let inputs = [mean.clone(), raw.clone(), noise.clone(), weights];
        let (z, term, grads) = run(true, &inputs);
        let (z_ref, term_ref, grads_ref) = run(false, &inputs);
        assert_close(&format!("{case}: z"), z, z_ref);
        assert_close(&format!("{case}: KL term"), term, term_ref);
        let [g_mean, g_raw] = grads;
        let [g_mean_ref, g_raw_ref] = grads_ref;
        assert_close(&format!("{case}: d/dmean"), g_mean, g_mean_ref);
        assert_close(&format!("{case}: d/draw"), g_raw, g_raw_ref);
    }

    // On the clamp burn's gradient passes, past it there is none.
    let edges = Tensor::<1>::from_floats([20.0f32, -20.0, 25.0, -25.0], &device).reshape([1, 4]);
    let ones = Tensor::<2>::ones([1, 4], &device);
    let inputs = [ones.clone() * 0.5, edges, ones.clone(), ones];
    let values = |t: Tensor<2>| -> Vec<f32> { t.into_data().iter::<f32>().collect() };
    let got = values(run(true, &inputs).2[1].clone());
    let want = values(run(false, &inputs).2[1].clone());
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs(),
            "{got:?} vs burn's {want:?}"
        );
    }
    assert!(got[0] != 0.0 && got[1] != 0.0, "{got:?}");
    assert!(got[2] == 0.0 && got[3] == 0.0, "{got:?}");
}
