//! A whole-sequence GRU layer as one backend operation ([`GruSequenceOps`])
//! for burn's own `Gru` module: its parameters are joined gate by gate for the
//! call (a few cheap, differentiable concatenations), so models and
//! checkpoints keep burn's layout. Its shape, entry function and autodiff node
//! are here once; the CPU kernel (`models::cpu`) and the GPU kernels
//! (`models::gpu`) implement [`GruKernels`].

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, backend_extension};
use burn::nn::Linear;
use burn::nn::activation::Activation;
use burn::nn::gru::Gru;
use burn::prelude::*;

use super::register_grads;

/// A whole-sequence GRU layer as one backend operation (the CPU kernel on
/// Flex, the GPU kernels on wgpu).
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait GruSequenceOps: burn::backend::Backend {
    /// Hidden states `[batch, time, hidden]` for `x [batch, time, input]`, with
    /// `w_input [input, 3 hidden]`, `w_hidden [hidden, 3 hidden]` and their
    /// biases `[3 hidden]`, gates in the order update, reset, new.
    #[fusion(dtype = x, shape = hidden_shape(x, w_hidden))]
    fn gru_sequence(
        x: FloatTensor<Self>,
        w_input: FloatTensor<Self>,
        b_input: FloatTensor<Self>,
        w_hidden: FloatTensor<Self>,
        b_hidden: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// What a backend's kernels do for a layer under training: the forward pass
/// keeping what the backward pass needs, and the backward pass.
pub trait GruKernels: GruSequenceOps {
    /// What the backward pass needs of one forward pass.
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// The hidden states, and what the backward pass needs.
    fn forward_saving(inputs: [FloatTensor<Self>; 5]) -> (FloatTensor<Self>, Self::Saved);

    /// Gradients by `x` (only when `want_x`; else any tensor), `w_input`,
    /// `b_input`, `w_hidden` and `b_hidden`.
    fn backward(
        saved: Self::Saved,
        grad_hidden: FloatTensor<Self>,
        want_x: bool,
    ) -> [FloatTensor<Self>; 5];
}

/// The output shape of [`GruSequenceOps::gru_sequence`] (for fusion).
pub fn hidden_shape(x: &Shape, w_hidden: &Shape) -> Shape {
    Shape::from([x[0], x[1], w_hidden[0]])
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
    let dims = [x.dims()[2], layer.d_hidden, x.dims()[1]];
    let kernel = super::placement::recurrent_kernels_run(&device, dtype, 3, dims);
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

/// The autodiff node of a layer on any backend with [`GruKernels`].
#[derive(Debug)]
struct GruBackward;

impl<B: GruKernels> Backward<B, 5> for GruBackward {
    type State = B::Saved;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden = grads.consume::<B>(&ops.node);
        let want_x = ops.parents[0].is_some();
        let results = B::backward(ops.state, grad_hidden, want_x);
        register_grads::<B, 5>(grads, ops.parents.map(|p| p.map(|node| node.id)), results);
    }
}

impl<B: GruKernels, C: CheckpointStrategy> GruSequenceOps for Autodiff<B, C> {
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
        match GruBackward
            .prepare::<C>([x_node, w_node, b_node, u_node, c_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, saved) = B::forward_saving([x, w, b, u, c]);
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gru_sequence(x, w, b, u, c)),
        }
    }
}
