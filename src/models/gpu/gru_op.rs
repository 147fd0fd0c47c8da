//! The GPU GRU kernels ([`super::gru`]) as burn operations: the forward pass
//! of [`GruSequenceOps`] on burn's cubecl backend, and under autodiff one
//! graph node whose backward pass is the backward kernel (opaque custom
//! operations through burn's fusion: [`GruTrainOps`]).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Autodiff, Cube, backend_extension};
use burn::tensor::Shape;

use super::gru;
use crate::gpu::register_grads;
use crate::models::cpu::gru_op::GruSequenceOps;

type Five<T> = (T, T, T, T, T);

/// The GRU layer's training pass on the GPU.
#[backend_extension(Cube, Fusion)]
pub trait GruTrainOps: burn::backend::Backend {
    /// Hidden states `[batch, time, hidden]` and the trace `[batch, time, 4
    /// hidden]` (z, r, n, q_n per step) of a GRU layer (see
    /// [`GruSequenceOps::gru_sequence`]).
    #[fusion(meta = forward_specs)]
    fn gru_sequence_train(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        b_input: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        b_hidden: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients by `x`, `w_input`, `b_input`, `w_hidden`, `b_hidden` from
    /// `grad_hidden` and what [`Self::gru_sequence_train`] returned.
    #[fusion(meta = backward_specs)]
    #[allow(clippy::type_complexity)]
    fn gru_sequence_backward(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        trace: FloatTensor<Self>,
        grad_hidden: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// The output shape of [`GruSequenceOps::gru_sequence`] (for fusion).
pub fn hidden_shape(x: &Shape, w_hidden: &Shape) -> Shape {
    Shape::from([x[0], x[1], w_hidden[0]])
}

fn forward_specs(
    x: &TensorSpec,
    _w_input: &TensorSpec,
    _b_input: &TensorSpec,
    w_hidden: &TensorSpec,
    _b_hidden: &TensorSpec,
) -> (TensorSpec, TensorSpec) {
    let hidden = hidden_shape(&x.shape, &w_hidden.shape);
    let trace = Shape::from([x.shape[0], x.shape[1], 4 * w_hidden.shape[0]]);
    (
        TensorSpec::new(hidden, x.dtype),
        TensorSpec::new(trace, x.dtype),
    )
}

fn backward_specs(
    x: &TensorSpec,
    w_input: &TensorSpec,
    w_hidden: &TensorSpec,
    _hidden: &TensorSpec,
    _trace: &TensorSpec,
    _grad_hidden: &TensorSpec,
) -> Five<TensorSpec> {
    let bias = TensorSpec::new(Shape::from([w_hidden.shape[1]]), w_hidden.dtype);
    (
        x.clone(),
        w_input.clone(),
        bias.clone(),
        w_hidden.clone(),
        bias,
    )
}

impl GruTrainOps for CubeBackend {
    fn gru_sequence_train(
        x: CubeTensor,
        w_input: CubeTensor,
        b_input: CubeTensor,
        w_hidden: CubeTensor,
        b_hidden: CubeTensor,
    ) -> (CubeTensor, CubeTensor) {
        gru::forward(x, w_input, b_input, w_hidden, b_hidden)
    }

    fn gru_sequence_backward(
        x: CubeTensor,
        w_input: CubeTensor,
        w_hidden: CubeTensor,
        hidden: CubeTensor,
        trace: CubeTensor,
        grad_hidden: CubeTensor,
    ) -> Five<CubeTensor> {
        let [a, b, c, d, e] = gru::backward(x, w_input, w_hidden, [hidden, trace], grad_hidden);
        (a, b, c, d, e)
    }
}

impl GruSequenceOps for CubeBackend {
    fn gru_sequence(
        x: CubeTensor,
        w_input: CubeTensor,
        b_input: CubeTensor,
        w_hidden: CubeTensor,
        b_hidden: CubeTensor,
    ) -> CubeTensor {
        gru::forward(x, w_input, b_input, w_hidden, b_hidden).0
    }
}

/// What the backward pass needs of one forward pass.
#[derive(Debug, Clone)]
struct Saved {
    x: FloatTensor<Cube>,
    w_input: FloatTensor<Cube>,
    w_hidden: FloatTensor<Cube>,
    hidden: FloatTensor<Cube>,
    trace: FloatTensor<Cube>,
}

#[derive(Debug)]
struct GruKernelBackward;

impl Backward<Cube, 5> for GruKernelBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let (a, b, c, d, e) =
            Cube::gru_sequence_backward(s.x, s.w_input, s.w_hidden, s.hidden, s.trace, grad_hidden);
        register_grads(
            grads,
            ops.parents.map(|p| p.map(|node| node.id)),
            [a, b, c, d, e],
        );
    }
}

impl<C: CheckpointStrategy> GruSequenceOps for Autodiff<Cube, C> {
    fn gru_sequence(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        b_input: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        b_hidden: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x, n0) = x.into_parts();
        let (w_input, n1) = w_input.into_parts();
        let (b_input, n2) = b_input.into_parts();
        let (w_hidden, n3) = w_hidden.into_parts();
        let (b_hidden, n4) = b_hidden.into_parts();
        match GruKernelBackward
            .prepare::<C>([n0, n1, n2, n3, n4])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (hidden, trace) = Cube::gru_sequence_train(
                    x.clone(),
                    w_input.clone(),
                    b_input,
                    w_hidden.clone(),
                    b_hidden,
                );
                let saved = Saved {
                    x,
                    w_input,
                    w_hidden,
                    hidden: hidden.clone(),
                    trace,
                };
                prep.finish(saved, hidden)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(Cube::gru_sequence(x, w_input, b_input, w_hidden, b_hidden))
            }
        }
    }
}
