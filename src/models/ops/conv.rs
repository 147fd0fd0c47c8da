//! A 2-D convolution or transposed convolution layer as one backend operation
//! ([`ConvOps`]): its shapes, its entry functions for burn's `Conv2d` and
//! `ConvTranspose2d`, and its autodiff node, written once. The CPU kernels
//! (`models::cpu`) and the GPU kernels (`models::gpu`) implement
//! [`ConvKernels`]: a training forward pass and the backward pass.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;

use super::register_grads;

/// Stride and padding of a layer; `padding_out` adds rows and columns at the
/// end of a transposed convolution's output (burn's `padding_out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    /// A transposed convolution.
    pub transposed: bool,
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Padding along height and width (both sides).
    pub padding: [usize; 2],
    /// Rows and columns added at the end of a transposed convolution's output.
    pub padding_out: [usize; 2],
}

/// A 2-D convolution or transposed convolution as one backend operation (the
/// CPU kernels on Flex, the GPU kernels on wgpu).
#[backend_extension(Flex, Cube, Fusion, Autodiff)]
pub trait ConvOps: burn::backend::Backend {
    /// `x [batch, in, h, w]`; `weight` in burn's layout (`[out, in, kh, kw]`,
    /// transposed: `[in, out, kh, kw]`); `bias [out]`.
    #[fusion(dtype = x, shape = output_shape(x, weight, spec))]
    fn conv2d_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> FloatTensor<Self>;
}

/// What a backend's kernels do for a layer under training: the forward pass
/// keeping what the backward pass needs, and the backward pass.
pub trait ConvKernels: ConvOps {
    /// What the backward pass needs of one forward pass.
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// The output, and what the backward pass needs.
    fn forward_saving(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        spec: ConvSpec,
    ) -> (FloatTensor<Self>, Self::Saved);

    /// Gradients by `x` (only when `want_x`; else any tensor), `weight` and `bias`.
    fn backward(
        saved: Self::Saved,
        grad_out: FloatTensor<Self>,
        want_x: bool,
    ) -> [FloatTensor<Self>; 3];
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
    let kernel = super::placement::kernels_run(&device, dtype);
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

/// The two sides of one convolution and its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Samples.
    pub batch: usize,
    /// Channels, height, width of the big image.
    pub big: [usize; 3],
    /// Channels, height, width of the small grid.
    pub small: [usize; 3],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Padding along height and width.
    pub padding: [usize; 2],
}

impl ConvGeometry {
    /// The window size of a convolution `big -> small` (floor division, as burn).
    pub fn small_size(big: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
        (big + 2 * padding)
            .checked_sub(kernel)
            .map(|n| n / stride + 1)
    }
}

/// Which side a call computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A convolution: big image in, small grid out.
    Conv,
    /// A transposed convolution: small grid in, big image out.
    Transposed,
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

/// The output shape of [`ConvOps::conv2d_layer`] (for fusion).
pub fn output_shape(x: &Shape, weight: &Shape, spec: &ConvSpec) -> Shape {
    let (g, direction) = geometry_of(x, weight, *spec);
    let side = match direction {
        Direction::Conv => g.small,
        Direction::Transposed => g.big,
    };
    Shape::from([g.batch, side[0], side[1], side[2]])
}

/// The autodiff node of a layer on any backend with [`ConvKernels`].
#[derive(Debug)]
struct ConvBackward;

impl<B: ConvKernels> Backward<B, 3> for ConvBackward {
    type State = B::Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_out = grads.consume::<B>(&ops.node);
        let want_x = ops.parents[0].is_some();
        let results = B::backward(ops.state, grad_out, want_x);
        register_grads::<B, 3>(grads, ops.parents.map(|p| p.map(|node| node.id)), results);
    }
}

impl<B: ConvKernels, C: CheckpointStrategy> ConvOps for Autodiff<B, C> {
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
                let (out, saved) = B::forward_saving(x, weight, bias, spec);
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d_layer(x, weight, bias, spec)),
        }
    }
}
