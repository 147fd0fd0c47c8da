//! The GPU convolutions ([`super::conv`]) as burn operations: the forward
//! pass of [`ConvOps`] on burn's cubecl backend, and under autodiff one graph
//! node whose backward pass is [`ConvBackwardOps`] (opaque custom operations
//! through burn's fusion).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Autodiff, Cube, backend_extension};
use burn::tensor::Shape;

use super::conv;
use crate::gpu::register_grads;
use crate::models::cpu::conv::Direction;
use crate::models::cpu::conv_op::{ConvOps, ConvSpec, geometry_of};

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

/// The output shape of [`ConvOps::conv2d_layer`] (for fusion).
pub fn output_shape(x: &Shape, weight: &Shape, spec: &ConvSpec) -> Shape {
    let (g, direction) = geometry_of(x, weight, *spec);
    let side = match direction {
        Direction::Conv => g.small,
        Direction::Transposed => g.big,
    };
    Shape::from([g.batch, side[0], side[1], side[2]])
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
struct Saved {
    x: FloatTensor<Cube>,
    weight: FloatTensor<Cube>,
    spec: ConvSpec,
}

#[derive(Debug)]
struct ConvKernelBackward;

impl Backward<Cube, 3> for ConvKernelBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_out = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let (gx, gw, gb) = Cube::conv2d_layer_backward(s.x, s.weight, grad_out, s.spec);
        register_grads(
            grads,
            ops.parents.map(|p| p.map(|node| node.id)),
            [gx, gw, gb],
        );
    }
}

impl<C: CheckpointStrategy> ConvOps for Autodiff<Cube, C> {
    fn conv2d_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let (bias, bias_node) = bias.into_parts();
        match ConvKernelBackward
            .prepare::<C>([x_node, weight_node, bias_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = Cube::conv2d_layer(x.clone(), weight.clone(), bias, spec);
                prep.finish(Saved { x, weight, spec }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Cube::conv2d_layer(x, weight, bias, spec)),
        }
    }
}
