//! The GPU LSTM kernels ([`super::lstm`]) as burn's cubecl backend's
//! [`LstmSequenceOps`] and [`LstmKernels`] (the operation and its autodiff node
//! are in [`crate::models::ops::lstm`]). Through burn's fusion the kernels are
//! opaque custom operations ([`LstmTrainOps`]).

use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Cube, backend_extension};
use burn::tensor::Shape;

use super::lstm;
use crate::models::ops::lstm::{LstmKernels, LstmSequenceOps, hidden_shape, with_width};

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
pub struct Saved {
    x: FloatTensor<Cube>,
    weight: FloatTensor<Cube>,
    hidden: FloatTensor<Cube>,
    gates: FloatTensor<Cube>,
    cells: FloatTensor<Cube>,
}

impl LstmKernels for Cube {
    type Saved = Saved;

    fn forward_saving(
        x: FloatTensor<Cube>,
        weight: FloatTensor<Cube>,
        bias: FloatTensor<Cube>,
    ) -> (FloatTensor<Cube>, Saved) {
        let (hidden, gates, cells) = Cube::lstm_sequence_train(x.clone(), weight.clone(), bias);
        let saved = Saved {
            x,
            weight,
            hidden: hidden.clone(),
            gates,
            cells,
        };
        (hidden, saved)
    }

    fn backward(s: Saved, grad_hidden: FloatTensor<Cube>, _want_x: bool) -> [FloatTensor<Cube>; 3] {
        let (gx, gw, gb) =
            Cube::lstm_sequence_backward(s.x, s.weight, s.hidden, s.gates, s.cells, grad_hidden);
        [gx, gw, gb]
    }
}
