//! The CPU convolutions ([`super::conv`]) as burn operations with hand-written
//! backward passes (burn's backend-extension API), for the Flex backend.
//! burn-flex runs every 2-D convolution as a 3-D one with per-call im2col and
//! transpose buffers; here a layer is one im2col and one matmul per chunk.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Flex, TensorMetadata, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;

use super::bridge::{contiguous, register_grads, slice, supported, tensor};
use super::conv::{self, ConvGeometry, Direction};

/// Stride and padding of a layer; `padding_out` adds rows and columns at the
/// end of a transposed convolution's output (burn's `padding_out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    pub transposed: bool,
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub padding_out: [usize; 2],
}

/// A 2-D convolution or transposed convolution as one backend operation (the
/// CPU kernels on Flex, the GPU kernels on wgpu: [`crate::models::gpu::conv_op`]).
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait ConvOps: burn::backend::Backend {
    /// `x [batch, in, h, w]`; `weight` in burn's layout (`[out, in, kh, kw]`,
    /// transposed: `[in, out, kh, kw]`); `bias [out]`.
    #[fusion(dtype = x, shape = crate::models::gpu::conv_op::output_shape(x, weight, spec))]
    fn conv2d_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self>;
}

/// `layer.forward(x)` through the CPU or GPU kernels where they run (Flex or
/// wgpu, f32, no dilation or groups), else through burn.
pub fn conv2d(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match &layer.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            Some([*top, *left])
        }
        PaddingConfig2d::Valid => Some([0, 0]),
        _ => None,
    };
    match padding {
        Some(padding) if plain(&x, layer.dilation, layer.groups) => {
            let spec = ConvSpec {
                transposed: false,
                stride: layer.stride,
                padding,
                padding_out: [0, 0],
            };
            run_dispatch(
                x,
                layer.weight.val(),
                layer.bias.as_ref().map(|b| b.val()),
                spec,
            )
        }
        _ => layer.forward(x),
    }
}

/// `layer.forward(x)` through the CPU or GPU kernels where they run, else through burn.
pub fn conv_transpose2d(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let fits = (0..2).all(|a| layer.padding_out[a] < layer.stride[a]);
    if !(fits && plain(&x, layer.dilation, layer.groups)) {
        return layer.forward(x);
    }
    let spec = ConvSpec {
        transposed: true,
        stride: layer.stride,
        padding: layer.padding,
        padding_out: layer.padding_out,
    };
    run_dispatch(
        x,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
        spec,
    )
}

fn plain(x: &Tensor<4>, dilation: [usize; 2], groups: usize) -> bool {
    let (device, dtype) = (x.device(), x.dtype());
    let kernel = supported(&device, dtype) || crate::gpu::supported(&device, dtype);
    kernel && dilation == [1, 1] && groups == 1
}

fn run_dispatch(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    spec: ConvSpec,
) -> Tensor<4> {
    use burn::backend::Dispatch;
    let out_channels = weight.dims()[if spec.transposed { 1 } else { 0 }];
    let bias = bias.unwrap_or_else(|| Tensor::zeros([out_channels], &x.device()));
    Tensor::from_dispatch(Dispatch::conv2d_layer(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        spec,
    ))
}

/// The geometry of a call, from the shapes of `x` and `weight`.
fn geometry(x: &FlexTensor, weight: &FlexTensor, spec: ConvSpec) -> (ConvGeometry, Direction) {
    geometry_of(&x.shape(), &weight.shape(), spec)
}

/// The geometry of a call on `x` of shape `xs` with a weight of shape `ws`
/// (the same for the CPU and GPU kernels).
pub fn geometry_of(xs: &Shape, ws: &Shape, spec: ConvSpec) -> (ConvGeometry, Direction) {
    assert!(
        xs.num_dims() == 4 && ws.num_dims() == 4,
        "x and weight are 4-D"
    );
    let kernel = [ws[2], ws[3]];
    let (stride, padding) = (spec.stride, spec.padding);
    let inner = [xs[1], xs[2], xs[3]];
    if spec.transposed {
        assert_eq!(ws[0], xs[1], "transposed weight is [in, out, kh, kw]");
        let size = |a: usize| {
            (inner[a + 1] - 1) * stride[a] + kernel[a] + spec.padding_out[a] - 2 * padding[a]
        };
        let g = ConvGeometry {
            batch: xs[0],
            big: [ws[1], size(0), size(1)],
            small: inner,
            kernel,
            stride,
            padding,
        };
        (g, Direction::Transposed)
    } else {
        assert_eq!(ws[1], xs[1], "weight is [out, in, kh, kw]");
        let size = |a: usize| {
            ConvGeometry::small_size(inner[a + 1], kernel[a], stride[a], padding[a])
                .expect("the window fits the padded input")
        };
        let g = ConvGeometry {
            batch: xs[0],
            big: inner,
            small: [ws[0], size(0), size(1)],
            kernel,
            stride,
            padding,
        };
        (g, Direction::Conv)
    }
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
struct Saved {
    g: ConvGeometry,
    direction: Direction,
    x: FlexTensor,
    weight: FlexTensor,
    cols: Vec<Vec<f32>>,
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_out = contiguous(grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let (g, direction) = (s.g, s.direction);
        let inputs = (slice(&s.x), slice(&s.weight), s.cols.as_slice());
        let want_x = ops.parents[0].is_some();
        let d = conv::backward(g, direction, inputs, slice(&grad_out), want_x);
        let input = if direction == Direction::Conv {
            g.big
        } else {
            g.small
        };
        let out_channels = d.bias.len();
        let results = [
            (d.x, vec![g.batch, input[0], input[1], input[2]]),
            // [out, in, kh, kw] for a convolution, [in, out, kh, kw] transposed: both [small, big, ..].
            (
                d.weight,
                vec![g.small[0], g.big[0], g.kernel[0], g.kernel[1]],
            ),
            (d.bias, vec![out_channels]),
        ];
        register_grads(grads, ops.parents.map(|p| p.map(|node| node.id)), results);
    }
}

impl<C: CheckpointStrategy> ConvOps for Autodiff<Flex, C> {
    fn conv2d_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let (bias, bias_node) = bias.into_parts();
        match ConvBackward
            .prepare::<C>([x_node, weight_node, bias_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (saved, out) = run((x, weight, bias), spec, true);
                prep.finish(Arc::new(saved), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d_layer(x, weight, bias, spec)),
        }
    }
}
