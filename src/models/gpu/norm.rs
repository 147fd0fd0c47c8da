//! Launching the dense-block kernels (Linear, batch norm, ReLU) on burn's
//! cubecl tensors.

use burn::backend::wgpu::{CubeTensor, into_contiguous};
use burn::cubecl::server::KernelArguments;

use crate::gpu::empty;
use crate::gpu::{WgslKernel, grid};

const FORWARD: &str = include_str!("../../../shaders/batch_norm_relu.wgsl");
const BACKWARD: &str = include_str!("../../../shaders/batch_norm_relu_backward.wgsl");

/// `[rows, inputs, channels]` of an input `[rows, inputs]` and a weight
/// `[inputs, channels]`.
fn dims(x: &CubeTensor, weight: &CubeTensor) -> [usize; 3] {
    let (x, w) = (x.meta.shape(), weight.meta.shape());
    assert!(
        x.num_dims() == 2 && w.num_dims() == 2 && x[1] == w[0],
        "a dense block takes x [rows, inputs] and W [inputs, channels]"
    );
    [x[0], x[1], w[1]]
}

/// Channels (threads) per workgroup: a thread owns a channel's column.
const THREADS: u32 = 32;

fn kernel(name: &'static str, source: &'static str, epsilon: f64, momentum: f64) -> WgslKernel {
    WgslKernel::new(
        name,
        source,
        vec![
            ("threads", THREADS.to_string()),
            ("epsilon", format!("{:?}", epsilon as f32)),
            ("momentum", format!("{:?}", momentum as f32)),
        ],
        THREADS,
    )
}

fn workgroups(channels: usize) -> u32 {
    channels.div_ceil(THREADS as usize) as u32
}

fn params(like: &CubeTensor, [rows, inputs, channels]: [usize; 3]) -> burn::cubecl::server::Handle {
    let (width, _) = grid(workgroups(channels));
    let values = [rows as u32, channels as u32, width, inputs as u32];
    like.client.create_from_slice(bytemuck::cast_slice(&values))
}

/// Batch-norm settings: epsilon, and the running statistics' momentum.
#[derive(Debug, Clone, Copy)]
pub struct NormSettings {
    pub epsilon: f64,
    pub momentum: f64,
}

/// `relu(batch_norm(x W + bias))` with batch statistics, `z = x W` (for the
/// backward pass), and the running mean and variance updated by them.
pub fn forward(
    x: CubeTensor,
    weight: CubeTensor,
    [bias, gamma, beta]: [CubeTensor; 3],
    [running_mean, running_var]: [CubeTensor; 2],
    settings: NormSettings,
) -> [CubeTensor; 4] {
    let [rows, inputs, channels] = dims(&x, &weight);
    let y = empty(&x, [rows, channels]);
    let z = empty(&x, [rows, channels]);
    let new_mean = empty(&x, [channels]);
    let new_var = empty(&x, [channels]);
    if rows > 0 && channels > 0 {
        let [x, weight, bias, gamma, beta, running_mean, running_var] =
            [x, weight, bias, gamma, beta, running_mean, running_var].map(into_contiguous);
        let params = params(&y, [rows, inputs, channels]);
        kernel(
            "batch_norm_relu",
            FORWARD,
            settings.epsilon,
            settings.momentum,
        )
        .launch(
            &y.client,
            workgroups(channels),
            KernelArguments::new().with_buffers(vec![
                x.handle.binding(),
                weight.handle.binding(),
                bias.handle.binding(),
                gamma.handle.binding(),
                beta.handle.binding(),
                running_mean.handle.binding(),
                running_var.handle.binding(),
                z.handle.clone().binding(),
                y.handle.clone().binding(),
                new_mean.handle.clone().binding(),
                new_var.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    [y, z, new_mean, new_var]
}

/// Gradients by `z = x W` (for the input's gradient, `dz W^T`), the weight,
/// `bias`, `gamma` and `beta` of [`forward`], from `grad_y`.
pub fn backward(
    x: CubeTensor,
    z: CubeTensor,
    [bias, gamma]: [CubeTensor; 2],
    y: CubeTensor,
    grad_y: CubeTensor,
    epsilon: f64,
) -> [CubeTensor; 5] {
    let [rows, inputs] = [x.meta.shape()[0], x.meta.shape()[1]];
    let channels = z.meta.shape()[1];
    let grad_z = empty(&x, [rows, channels]);
    let grad_weight = empty(&x, [inputs, channels]);
    let [grad_bias, grad_gamma, grad_beta] = [(); 3].map(|_| empty(&x, [channels]));
    if rows > 0 && channels > 0 {
        let [x, z, bias, gamma, y, grad_y] = [x, z, bias, gamma, y, grad_y].map(into_contiguous);
        let params = params(&grad_z, [rows, inputs, channels]);
        kernel("batch_norm_relu_backward", BACKWARD, epsilon, 0.0).launch(
            &grad_z.client,
            workgroups(channels),
            KernelArguments::new().with_buffers(vec![
                x.handle.binding(),
                z.handle.binding(),
                bias.handle.binding(),
                gamma.handle.binding(),
                y.handle.binding(),
                grad_y.handle.binding(),
                grad_z.handle.clone().binding(),
                grad_weight.handle.clone().binding(),
                grad_gamma.handle.clone().binding(),
                grad_beta.handle.clone().binding(),
                grad_bias.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    [grad_z, grad_weight, grad_bias, grad_gamma, grad_beta]
}
