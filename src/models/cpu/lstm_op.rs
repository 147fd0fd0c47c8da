//! The CPU LSTM kernel ([`super::lstm`]) as the Flex backend's
//! [`LstmSequenceOps`] and [`LstmKernels`] (the operation, its entry
//! functions and its autodiff node are in [`crate::models::ops::lstm`]).

use std::sync::Arc;

use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};

use super::bridge::{contiguous, slice, tensor};
use super::lstm::{self, LstmDims, LstmTrace};
use crate::models::ops::lstm::{LstmKernels, LstmSequenceOps};

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
pub struct Saved {
    x: FlexTensor,
    weight: FlexTensor,
    trace: LstmTrace,
}

impl LstmKernels for Flex {
    type Saved = (LstmDims, Arc<Saved>);

    fn forward_saving(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
    ) -> (FlexTensor, (LstmDims, Arc<Saved>)) {
        let (d, saved, out) = run(x, weight, bias);
        (out, (d, Arc::new(saved)))
    }

    fn backward(
        (d, s): (LstmDims, Arc<Saved>),
        grad_hidden: FlexTensor,
        want_x: bool,
    ) -> [FlexTensor; 3] {
        let grad_hidden = contiguous(grad_hidden);
        let (x, weight) = (slice(&s.x), slice(&s.weight));
        let g = lstm::backward(d, x, weight, &s.trace, slice(&grad_hidden), want_x);
        let grad_x = if want_x {
            tensor(g.x, [d.batch, d.time, d.input])
        } else {
            tensor(Vec::new(), [0])
        };
        [
            grad_x,
            tensor(g.weight, [d.input + d.hidden, 4 * d.hidden]),
            tensor(g.bias, [4 * d.hidden]),
        ]
    }
}
