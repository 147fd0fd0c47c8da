//! 2-D convolutions and transposed convolutions on burn's cubecl tensors:
//! our im2col / col2im kernels (`shaders/im2col.wgsl`, `shaders/col2im.wgsl`)
//! around burn matmuls, batched over the images, so a layer is a few
//! dispatches each way. burn's own weight gradient gathers its im2col one
//! kernel offset at a time (a slice and a slice-assign per offset: 18
//! dispatches for a 3 x 3 kernel). Geometry as the CPU kernels'
//! ([`crate::models::cpu::conv`]): the big image and the small grid, a
//! convolution maps big to small, a transposed one small to big, and both
//! weights are `[small channels, big channels, kh, kw]`.

use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::cubecl::server::KernelArguments;
use burn::tensor::Shape;

use super::empty;
use crate::features::gpu::kernels::{WgslKernel, grid};
use crate::models::cpu::conv::{ConvGeometry, Direction};
use crate::models::cpu::conv_op::{ConvSpec, geometry_of};

const IM2COL: &str = include_str!("../../../shaders/im2col.wgsl");
const COL2IM: &str = include_str!("../../../shaders/col2im.wgsl");
const THREADS: u32 = 64;

type B = CubeBackend;

fn shape(s: impl Into<Shape>) -> Shape {
    s.into()
}

/// Rows of the columns: one per big channel and kernel offset.
fn patch(g: &ConvGeometry) -> usize {
    g.big[0] * g.kernel[0] * g.kernel[1]
}

fn positions(g: &ConvGeometry) -> usize {
    g.small[1] * g.small[2]
}

/// The geometry as the kernels' template values: each layer's shapes get
/// their own compiled kernel, in which every division is by a constant.
fn geometry_values(g: &ConvGeometry) -> Vec<(&'static str, String)> {
    [
        ("channels", g.big[0]),
        ("h", g.big[1]),
        ("w", g.big[2]),
        ("sh", g.small[1]),
        ("sw", g.small[2]),
        ("kh", g.kernel[0]),
        ("kw", g.kernel[1]),
        ("stride_h", g.stride[0]),
        ("stride_w", g.stride[1]),
        ("pad_h", g.padding[0]),
        ("pad_w", g.padding[1]),
    ]
    .into_iter()
    .map(|(name, value)| (name, value.to_string()))
    .collect()
}

fn launch(
    name: &'static str,
    source: &'static str,
    g: &ConvGeometry,
    elements: usize,
    input: &CubeTensor,
    output: &CubeTensor,
) {
    let groups = elements.div_ceil(THREADS as usize) as u32;
    let (width, _) = grid(groups);
    let params: [u32; 2] = [g.batch as u32, width * THREADS];
    let params = output
        .client
        .create_from_slice(bytemuck::cast_slice(&params));
    WgslKernel::new(name, source, geometry_values(g), THREADS).launch(
        &output.client,
        groups,
        KernelArguments::new().with_buffers(vec![
            input.handle.clone().binding(),
            output.handle.clone().binding(),
            params.binding(),
        ]),
    );
}

/// The columns `[batch, patch, positions]` of the big image `image`.
fn im2col(image: CubeTensor, g: &ConvGeometry) -> CubeTensor {
    let image = into_contiguous(image);
    let columns = empty(&image, [g.batch, patch(g), positions(g)]);
    let n = g.batch * patch(g) * positions(g);
    if n > 0 {
        launch("im2col", IM2COL, g, n, &image, &columns);
    }
    columns
}

/// The big image `[batch, C, H, W]` that `columns` sum to.
fn col2im(columns: CubeTensor, g: &ConvGeometry) -> CubeTensor {
    let columns = into_contiguous(columns);
    let image = empty(&columns, [g.batch, g.big[0], g.big[1], g.big[2]]);
    let n = g.batch * g.big.iter().product::<usize>();
    if n > 0 {
        launch("col2im", COL2IM, g, n, &columns, &image);
    }
    image
}

/// The weight as `[1, small channels, patch]` (a matmul broadcast over images).
fn weight_matrix(weight: CubeTensor, g: &ConvGeometry) -> CubeTensor {
    B::float_reshape(into_contiguous(weight), shape([1, g.small[0], patch(g)]))
}

fn transpose(m: CubeTensor) -> CubeTensor {
    B::float_swap_dims(m, 1, 2)
}

/// `x` through the layer: `[batch, channels, h, w]` out.
pub fn forward(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, spec: ConvSpec) -> CubeTensor {
    let (g, direction) = geometry_of(x.meta.shape(), weight.meta.shape(), spec);
    let w = weight_matrix(weight, &g);
    let (out, channels) = match direction {
        Direction::Conv => {
            let small = B::float_matmul(w, im2col(x, &g));
            let out = shape([g.batch, g.small[0], g.small[1], g.small[2]]);
            (B::float_reshape(small, out), g.small[0])
        }
        Direction::Transposed => {
            let x = B::float_reshape(
                into_contiguous(x),
                shape([g.batch, g.small[0], positions(&g)]),
            );
            (col2im(B::float_matmul(transpose(w), x), &g), g.big[0])
        }
    };
    let bias = B::float_reshape(into_contiguous(bias), shape([1, channels, 1, 1]));
    B::float_add(out, bias)
}

/// Gradients by `x`, `weight` and `bias` from `grad_out`, the gradient by
/// [`forward`]'s output.
pub fn backward(
    x: CubeTensor,
    weight: CubeTensor,
    grad_out: CubeTensor,
    spec: ConvSpec,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let weight_shape = weight.meta.shape().clone();
    let x_shape = x.meta.shape().clone();
    let (g, direction) = geometry_of(&x_shape, &weight_shape, spec);
    let w = weight_matrix(weight, &g);
    let grad_out = into_contiguous(grad_out);
    // Per image, the small side as [channels, positions] and the big side's
    // columns; and the output's channels and values per channel.
    let (small, columns, [channels, per_channel]) = match direction {
        Direction::Conv => {
            let grad = B::float_reshape(
                grad_out.clone(),
                shape([g.batch, g.small[0], positions(&g)]),
            );
            (grad, im2col(x.clone(), &g), [g.small[0], positions(&g)])
        }
        Direction::Transposed => {
            let x = B::float_reshape(
                into_contiguous(x.clone()),
                shape([g.batch, g.small[0], positions(&g)]),
            );
            let output = [g.big[0], g.big[1] * g.big[2]];
            (x, im2col(grad_out.clone(), &g), output)
        }
    };
    // Both directions: dW = sum over images of small · columns^T.
    let grad_weight = B::float_sum_dim(
        B::float_matmul(small.clone(), transpose(columns.clone())),
        0,
    );
    let grad_weight = B::float_reshape(grad_weight, weight_shape);
    let grad_x = match direction {
        Direction::Conv => col2im(B::float_matmul(transpose(w), small), &g),
        Direction::Transposed => B::float_reshape(B::float_matmul(w, columns), x_shape),
    };
    let per_image = B::float_reshape(grad_out, shape([g.batch, channels, per_channel]));
    let grad_bias = B::float_sum_dim(B::float_sum_dim(per_image, 2), 0);
    let grad_bias = B::float_reshape(grad_bias, shape([channels]));
    (grad_x, grad_weight, grad_bias)
}
