//! The CPU convolutions ([`super::conv`]) as the Flex backend's
//! [`ConvOps`] and [`ConvKernels`] (the operation and its autodiff node are in
//! [`crate::models::ops::conv`]). burn-flex runs every 2-D convolution as a
//! 3-D one with per-call im2col and transpose buffers; here a layer is one
//! im2col and one matmul per chunk.

use std::sync::Arc;

use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};

use super::bridge::{contiguous, slice, tensor};
use super::conv::{self, ConvGeometry, Direction};
use crate::models::ops::conv::{ConvKernels, ConvOps, ConvSpec, geometry_of};

/// The geometry of a call, from the shapes of `x` and `weight`.
fn geometry(x: &FlexTensor, weight: &FlexTensor, spec: ConvSpec) -> (ConvGeometry, Direction) {
    geometry_of(&x.shape(), &weight.shape(), spec)
}

fn output_shape(g: &ConvGeometry, direction: Direction) -> [usize; 4] {
    let side = if direction == Direction::Conv {
        g.small
    } else {
        g.big
    };
    [g.batch, side[0], side[1], side[2]]
}

/// The forward pass; also returns what the backward pass needs (with
/// `training`; else no im2col is kept).
fn run(
    (x, weight, bias): (FlexTensor, FlexTensor, FlexTensor),
    spec: ConvSpec,
    training: bool,
) -> (Saved, FlexTensor) {
    let (g, direction) = geometry(&x, &weight, spec);
    let (x, weight) = (contiguous(x), contiguous(weight));
    let bias = contiguous(bias);
    let inputs = (slice(&x), slice(&weight), Some(slice(&bias)));
    let y = conv::forward(g, direction, inputs, training);
    let out = tensor(y.out, output_shape(&g, direction));
    let cols = y.cols;
    (
        Saved {
            g,
            direction,
            x,
            weight,
            cols,
        },
        out,
    )
}

impl ConvOps for Flex {
    fn conv2d_layer(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        spec: ConvSpec,
    ) -> FlexTensor {
        run((x, weight, bias), spec, false).1
    }
}

/// Inputs of one forward pass, and a convolution's im2col of its input.
#[derive(Debug)]
pub struct Saved {
    g: ConvGeometry,
    direction: Direction,
    x: FlexTensor,
    weight: FlexTensor,
    cols: Vec<Vec<f32>>,
}

impl ConvKernels for Flex {
    type Saved = Arc<Saved>;

    fn forward_saving(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        spec: ConvSpec,
    ) -> (FlexTensor, Arc<Saved>) {
        let (saved, out) = run((x, weight, bias), spec, true);
        (out, Arc::new(saved))
    }

    fn backward(s: Arc<Saved>, grad_out: FlexTensor, want_x: bool) -> [FlexTensor; 3] {
        let grad_out = contiguous(grad_out);
        let (g, direction) = (s.g, s.direction);
        let inputs = (slice(&s.x), slice(&s.weight), s.cols.as_slice());
        let d = conv::backward(g, direction, inputs, slice(&grad_out), want_x);
        let input = if direction == Direction::Conv {
            g.big
        } else {
            g.small
        };
        let out_channels = d.bias.len();
        let grad_x = if want_x {
            tensor(d.x, [g.batch, input[0], input[1], input[2]])
        } else {
            tensor(Vec::new(), [0])
        };
        [
            grad_x,
            // [out, in, kh, kw] for a convolution, [in, out, kh, kw] transposed: both [small, big, ..].
            tensor(d.weight, [g.small[0], g.big[0], g.kernel[0], g.kernel[1]]),
            tensor(d.bias, [out_channels]),
        ]
    }
}
