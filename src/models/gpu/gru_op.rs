//! The GPU GRU kernels ([`super::gru`]) as burn's cubecl backend's
//! [`GruSequenceOps`] and [`GruKernels`] (the operation and its autodiff node
//! are in [`crate::models::ops::gru`]); opaque custom operations through
//! burn's fusion ([`GruTrainOps`]).

use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Cube, backend_extension};
use burn::tensor::Shape;

use super::gru;
use crate::models::ops::gru::{GruKernels, GruSequenceOps, hidden_shape};

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
pub struct Saved {
    x: FloatTensor<Cube>,
    w_input: FloatTensor<Cube>,
    w_hidden: FloatTensor<Cube>,
    hidden: FloatTensor<Cube>,
    trace: FloatTensor<Cube>,
}

impl GruKernels for Cube {
    type Saved = Saved;

    fn forward_saving(
        [x, w_input, b_input, w_hidden, b_hidden]: [FloatTensor<Cube>; 5],
    ) -> (FloatTensor<Cube>, Saved) {
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
        (hidden, saved)
    }

    fn backward(s: Saved, grad_hidden: FloatTensor<Cube>, _want_x: bool) -> [FloatTensor<Cube>; 5] {
        let (a, b, c, d, e) =
            Cube::gru_sequence_backward(s.x, s.w_input, s.w_hidden, s.hidden, s.trace, grad_hidden);
        [a, b, c, d, e]
    }
}
