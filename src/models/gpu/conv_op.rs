//! The GPU convolutions ([`super::conv`]) as burn's cubecl backend's
//! [`ConvOps`] and [`ConvKernels`] (the operation and its autodiff node are in
//! [`crate::models::ops::conv`]); the backward pass is [`ConvBackwardOps`], an
//! opaque custom operation through burn's fusion.

use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Cube, backend_extension};
use burn::tensor::Shape;

use super::conv;
use crate::models::ops::conv::{ConvKernels, ConvOps, ConvSpec, Direction, geometry_of};

/// The backward pass of [`ConvOps::conv2d_layer`] on the GPU.
#[backend_extension(Cube, Fusion)]
pub trait ConvBackwardOps: burn::backend::Backend {
    /// Gradients by `x`, `weight` and `bias` from `grad_out`.
    #[fusion(meta = backward_specs)]
    fn conv2d_layer_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn backward_specs(
    x: &TensorSpec,
    weight: &TensorSpec,
    _grad_out: &TensorSpec,
    spec: &ConvSpec,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let (g, direction) = geometry_of(&x.shape, &weight.shape, *spec);
    let out_channels = match direction {
        Direction::Conv => g.small[0],
        Direction::Transposed => g.big[0],
    };
    let bias = TensorSpec::new(Shape::from([out_channels]), weight.dtype);
    (x.clone(), weight.clone(), bias)
}

impl ConvBackwardOps for CubeBackend {
    fn conv2d_layer_backward(
        x: CubeTensor,
        weight: CubeTensor,
        grad_out: CubeTensor,
        spec: ConvSpec,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        conv::backward(x, weight, grad_out, spec)
    }
}

impl ConvOps for CubeBackend {
    fn conv2d_layer(
        x: CubeTensor,
        weight: CubeTensor,
        bias: CubeTensor,
        spec: ConvSpec,
    ) -> CubeTensor {
        conv::forward(x, weight, bias, spec)
    }
}

/// What the backward pass needs of one forward pass.
#[derive(Debug, Clone)]
pub struct Saved {
    x: FloatTensor<Cube>,
    weight: FloatTensor<Cube>,
    spec: ConvSpec,
}

impl ConvKernels for Cube {
    type Saved = Saved;

    fn forward_saving(
        x: FloatTensor<Cube>,
        weight: FloatTensor<Cube>,
        bias: FloatTensor<Cube>,
        spec: ConvSpec,
    ) -> (FloatTensor<Cube>, Saved) {
        let out = Cube::conv2d_layer(x.clone(), weight.clone(), bias, spec);
        (out, Saved { x, weight, spec })
    }

    fn backward(s: Saved, grad_out: FloatTensor<Cube>, _want_x: bool) -> [FloatTensor<Cube>; 3] {
        let (gx, gw, gb) = Cube::conv2d_layer_backward(s.x, s.weight, grad_out, s.spec);
        [gx, gw, gb]
    }
}
