//! Launching the bias + batch-norm + ReLU kernels on burn's cubecl tensors.

use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::cubecl::server::KernelArguments;

use super::empty;
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

fn kernel(
    name: &'static str,
    source: &'static str,
    rows: usize,
    epsilon: f64,
    momentum: f64,
) -> WgslKernel {
    // One thread per row up to 256: the batch is the reduction.
    let threads = rows.next_power_of_two().clamp(32, 256) as u32;
    WgslKernel::new(
        name,
        source,
        vec![
            ("threads", threads.to_string()),
            ("epsilon", format!("{:?}", epsilon as f32)),
            ("momentum", format!("{:?}", momentum as f32)),
        ],
        threads,
    )
}

fn params(like: &CubeTensor, rows: usize, channels: usize) -> burn::cubecl::server::Handle {
    let (width, _) = grid(channels as u32);
    like.client
        .create_from_slice(bytemuck::cast_slice(&[rows as u32, channels as u32, width]))
}

/// Batch-norm settings: epsilon, and the running statistics' momentum.
#[derive(Debug, Clone, Copy)]
pub struct NormSettings {
    pub epsilon: f64,
    pub momentum: f64,
}

/// `relu(batch_norm(x + bias))` with batch statistics, and the running mean
/// and variance updated by them.
pub fn forward(
    x: CubeTensor,
    [bias, gamma, beta]: [CubeTensor; 3],
    [running_mean, running_var]: [CubeTensor; 2],
    settings: NormSettings,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let (rows, channels) = dims(&x);
    let y = empty(&x, [rows, channels]);
    let new_mean = empty(&x, [channels]);
    let new_var = empty(&x, [channels]);
    if rows > 0 && channels > 0 {
        let [x, bias, gamma, beta, running_mean, running_var] =
            [x, bias, gamma, beta, running_mean, running_var].map(into_contiguous);
        let params = params(&y, rows, channels);
        kernel(
            "batch_norm_relu",
            FORWARD,
            rows,
            settings.epsilon,
            settings.momentum,
        )
        .launch(
            &y.client,
            channels as u32,
            KernelArguments::new().with_buffers(vec![
                x.handle.binding(),
                bias.handle.binding(),
                gamma.handle.binding(),
                beta.handle.binding(),
                running_mean.handle.binding(),
                running_var.handle.binding(),
                y.handle.clone().binding(),
                new_mean.handle.clone().binding(),
                new_var.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    (y, new_mean, new_var)
}

/// Gradients by `x`, `bias`, `gamma` and `beta` of [`forward`], from `grad_y`.
pub fn backward(
    x: CubeTensor,
    [bias, gamma]: [CubeTensor; 2],
    y: CubeTensor,
    grad_y: CubeTensor,
    epsilon: f64,
) -> [CubeTensor; 4] {
    let (rows, channels) = dims(&x);
    let grad_x = empty(&x, [rows, channels]);
    let [grad_bias, grad_gamma, grad_beta] = [(); 3].map(|_| empty(&x, [channels]));
    if rows > 0 && channels > 0 {
        let [x, bias, gamma, y, grad_y] = [x, bias, gamma, y, grad_y].map(into_contiguous);
        let params = params(&grad_x, rows, channels);
        kernel("batch_norm_relu_backward", BACKWARD, rows, epsilon, 0.0).launch(
            &grad_x.client,
            channels as u32,
            KernelArguments::new().with_buffers(vec![
                x.handle.binding(),
                bias.handle.binding(),
                gamma.handle.binding(),
                y.handle.binding(),
                grad_y.handle.binding(),
                grad_x.handle.clone().binding(),
                grad_gamma.handle.clone().binding(),
                grad_beta.handle.clone().binding(),
                grad_bias.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    [grad_x, grad_bias, grad_gamma, grad_beta]
}
