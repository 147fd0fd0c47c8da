//! Comparing a hand-written kernel's tensors with burn's own layer's: the
//! largest difference within 2e-5 of the largest reference value (at least 1).

use burn::prelude::*;
use burn::tensor::{Distribution, Gradients};

/// `got` equals `want` to 2e-5 of `want`'s largest magnitude.
pub fn assert_close<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes");
    let scale = want.clone().abs().max().into_scalar::<f32>().max(1.0);
    let diff = (got - want).abs().max().into_scalar::<f32>();
    assert!(
        diff <= 2e-5 * scale,
        "{what}: largest difference {diff} (scale {scale})"
    );
}

/// `tensor`'s gradient is the same in both runs.
pub fn assert_grads_close<const D: usize>(
    what: &str,
    tensor: &Tensor<D>,
    ours: &Gradients,
    theirs: &Gradients,
) {
    let grad = |g| tensor.grad(g).expect("a gradient");
    assert_close(what, grad(ours), grad(theirs));
}

/// Standard normal values of `shape` from `device`'s seeded generator.
pub fn normal<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}
