//! A model's last Linear (its bias) and the training loss, the mean squared
//! reconstruction error, as one burn operation on the GPU: one kernel
//! forward (`shaders/mse_bias.wgsl`), one backward
//! (`shaders/mse_bias_backward.wgsl`) that also gives the bias gradient, in
//! place of burn's bias add, difference, square, multi-stage mean and their
//! backward passes (nine kernels a step). [`linear_mse`] is the entry;
//! [`mse`] the same loss where the last layer is not a Linear.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::backend::{Autodiff, Cube, Dispatch, backend_extension};
use burn::cubecl::server::KernelArguments;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Shape;

use crate::gpu::empty;
use crate::gpu::{WgslKernel, grid, per_value};
use crate::models::ops::register_grads;

const FORWARD: &str = include_str!("../../../shaders/mse_bias.wgsl");
const BACKWARD: &str = include_str!("../../../shaders/mse_bias_backward.wgsl");
const BACKWARD_NO_BIAS: &str = include_str!("../../../shaders/mse_backward.wgsl");
const THREADS: u32 = 256;

/// The mean of `(z + bias - target)^2`; a `bias` of no values is none.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait MseBiasOps: burn::backend::Backend {
    /// The loss `[1]` for `z` and `target` `[rows, columns]`, `bias`
    /// `[columns]`.
    #[fusion(meta = forward_spec)]
    fn mse_bias(
        z: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The backward pass of [`MseBiasOps::mse_bias`].
#[backend_extension(Cube, Fusion)]
pub trait MseBiasBackwardOps: burn::backend::Backend {
    /// Gradients by `z` (the target's is its negation) and `bias` from the
    /// loss's gradient `grad_loss` `[1]`.
    #[fusion(meta = backward_specs)]
    fn mse_bias_backward(
        z: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        target: FloatTensor<Self>,
        grad_loss: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

fn forward_spec(z: &TensorSpec, _bias: &TensorSpec, _target: &TensorSpec) -> TensorSpec {
    TensorSpec::new(Shape::from([1]), z.dtype)
}

fn backward_specs(
    z: &TensorSpec,
    bias: &TensorSpec,
    _target: &TensorSpec,
    _grad_loss: &TensorSpec,
) -> (TensorSpec, TensorSpec) {
    (z.clone(), bias.clone())
}

fn params(like: &CubeTensor, values: &[u32]) -> burn::cubecl::server::Handle {
    like.client.create_from_slice(bytemuck::cast_slice(values))
}

fn dims(z: &CubeTensor) -> [usize; 2] {
    let shape = z.meta.shape();
    [shape[0], shape[1]]
}

/// Whether `bias` holds values (an empty one stands for no bias: [`mse`]).
fn has_bias(bias: &CubeTensor) -> bool {
    bias.meta.shape().num_elements() > 0
}

impl MseBiasOps for CubeBackend {
    fn mse_bias(z: CubeTensor, bias: CubeTensor, target: CubeTensor) -> CubeTensor {
        let [rows, columns] = dims(&z);
        let loss = empty(&z, [1]);
        let with_bias = has_bias(&bias);
        let [z, bias, target] = [z, bias, target].map(into_contiguous);
        // Without a bias its binding is the target again, never read.
        let bias = if with_bias { bias } else { target.clone() };
        let params = params(&z, &[rows as u32]);
        let values = vec![
            ("threads", THREADS.to_string()),
            ("columns", columns.to_string()),
            ("with_bias", with_bias.to_string()),
        ];
        WgslKernel::new("mse_bias", FORWARD, values, THREADS).launch(
            &z.client,
            1,
            KernelArguments::new().with_buffers(vec![
                z.handle.binding(),
                bias.handle.binding(),
                target.handle.binding(),
                loss.handle.clone().binding(),
                params.binding(),
            ]),
        );
        loss
    }
}

/// The gradient by `z` of the loss without a bias: a thread per value.
fn mse_backward(z: CubeTensor, target: CubeTensor, grad_loss: CubeTensor) -> CubeTensor {
    let [rows, columns] = dims(&z);
    let grad_z = empty(&z, [rows, columns]);
    let n = rows * columns;
    let (groups, width) = per_value(n, THREADS);
    let params = params(&z, &[n as u32, width]);
    WgslKernel::new("mse_backward", BACKWARD_NO_BIAS, Vec::new(), THREADS).launch(
        &z.client,
        groups,
        KernelArguments::new().with_buffers(vec![
            z.handle.binding(),
            target.handle.binding(),
            grad_loss.handle.binding(),
            grad_z.handle.clone().binding(),
            params.binding(),
        ]),
    );
    grad_z
}

impl MseBiasBackwardOps for CubeBackend {
    fn mse_bias_backward(
        z: CubeTensor,
        bias: CubeTensor,
        target: CubeTensor,
        grad_loss: CubeTensor,
    ) -> (CubeTensor, CubeTensor) {
        let [rows, columns] = dims(&z);
        if !has_bias(&bias) {
            let [z, target, grad_loss] = [z, target, grad_loss].map(into_contiguous);
            return (mse_backward(z, target, grad_loss), bias);
        }
        let grad_z = empty(&z, [rows, columns]);
        let grad_bias = empty(&z, [columns]);
        let [z, bias, target, grad_loss] = [z, bias, target, grad_loss].map(into_contiguous);
        let (width, _) = grid(columns as u32);
        let params = params(&z, &[rows as u32, columns as u32, width]);
        // A thread per row up to 256: idle threads would only wait at the
        // reduction's barriers (what a software driver pays most for).
        let threads = rows.next_power_of_two().clamp(32, THREADS as usize) as u32;
        let values = vec![("threads", threads.to_string())];
        WgslKernel::new("mse_bias_backward", BACKWARD, values, threads).launch(
            &z.client,
            columns as u32,
            KernelArguments::new().with_buffers(vec![
                z.handle.binding(),
                bias.handle.binding(),
                target.handle.binding(),
                grad_loss.handle.binding(),
                grad_z.handle.clone().binding(),
                grad_bias.handle.clone().binding(),
                params.binding(),
            ]),
        );
        (grad_z, grad_bias)
    }
}

/// What the backward pass needs of one forward pass.
#[derive(Debug, Clone)]
struct Saved {
    z: FloatTensor<Cube>,
    bias: FloatTensor<Cube>,
    target: FloatTensor<Cube>,
}

#[derive(Debug)]
struct MseBiasBackward;

impl Backward<Cube, 3> for MseBiasBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_loss = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let [z, bias, target] = ops.parents.map(|p| p.map(|node| node.id));
        let (grad_z, grad_bias) = Cube::mse_bias_backward(s.z, s.bias, s.target, grad_loss);
        if let Some(id) = target {
            grads.register::<Cube>(id, Cube::float_neg(grad_z.clone()));
        }
        register_grads::<Cube, 2>(grads, [z, bias], [grad_z, grad_bias]);
    }
}

impl<C: CheckpointStrategy> MseBiasOps for Autodiff<Cube, C> {
    fn mse_bias(
        z: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        target: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (z, z_node) = z.into_parts();
        let (bias, bias_node) = bias.into_parts();
        let (target, target_node) = target.into_parts();
        let loss = Cube::mse_bias(z.clone(), bias.clone(), target.clone());
        match MseBiasBackward
            .prepare::<C>([z_node, bias_node, target_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(Saved { z, bias, target }, loss),
            OpsKind::UnTracked(prep) => prep.finish(loss),
        }
    }
}

/// Whether the loss kernels take `[rows, columns]` on `device`: the GPU
/// kernels run there, and the forward kernel's single workgroup's loop over
/// every value and the backward's over the rows fit its loop budget.
fn runs_kernel(device: &Device, dtype: burn::tensor::DType, rows: usize, columns: usize) -> bool {
    let iterations = (rows * columns).div_ceil(THREADS as usize) + rows.div_ceil(32) + 64;
    rows > 0 && crate::gpu::supported(device, dtype) && crate::gpu::loops_fit(device, iterations)
}

/// The mean squared difference between `linear.forward(h)` and `target`
/// (`[rows, columns]`): on an autodiff device where the GPU kernels run
/// ([`crate::gpu::supported`]), burn's matmul and then one operation; elsewhere
/// burn's operations.
pub fn linear_mse(linear: &Linear, h: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let device = h.device();
    let Some(bias) = linear.bias.as_ref().map(|b| b.val()) else {
        return (linear.forward(h) - target).square().mean();
    };
    let [rows, columns] = [h.dims()[0], target.dims()[1]];
    if !(device.is_autodiff() && runs_kernel(&device, h.dtype(), rows, columns)) {
        return (linear.forward(h) - target).square().mean();
    }
    let z = h.matmul(linear.weight.val());
    Tensor::from_dispatch(Dispatch::mse_bias(
        z.into_dispatch(),
        bias.into_dispatch(),
        target.into_dispatch(),
    ))
}

/// The mean squared difference between `reconstruction` and `target`
/// (`[rows, columns]`): one kernel each way where the GPU kernels run on an
/// autodiff device (without a bias), burn's operations elsewhere.
pub fn mse(reconstruction: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let device = reconstruction.device();
    let [rows, columns] = reconstruction.dims();
    if !(device.is_autodiff() && runs_kernel(&device, reconstruction.dtype(), rows, columns)) {
        return (reconstruction - target).square().mean();
    }
    // No values: no bias (and no kernel to fill one with zeros).
    let none = Tensor::<1>::empty([0], &device);
    Tensor::from_dispatch(Dispatch::mse_bias(
        reconstruction.into_dispatch(),
        none.into_dispatch(),
        target.into_dispatch(),
    ))
}
