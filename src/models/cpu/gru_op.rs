//! The CPU GRU kernel ([`super::gru`]) as the Flex backend's
//! [`GruSequenceOps`] and [`GruKernels`] (the operation, its entry function
//! and its autodiff node are in [`crate::models::ops::gru`]).

use std::sync::Arc;

use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};

use super::bridge::{contiguous, slice, tensor};
use super::gru::{self, GruDims, GruTrace};
use crate::models::ops::gru::{GruKernels, GruSequenceOps};

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
pub struct Saved {
    inputs: Inputs,
    trace: GruTrace,
}

impl GruKernels for Flex {
    type Saved = (GruDims, Arc<Saved>);

    fn forward_saving(inputs: Inputs) -> (FlexTensor, (GruDims, Arc<Saved>)) {
        let (d, inputs, trace) = run(inputs, true);
        let out = tensor(trace.hidden.clone(), [d.batch, d.time, d.hidden]);
        (out, (d, Arc::new(Saved { inputs, trace })))
    }

    fn backward(
        (d, s): (GruDims, Arc<Saved>),
        grad_hidden: FlexTensor,
        want_x: bool,
    ) -> [FlexTensor; 5] {
        let grad_hidden = contiguous(grad_hidden);
        let [x, w, b, u, c] = &s.inputs;
        let weights = (slice(w), slice(b), slice(u), slice(c));
        let g = gru::backward(d, slice(x), weights, &s.trace, slice(&grad_hidden), want_x);
        let h3 = 3 * d.hidden;
        let grad_x = if want_x {
            tensor(g.x, [d.batch, d.time, d.input])
        } else {
            tensor(Vec::new(), [0])
        };
        [
            grad_x,
            tensor(g.w_input, [d.input, h3]),
            tensor(g.b_input, [h3]),
            tensor(g.w_hidden, [d.hidden, h3]),
            tensor(g.b_hidden, [h3]),
        ]
    }
}
