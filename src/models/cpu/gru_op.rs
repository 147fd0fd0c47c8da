//! The CPU GRU kernel ([`super::gru`]) as one burn operation with a
//! hand-written backward pass, for burn's own `Gru` module on the Flex
//! backend: its parameters are joined gate by gate for the call (a few cheap,
//! differentiable concatenations), so models and checkpoints keep burn's layout.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex, TensorMetadata, backend_extension};
use burn::nn::Linear;
use burn::nn::activation::Activation;
use burn::nn::gru::Gru;
use burn::prelude::*;

use super::bridge::{contiguous, register_grads, slice, supported, tensor};
use super::gru::{self, GruDims, GruTrace};

/// A whole-sequence GRU layer as one backend operation (the CPU kernel on
/// Flex, the GPU kernels on wgpu: [`crate::models::gpu::gru_op`]).
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait GruSequenceOps: burn::backend::Backend {
    /// Hidden states `[batch, time, hidden]` for `x [batch, time, input]`, with
    /// `w_input [input, 3 hidden]`, `w_hidden [hidden, 3 hidden]` and their
    /// biases `[3 hidden]`, gates in the order update, reset, new.
    #[fusion(dtype = x, shape = crate::models::gpu::gru_op::hidden_shape(x, w_hidden))]
    fn gru_sequence(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        b_input: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        b_hidden: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// `layer.forward(x, None)` through the CPU or GPU kernels where they run (Flex or wgpu, f32,
/// burn's default GRU: reset after the product, sigmoid and tanh, no clip),
/// else through burn.
pub fn gru(layer: &Gru, x: Tensor<3>) -> Tensor<3> {
    let standard = layer.reset_after
        && layer.clip.is_none()
        && matches!(layer.gate_activation, Activation::Sigmoid(_))
        && matches!(layer.hidden_activation, Activation::Tanh(_));
    let (device, dtype) = (x.device(), x.dtype());
    let kernel = supported(&device, dtype)
        || crate::models::gpu::recurrent_supported(
            &device,
            dtype,
            3,
            [x.dims()[2], layer.d_hidden, x.dims()[1]],
        );
    if !(standard && kernel) {
        return layer.forward(x, None);
    }
    // Parameters are read in the order burn's own forward pass reads them, gate
    // by gate: they initialise lazily from the seeded generator in order of
    // first use, so this keeps a seed's initial model the same on every device.
    let bias = |linear: &Linear| match &linear.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([layer.d_hidden], &x.device()),
    };
    let (mut w, mut b, mut u, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for gate in [&layer.update_gate, &layer.reset_gate, &layer.new_gate] {
        w.push(gate.input_transform.weight.val());
        u.push(gate.hidden_transform.weight.val());
        b.push(bias(&gate.input_transform));
        c.push(bias(&gate.hidden_transform));
    }
    let (w_input, b_input) = (Tensor::cat(w, 1), Tensor::cat(b, 0));
    let (w_hidden, b_hidden) = (Tensor::cat(u, 1), Tensor::cat(c, 0));
    use burn::backend::Dispatch;
    Tensor::from_dispatch(Dispatch::gru_sequence(
        x.into_dispatch(),
        w_input.into_dispatch(),
        b_input.into_dispatch(),
        w_hidden.into_dispatch(),
        b_hidden.into_dispatch(),
    ))
}

/// Sizes from the shapes of `x` and `w_hidden`.
fn dims(x: &FlexTensor, w_hidden: &FlexTensor) -> GruDims {
    let (xs, ws) = (x.shape(), w_hidden.shape());
    assert!(
        xs.num_dims() == 3 && ws.num_dims() == 2,
        "x is [batch, time, input]"
    );
    GruDims {
        batch: xs[0],
        time: xs[1],
        input: xs[2],
        hidden: ws[0],
    }
}

/// The five inputs, laid out contiguously.
type Inputs = [FlexTensor; 5];

fn run(inputs: Inputs, keep: bool) -> (GruDims, Inputs, GruTrace) {
    let inputs = inputs.map(contiguous);
    let d = dims(&inputs[0], &inputs[3]);
    let [x, w, b, u, c] = &inputs;
    let trace = gru::forward(d, slice(x), (slice(w), slice(b), slice(u), slice(c)), keep);
    (d, inputs, trace)
}

impl GruSequenceOps for Flex {
    fn gru_sequence(
        x: FlexTensor,
        w_input: FlexTensor,
        b_input: FlexTensor,
        w_hidden: FlexTensor,
        b_hidden: FlexTensor,
    ) -> FlexTensor {
        let (d, _, trace) = run([x, w_input, b_input, w_hidden, b_hidden], false);
        tensor(trace.hidden, [d.batch, d.time, d.hidden])
    }
}

/// Inputs and activations of one forward pass.
#[derive(Debug)]
struct Saved {
    inputs: Inputs,
    trace: GruTrace,
}

#[derive(Debug)]
struct GruSequenceBackward;

impl Backward<Flex, 5> for GruSequenceBackward {
    type State = (GruDims, Arc<Saved>);

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = contiguous(grads.consume::<Flex>(&ops.node));
        let (d, s) = ops.state;
        let [x, w, b, u, c] = &s.inputs;
        let weights = (slice(w), slice(b), slice(u), slice(c));
        let want_x = ops.parents[0].is_some();
        let g = gru::backward(d, slice(x), weights, &s.trace, slice(&grad_hidden), want_x);
        let h3 = 3 * d.hidden;
        let results = [
            (g.x, vec![d.batch, d.time, d.input]),
            (g.w_input, vec![d.input, h3]),
            (g.b_input, vec![h3]),
            (g.w_hidden, vec![d.hidden, h3]),
            (g.b_hidden, vec![h3]),
        ];
        register_grads(grads, ops.parents.map(|p| p.map(|node| node.id)), results);
    }
}

impl<C: CheckpointStrategy> GruSequenceOps for Autodiff<Flex, C> {
    fn gru_sequence(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        b_input: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        b_hidden: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (w, w_node) = w_input.into_parts();
        let (b, b_node) = b_input.into_parts();
        let (u, u_node) = w_hidden.into_parts();
        let (c, c_node) = b_hidden.into_parts();
        match GruSequenceBackward
            .prepare::<C>([x_node, w_node, b_node, u_node, c_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (d, inputs, trace) = run([x, w, b, u, c], true);
                let out = tensor(trace.hidden.clone(), [d.batch, d.time, d.hidden]);
                prep.finish((d, Arc::new(Saved { inputs, trace })), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::gru_sequence(x, w, b, u, c)),
        }
    }
}
