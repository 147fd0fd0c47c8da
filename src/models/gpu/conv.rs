//! 2-D convolutions and transposed convolutions on burn's cubecl tensors:
//! our im2col / col2im kernels (`shaders/im2col.wgsl`, `shaders/col2im.wgsl`)
//! around burn matmuls, one over the whole batch, so a layer is a few
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

use crate::gpu::empty;
use crate::gpu::{WgslKernel, per_value};
use crate::models::ops::conv::{ConvGeometry, ConvSpec, Direction, geometry_of};

const IM2COL: &str = include_str!("../../../shaders/im2col.wgsl");
const COL2IM: &str = include_str!("../../../shaders/col2im.wgsl");
const BATCH_MAJOR: &str = include_str!("../../../shaders/batch_major.wgsl");
const THREADS: u32 = 256;

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
        ("batch", g.batch),
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
    let (groups, width) = per_value(elements, THREADS);
    let params: [u32; 1] = [width];
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

/// The columns `[patch, batch x positions]` of the big image `image`: one
/// matmul by the weight covers every image of the batch.
fn im2col(image: CubeTensor, g: &ConvGeometry) -> CubeTensor {
    let image = into_contiguous(image);
    let columns = empty(&image, [patch(g), g.batch * positions(g)]);
    let n = g.batch * patch(g) * positions(g);
    if n > 0 {
        launch("im2col", IM2COL, g, n, &image, &columns);
    }
    columns
}

/// The big image `[batch, C, H, W]` that `columns` (`[patch, batch x
/// positions]`) sum to.
fn col2im(columns: CubeTensor, g: &ConvGeometry) -> CubeTensor {
    let columns = into_contiguous(columns);
    let image = empty(&columns, [g.batch, g.big[0], g.big[1], g.big[2]]);
    let n = g.batch * g.big.iter().product::<usize>();
    if n > 0 {
        launch("col2im", COL2IM, g, n, &columns, &image);
    }
    image
}

/// The weight as `[small channels, patch]`.
fn weight_matrix(weight: CubeTensor, g: &ConvGeometry) -> CubeTensor {
    B::float_reshape(into_contiguous(weight), shape([g.small[0], patch(g)]))
}

fn transpose(m: CubeTensor) -> CubeTensor {
    B::float_swap_dims(m, 0, 1)
}

/// The small side `[batch, channels, sh, sw]` as `[channels, batch x
/// positions]`, the layout the matmuls take (a copy).
fn channels_first(small: CubeTensor, g: &ConvGeometry) -> CubeTensor {
    let per_image = shape([g.batch, g.small[0], positions(g)]);
    let swapped = B::float_swap_dims(B::float_reshape(into_contiguous(small), per_image), 0, 1);
    B::float_reshape(
        into_contiguous(swapped),
        shape([g.small[0], g.batch * positions(g)]),
    )
}

/// `m`, `[channels, batch x positions]`, as a contiguous `[batch, channels,
/// sh, sw]` small side, with `bias` added per channel where given (one
/// kernel: `shaders/batch_major.wgsl`).
fn batch_first(m: CubeTensor, bias: Option<CubeTensor>, g: &ConvGeometry) -> CubeTensor {
    let m = into_contiguous(m);
    let out = empty(&m, [g.batch, g.small[0], g.small[1], g.small[2]]);
    let n = out.meta.shape().num_elements();
    if n == 0 {
        return out;
    }
    let (groups, width) = per_value(n, THREADS);
    let params = out.client.create_from_slice(bytemuck::cast_slice(&[width]));
    let values = vec![
        ("batch", g.batch.to_string()),
        ("channels", g.small[0].to_string()),
        ("positions", positions(g).to_string()),
        ("with_bias", bias.is_some().to_string()),
    ];
    // Without a bias the binding is the input again, never read.
    let bias = bias.map(into_contiguous).unwrap_or_else(|| m.clone());
    WgslKernel::new("batch_major", BATCH_MAJOR, values, THREADS).launch(
        &out.client,
        groups,
        KernelArguments::new().with_buffers(vec![
            m.handle.clone().binding(),
            bias.handle.clone().binding(),
            out.handle.clone().binding(),
            params.binding(),
        ]),
    );
    out
}

/// `x` through the layer: `[batch, channels, h, w]` out.
pub fn forward(x: CubeTensor, weight: CubeTensor, bias: CubeTensor, spec: ConvSpec) -> CubeTensor {
    let (g, direction) = geometry_of(x.meta.shape(), weight.meta.shape(), spec);
    let w = weight_matrix(weight, &g);
    match direction {
        Direction::Conv => batch_first(B::float_matmul(w, im2col(x, &g)), Some(bias), &g),
        Direction::Transposed => {
            let columns = B::float_matmul(transpose(w), channels_first(x, &g));
            let bias = B::float_reshape(into_contiguous(bias), shape([1, g.big[0], 1, 1]));
            B::float_add(col2im(columns, &g), bias)
        }
    }
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
    let (g, direction) = geometry_of(x.meta.shape(), &weight_shape, spec);
    let w = weight_matrix(weight, &g);
    // The small side as [channels, batch x positions] and the big side's columns.
    let (small, columns) = match direction {
        Direction::Conv => (channels_first(grad_out.clone(), &g), im2col(x, &g)),
        Direction::Transposed => (channels_first(x, &g), im2col(grad_out.clone(), &g)),
    };
    // Both directions: dW = small · columns^T, one matmul over the batch.
    let grad_weight = B::float_matmul(small.clone(), transpose(columns.clone()));
    let grad_weight = B::float_reshape(grad_weight, weight_shape);
    let (grad_x, grad_bias) = match direction {
        Direction::Conv => {
            let grad_x = col2im(B::float_matmul(transpose(w), small.clone()), &g);
            (grad_x, B::float_sum_dim(small, 1))
        }
        Direction::Transposed => {
            let grad_x = batch_first(B::float_matmul(w, columns), None, &g);
            let per_image = shape([g.batch, g.big[0], g.big[1] * g.big[2]]);
            let per_image = B::float_reshape(into_contiguous(grad_out), per_image);
            (grad_x, B::float_sum_dim(B::float_sum_dim(per_image, 2), 0))
        }
    };
    let channels = grad_bias.meta.shape().num_elements();
    (
        grad_x,
        grad_weight,
        B::float_reshape(grad_bias, shape([channels])),
    )
}
