//! Launching the batch-norm + ReLU kernels on burn's cubecl tensors.

use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::cubecl::server::KernelArguments;

use super::lstm::empty;
use crate::features::gpu::kernels::{WgslKernel, grid};

const FORWARD: &str = include_str!("../../../shaders/batch_norm_relu.wgsl");
const BACKWARD: &str = include_str!("../../../shaders/batch_norm_relu_backward.wgsl");

/// `[rows, channels]` of a 2-D activation.
fn dims(x: &CubeTensor) -> (usize, usize) {
    let shape = x.meta.shape();
    assert_eq!(
        shape.num_dims(),
        2,
        "batch norm + ReLU takes [rows, channels]"
    );
    (shape[0], shape[1])
}

fn kernel(name: &'static str, source: &'static str, rows: usize, epsilon: f64) -> WgslKernel {
    // One thread per row up to 256: the batch is the reduction.
    let threads = rows.next_power_of_two().clamp(32, 256) as u32;
    WgslKernel::new(
        name,
        source,
        vec![
            ("threads", threads.to_string()),
            ("epsilon", format!("{:?}", epsilon as f32)),
        ],
        threads,
    )
}

fn params(like: &CubeTensor, rows: usize, channels: usize) -> burn::cubecl::server::Handle {
    let (width, _) = grid(channels as u32);
    like.client
        .create_from_slice(bytemuck::cast_slice(&[rows as u32, channels as u32, width]))
}

/// `relu(batch_norm(x))` with batch statistics, and those statistics (mean,
/// biased variance).
pub fn forward(
    x: CubeTensor,
    gamma: CubeTensor,
    beta: CubeTensor,
    epsilon: f64,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let (rows, channels) = dims(&x);
    let y = empty(&x, [rows, channels]);
    let mean = empty(&x, [channels]);
    let var = empty(&x, [channels]);
    if rows > 0 && channels > 0 {
        let (x, gamma, beta) = (
            into_contiguous(x),
            into_contiguous(gamma),
            into_contiguous(beta),
        );
        let params = params(&y, rows, channels);
        kernel("batch_norm_relu", FORWARD, rows, epsilon).launch(
            &y.client,
            channels as u32,
            KernelArguments::new().with_buffers(vec![
                x.handle.binding(),
                gamma.handle.binding(),
                beta.handle.binding(),
                y.handle.clone().binding(),
                mean.handle.clone().binding(),
                var.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    (y, mean, var)
}

/// Gradients by `x`, `gamma` and `beta` of [`forward`], from `grad_y`.
pub fn backward(
    x: CubeTensor,
    gamma: CubeTensor,
    saved: [CubeTensor; 3],
    grad_y: CubeTensor,
    epsilon: f64,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let (rows, channels) = dims(&x);
    let grad_x = empty(&x, [rows, channels]);
    let grad_gamma = empty(&x, [channels]);
    let grad_beta = empty(&x, [channels]);
    if rows > 0 && channels > 0 {
        let [mean, var, y] = saved.map(into_contiguous);
        let (x, gamma, grad_y) = (
            into_contiguous(x),
            into_contiguous(gamma),
            into_contiguous(grad_y),
        );
        let params = params(&grad_x, rows, channels);
        kernel("batch_norm_relu_backward", BACKWARD, rows, epsilon).launch(
            &grad_x.client,
            channels as u32,
            KernelArguments::new().with_buffers(vec![
                x.handle.binding(),
                gamma.handle.binding(),
                mean.handle.binding(),
                var.handle.binding(),
                y.handle.binding(),
                grad_y.handle.binding(),
                grad_x.handle.clone().binding(),
                grad_gamma.handle.clone().binding(),
                grad_beta.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    (grad_x, grad_gamma, grad_beta)
}
