//! The CPU LSTM kernel as one burn operation with a hand-written backward
//! pass (burn's backend-extension API): on the Flex backend an LSTM layer over
//! a whole sequence is one node of the autodiff graph instead of ~15 per step.
//! The same operation runs the GPU kernels on wgpu
//! ([`crate::models::gpu::lstm_op`]); elsewhere the models compose burn's layers.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex, TensorMetadata, backend_extension};
use burn::nn::activation::Activation;
use burn::nn::{BiLstm, GateController, Linear, Lstm};
use burn::prelude::*;

use super::bridge::{contiguous, register_grads, slice, tensor};
use super::lstm::{self, LstmDims, LstmTrace};

/// A whole-sequence LSTM layer as one backend operation.
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait LstmSequenceOps: burn::backend::Backend {
    /// Hidden states `[batch, time, hidden]` of an LSTM layer over `x`
    /// (`[batch, time, input]`), with `weight [input + hidden, 4 hidden]` and
    /// `bias [4 hidden]`, gates in the order input, forget, cell, output.
    #[fusion(dtype = x, shape = crate::models::gpu::lstm_op::hidden_shape(x, weight))]
    fn lstm_sequence(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The hidden states of an LSTM layer over `x`; see [`LstmSequenceOps`].
/// Call only where [`super::supported`] or [`crate::models::gpu::recurrent_supported`] says so.
pub fn lstm_sequence(x: Tensor<3>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<3> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(Dispatch::lstm_sequence(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// Sizes from the shapes of `x` and `weight`.
fn dims(x: &FlexTensor, weight: &FlexTensor) -> LstmDims {
    let xs = x.shape();
    let ws = weight.shape();
    assert!(
        xs.num_dims() == 3 && ws.num_dims() == 2,
        "x is [batch, time, input], weight 2-D"
    );
    let (batch, time, input) = (xs[0], xs[1], xs[2]);
    let hidden = ws[1] / 4;
    assert_eq!(
        ws[0],
        input + hidden,
        "weight is [input + hidden, 4 hidden]"
    );
    LstmDims {
        batch,
        time,
        input,
        hidden,
    }
}

/// The forward pass, keeping what the backward pass needs.
fn run(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> (LstmDims, Saved, FlexTensor) {
    let d = dims(&x, &weight);
    let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
    let trace = lstm::forward(d, slice(&x), slice(&weight), slice(&bias));
    let out = tensor(trace.hidden.clone(), [d.batch, d.time, d.hidden]);
    (d, Saved { x, weight, trace }, out)
}

impl LstmSequenceOps for Flex {
    fn lstm_sequence(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        // No gradient will be asked for: keep no trace.
        let d = dims(&x, &weight);
        let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
        let hidden = lstm::hidden_states(d, slice(&x), slice(&weight), slice(&bias));
        tensor(hidden, [d.batch, d.time, d.hidden])
    }
}

/// Inputs and activations of one forward pass.
#[derive(Debug)]
struct Saved {
    x: FlexTensor,
    weight: FlexTensor,
    trace: LstmTrace,
}

#[derive(Debug)]
struct LstmSequenceBackward;

impl Backward<Flex, 3> for LstmSequenceBackward {
    type State = (LstmDims, Arc<Saved>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = contiguous(grads.consume::<Flex>(&ops.node));
        let (d, s) = ops.state;
        let (x, weight) = (slice(&s.x), slice(&s.weight));
        let want_x = ops.parents[0].is_some();
        let g = lstm::backward(d, x, weight, &s.trace, slice(&grad_hidden), want_x);
        let results = [
            (g.x, vec![d.batch, d.time, d.input]),
            (g.weight, vec![d.input + d.hidden, 4 * d.hidden]),
            (g.bias, vec![4 * d.hidden]),
        ];
        register_grads(grads, ops.parents.map(|p| p.map(|node| node.id)), results);
    }
}

impl<C: CheckpointStrategy> LstmSequenceOps for Autodiff<Flex, C> {
    fn lstm_sequence(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let (bias, bias_node) = bias.into_parts();
        match LstmSequenceBackward
            .prepare::<C>([x_node, weight_node, bias_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (d, saved, out) = run(x, weight, bias);
                prep.finish((d, Arc::new(saved)), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::lstm_sequence(x, weight, bias)),
        }
    }
}

/// `layer.forward(x, None).0` through the CPU kernel where it runs (Flex, f32,
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
    let kernel = super::supported(&device, dtype)
        || crate::models::gpu::recurrent_supported(
            &device,
            dtype,
            4,
            [x.dims()[2], layer.forward.d_hidden, x.dims()[1]],
        );
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
