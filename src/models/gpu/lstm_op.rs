//! The GPU LSTM kernels ([`super::lstm`]) as burn operations: the forward
//! pass of [`LstmSequenceOps`] on burn's cubecl backend, and under autodiff
//! one graph node whose backward pass is the backward kernel. Through burn's
//! fusion the kernels are opaque custom operations ([`LstmTrainOps`]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Autodiff, Cube, backend_extension};
use burn::tensor::Shape;

use super::lstm;
use crate::gpu::register_grads;
use crate::models::cpu::lstm_op::LstmSequenceOps;

/// The LSTM layer's training pass on the GPU: forward keeping what the
/// backward pass needs, and the backward pass.
#[backend_extension(Cube, Fusion)]
pub trait LstmTrainOps: burn::backend::Backend {
    /// Hidden states `[batch, time, hidden]`, gate activations `[batch, time,
    /// 4 hidden]` and cell states `[batch, time, hidden]` of an LSTM layer
    /// (see [`LstmSequenceOps::lstm_sequence`]).
    #[fusion(meta = forward_specs)]
    fn lstm_sequence_train(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients by `x`, `weight` and `bias` from `grad_hidden` and what
    /// [`Self::lstm_sequence_train`] returned.
    #[fusion(meta = backward_specs)]
    fn lstm_sequence_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        gates: FloatTensor<Self>,
        cells: FloatTensor<Self>,
        grad_hidden: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `[batch, time, width]` of `x` with another width.
fn with_width(x: &Shape, width: usize) -> Shape {
    Shape::from([x[0], x[1], width])
}

/// The output shape of [`LstmSequenceOps::lstm_sequence`] (for fusion).
pub fn hidden_shape(x: &Shape, weight: &Shape) -> Shape {
    with_width(x, weight[1] / 4)
}

fn forward_specs(
    x: &TensorSpec,
    weight: &TensorSpec,
    _bias: &TensorSpec,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let hidden = TensorSpec::new(hidden_shape(&x.shape, &weight.shape), x.dtype);
    let gates = TensorSpec::new(with_width(&x.shape, weight.shape[1]), x.dtype);
    (hidden.clone(), gates, hidden)
}

fn backward_specs(
    x: &TensorSpec,
    weight: &TensorSpec,
    _hidden: &TensorSpec,
    _gates: &TensorSpec,
    _cells: &TensorSpec,
    _grad_hidden: &TensorSpec,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    let bias = TensorSpec::new(Shape::from([weight.shape[1]]), weight.dtype);
    (x.clone(), weight.clone(), bias)
}

impl LstmTrainOps for CubeBackend {
    fn lstm_sequence_train(
        x: CubeTensor,
        weight: CubeTensor,
        bias: CubeTensor,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        lstm::forward(x, weight, bias)
    }

    fn lstm_sequence_backward(
        x: CubeTensor,
        weight: CubeTensor,
        hidden: CubeTensor,
        gates: CubeTensor,
        cells: CubeTensor,
        grad_hidden: CubeTensor,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        lstm::backward(x, weight, [hidden, gates, cells], grad_hidden)
    }
}

impl LstmSequenceOps for CubeBackend {
    fn lstm_sequence(x: CubeTensor, weight: CubeTensor, bias: CubeTensor) -> CubeTensor {
        lstm::forward(x, weight, bias).0
    }
}

/// What the backward pass needs of one forward pass.
#[derive(Debug, Clone)]
struct Saved {
    x: FloatTensor<Cube>,
    weight: FloatTensor<Cube>,
    hidden: FloatTensor<Cube>,
    gates: FloatTensor<Cube>,
    cells: FloatTensor<Cube>,
}

#[derive(Debug)]
struct LstmKernelBackward;

impl Backward<Cube, 3> for LstmKernelBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let (gx, gw, gb) =
            Cube::lstm_sequence_backward(s.x, s.weight, s.hidden, s.gates, s.cells, grad_hidden);
        register_grads(
            grads,
            ops.parents.map(|p| p.map(|node| node.id)),
            [gx, gw, gb],
        );
    }
}

impl<C: CheckpointStrategy> LstmSequenceOps for Autodiff<Cube, C> {
    fn lstm_sequence(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let (bias, bias_node) = bias.into_parts();
        match LstmKernelBackward
            .prepare::<C>([x_node, weight_node, bias_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (hidden, gates, cells) =
                    Cube::lstm_sequence_train(x.clone(), weight.clone(), bias);
                let saved = Saved {
                    x,
                    weight,
                    hidden: hidden.clone(),
                    gates,
                    cells,
                };
                prep.finish(saved, hidden)
            }
            OpsKind::UnTracked(prep) => prep.finish(Cube::lstm_sequence(x, weight, bias)),
        }
    }
}
