//! A whole-sequence LSTM layer as one backend operation ([`LstmSequenceOps`]):
//! one node of the autodiff graph instead of ~15 per time step. Its shapes,
//! its entry functions for burn's `BiLstm` and for [`crate::models::lstm`],
//! and its autodiff node are here once; the CPU kernel (`models::cpu`) and
//! the GPU kernels (`models::gpu`) implement [`LstmKernels`].

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, backend_extension};
use burn::nn::activation::Activation;
use burn::nn::{BiLstm, GateController, Linear, Lstm};
use burn::prelude::*;

use super::register_grads;

/// A whole-sequence LSTM layer as one backend operation.
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait LstmSequenceOps: burn::backend::Backend {
    /// Hidden states `[batch, time, hidden]` of an LSTM layer over `x`
    /// (`[batch, time, input]`), with `weight [input + hidden, 4 hidden]` and
    /// `bias [4 hidden]`, gates in the order input, forget, cell, output.
    #[fusion(dtype = x, shape = hidden_shape(x, weight))]
    fn lstm_sequence(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// What a backend's kernels do for a layer under training: the forward pass
/// keeping what the backward pass needs, and the backward pass.
pub trait LstmKernels: LstmSequenceOps {
    /// What the backward pass needs of one forward pass.
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// The hidden states, and what the backward pass needs.
    fn forward_saving(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::Saved);

    /// Gradients by `x` (only when `want_x`; else any tensor), `weight` and `bias`.
    fn backward(
        saved: Self::Saved,
        grad_hidden: FloatTensor<Self>,
        want_x: bool,
    ) -> [FloatTensor<Self>; 3];
}

/// `[batch, time, width]` of `x` with another width.
pub fn with_width(x: &Shape, width: usize) -> Shape {
    Shape::from([x[0], x[1], width])
}

/// The output shape of [`LstmSequenceOps::lstm_sequence`] (for fusion).
pub fn hidden_shape(x: &Shape, weight: &Shape) -> Shape {
    with_width(x, weight[1] / 4)
}

/// The hidden states of an LSTM layer over `x`; see [`LstmSequenceOps`].
/// Call only where [`super::placement::recurrent_kernels_run`] says so.
pub fn lstm_sequence(x: Tensor<3>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<3> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(Dispatch::lstm_sequence(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// `layer.forward(x, None).0` through the CPU or GPU kernels where they run (f32,
/// batch-first, burn's default cells: a forget gate, sigmoid and tanh, no
/// clip), else through burn. The reverse direction is the kernel over the
/// sequence flipped in time, flipped back.
pub fn bilstm(layer: &BiLstm, x: Tensor<3>) -> Tensor<3> {
    let standard = |l: &Lstm| {
        l.forget_gate.is_some()
            && !l.input_forget
            && !l.reverse
            && l.clip.is_none()
            && matches!(l.gate_activation, Activation::Sigmoid(_))
            && matches!(l.cell_activation, Activation::Tanh(_))
            && matches!(l.hidden_activation, Activation::Tanh(_))
    };
    let usable = layer.batch_first && standard(&layer.forward) && standard(&layer.reverse);
    let (device, dtype) = (x.device(), x.dtype());
    let dims = [x.dims()[2], layer.forward.d_hidden, x.dims()[1]];
    let kernel = super::placement::recurrent_kernels_run(&device, dtype, 4, dims);
    if !(usable && kernel) {
        return layer.forward(x, None).0;
    }
    let (w, b) = fused(&layer.forward);
    let ahead = lstm_sequence(x.clone(), w, b);
    let (w, b) = fused(&layer.reverse);
    let back = lstm_sequence(x.flip([1]), w, b).flip([1]);
    Tensor::cat(vec![ahead, back], 2)
}

/// burn's `Lstm` parameters as one gate weight `[input + hidden, 4 hidden]`
/// and bias. They are read in the order burn's forward pass reads them (gate
/// by gate: input, forget, output, cell), because they initialise lazily from
/// the seeded generator in order of first use.
fn fused(lstm: &Lstm) -> (Tensor<2>, Tensor<1>) {
    let forget = lstm.forget_gate.as_ref().expect("checked by the caller");
    let read = |gate: &GateController| {
        let part = |linear: &Linear| {
            let weight = linear.weight.val();
            let bias = linear.bias.as_ref().map(|b| b.val());
            (weight, bias)
        };
        let (w, b_in) = part(&gate.input_transform);
        let (u, b_hidden) = part(&gate.hidden_transform);
        let bias = match (b_in, b_hidden) {
            (Some(a), Some(b)) => a + b,
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => Tensor::zeros([lstm.d_hidden], &w.device()),
        };
        (w, u, bias)
    };
    let [i, f, o, g] = [&lstm.input_gate, forget, &lstm.output_gate, &lstm.cell_gate].map(read);
    // The kernel's gate order: input, forget, cell, output.
    let order = [i, f, g, o];
    let w = Tensor::cat(order.iter().map(|p| p.0.clone()).collect(), 1);
    let u = Tensor::cat(order.iter().map(|p| p.1.clone()).collect(), 1);
    let bias = Tensor::cat(order.iter().map(|p| p.2.clone()).collect(), 0);
    (Tensor::cat(vec![w, u], 0), bias)
}

/// The autodiff node of a layer on any backend with [`LstmKernels`].
#[derive(Debug)]
struct LstmBackward;

impl<B: LstmKernels> Backward<B, 3> for LstmBackward {
    type State = B::Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = grads.consume::<B>(&ops.node);
        let want_x = ops.parents[0].is_some();
        let results = B::backward(ops.state, grad_hidden, want_x);
        register_grads::<B, 3>(grads, ops.parents.map(|p| p.map(|node| node.id)), results);
    }
}

impl<B: LstmKernels, C: CheckpointStrategy> LstmSequenceOps for Autodiff<B, C> {
    fn lstm_sequence(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let (bias, bias_node) = bias.into_parts();
        match LstmBackward
            .prepare::<C>([x_node, weight_node, bias_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, saved) = B::forward_saving(x, weight, bias);
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::lstm_sequence(x, weight, bias)),
        }
    }
}
