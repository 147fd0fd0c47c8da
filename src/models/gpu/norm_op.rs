//! A dense block (Linear, batch normalisation in training mode, ReLU) on the
//! GPU as one burn operation: one kernel forward, which also updates the
//! running statistics, and one backward plus the input gradient's matmul
//! ([`super::norm`]), in place of burn's matmul, bias add and training batch
//! norm, which its fusion leaves as a score of separate kernels. Used by the
//! dense autoencoder's blocks ([`linear_batch_norm_relu`]); the modules, their
//! records and running statistics are burn's own.
//!
//! Between steps the running statistics stay with the kernel, not in burn's
//! `RunningState`: each update of that divides the value by the number of
//! threads that updated it, an element-wise kernel per batch norm and step
//! (a sixth of the dense autoencoder's dispatches). [`settle_running_stats`]
//! writes them into the `BatchNorm`; training does so after every epoch,
//! before the model is validated or saved.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Autodiff, Cube, Dispatch, backend_extension};
use burn::module::ParamId;
use burn::nn::{BatchNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::relu;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use super::limits;
use super::norm::{self, NormSettings};
use crate::gpu::{loops_fit, supported};
use crate::models::ops::register_grads;

/// Linear, batch norm with batch statistics, ReLU.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait BatchNormReluOps: burn::backend::Backend {
    /// `relu((v - mean) / sqrt(var + epsilon) * gamma + beta)` for `v = x W +
    /// bias`, `x` `[rows, inputs]`, `W` `[inputs, channels]`, with the
    /// batch's mean and biased variance per channel; `z = x W` (kept for the
    /// backward pass); and the running mean and variance blended with those by
    /// `momentum` (not differentiated).
    #[fusion(meta = forward_specs)]
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_relu_train(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        epsilon: f64,
        momentum: f64,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// The backward pass of [`BatchNormReluOps::batch_norm_relu_train`].
#[backend_extension(Cube, Fusion)]
pub trait BatchNormReluBackwardOps: burn::backend::Backend {
    /// Gradients by `z = x W`, `W`, `bias`, `gamma` and `beta` from
    /// `grad_y`, given the forward pass's `z` and output `y`.
    #[fusion(meta = backward_specs)]
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn batch_norm_relu_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        z: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        y: FloatTensor<Self>,
        grad_y: FloatTensor<Self>,
        epsilon: f64,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

#[allow(clippy::too_many_arguments)]
fn forward_specs(
    x: &TensorSpec,
    weight: &TensorSpec,
    _bias: &TensorSpec,
    gamma: &TensorSpec,
    _beta: &TensorSpec,
    _running_mean: &TensorSpec,
    _running_var: &TensorSpec,
    _epsilon: &f64,
    _momentum: &f64,
) -> (TensorSpec, TensorSpec, TensorSpec, TensorSpec) {
    let out = TensorSpec::new(Shape::from([x.shape[0], weight.shape[1]]), x.dtype);
    (out.clone(), out, gamma.clone(), gamma.clone())
}

#[allow(clippy::too_many_arguments)]
fn backward_specs(
    _x: &TensorSpec,
    weight: &TensorSpec,
    z: &TensorSpec,
    bias: &TensorSpec,
    _gamma: &TensorSpec,
    _y: &TensorSpec,
    _grad_y: &TensorSpec,
    _epsilon: &f64,
) -> (TensorSpec, TensorSpec, TensorSpec, TensorSpec, TensorSpec) {
    (
        z.clone(),
        weight.clone(),
        bias.clone(),
        bias.clone(),
        bias.clone(),
    )
}

impl BatchNormReluOps for CubeBackend {
    fn batch_norm_relu_train(
        x: CubeTensor,
        weight: CubeTensor,
        bias: CubeTensor,
        gamma: CubeTensor,
        beta: CubeTensor,
        running_mean: CubeTensor,
        running_var: CubeTensor,
        epsilon: f64,
        momentum: f64,
    ) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
        let settings = NormSettings { epsilon, momentum };
        let [y, z, mean, var] = norm::forward(
            x,
            weight,
            [bias, gamma, beta],
            [running_mean, running_var],
            settings,
        );
        (y, z, mean, var)
    }
}

impl BatchNormReluBackwardOps for CubeBackend {
    fn batch_norm_relu_backward(
        x: CubeTensor,
        _weight: CubeTensor,
        z: CubeTensor,
        bias: CubeTensor,
        gamma: CubeTensor,
        y: CubeTensor,
        grad_y: CubeTensor,
        epsilon: f64,
    ) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
        let [gz, gw, gbias, ggamma, gbeta] =
            norm::backward(x, z, [bias, gamma], y, grad_y, epsilon);
        (gz, gw, gbias, ggamma, gbeta)
    }
}

/// What the backward pass needs of one forward pass.
#[derive(Debug, Clone)]
struct Saved {
    x: FloatTensor<Cube>,
    weight: FloatTensor<Cube>,
    z: FloatTensor<Cube>,
    bias: FloatTensor<Cube>,
    gamma: FloatTensor<Cube>,
    y: FloatTensor<Cube>,
    epsilon: f64,
}

#[derive(Debug)]
struct BatchNormReluBackward;

impl Backward<Cube, 5> for BatchNormReluBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_y = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let [x_parent, w, b, g, beta] = ops.parents.map(|p| p.map(|node| node.id));
        let (gz, gw, gbias, ggamma, gbeta) = Cube::batch_norm_relu_backward(
            s.x,
            s.weight.clone(),
            s.z,
            s.bias,
            s.gamma,
            s.y,
            grad_y,
            s.epsilon,
        );
        // The input's gradient only where something upstream trains (not
        // for the first block, whose input is the data).
        if let Some(id) = x_parent {
            let gx = Cube::float_matmul(gz, Cube::float_transpose(s.weight));
            grads.register::<Cube>(id, gx);
        }
        register_grads::<Cube, 4>(grads, [w, b, g, beta], [gw, gbias, ggamma, gbeta]);
    }
}

impl<C: CheckpointStrategy> BatchNormReluOps for Autodiff<Cube, C> {
    fn batch_norm_relu_train(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        running_mean: FloatTensor<Self>,
        running_var: FloatTensor<Self>,
        epsilon: f64,
        momentum: f64,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let (bias, bias_node) = bias.into_parts();
        let (gamma, gamma_node) = gamma.into_parts();
        let (beta, beta_node) = beta.into_parts();
        let (running_mean, _) = running_mean.into_parts();
        let (running_var, _) = running_var.into_parts();
        let (y, z, new_mean, new_var) = Cube::batch_norm_relu_train(
            x.clone(),
            weight.clone(),
            bias.clone(),
            gamma.clone(),
            beta,
            running_mean,
            running_var,
            epsilon,
            momentum,
        );
        // Leaves outside the graph: z is saved, running statistics are not
        // trained.
        let untracked = (
            FloatTensor::<Self>::new(z.clone()),
            FloatTensor::<Self>::new(new_mean),
            FloatTensor::<Self>::new(new_var),
        );
        let y = match BatchNormReluBackward
            .prepare::<C>([x_node, weight_node, bias_node, gamma_node, beta_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let saved = Saved {
                    x,
                    weight,
                    z,
                    bias,
                    gamma,
                    y: y.clone(),
                    epsilon,
                };
                prep.finish(saved, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, untracked.0, untracked.1, untracked.2)
    }
}

/// `relu(norm.forward(linear.forward(x)))`: for a batch norm in training on
/// an autodiff device where the GPU kernels run ([`crate::gpu::supported`]), the
/// batch has more than one row and the kernels' loops fit the adapter
/// ([`loops_fit`]), one operation (running statistics
/// updated in it, as burn's `BatchNorm` would); elsewhere burn's layers.
pub fn linear_batch_norm_relu(linear: &Linear, norm: &BatchNorm, x: Tensor<2>) -> Tensor<2> {
    let device = x.device();
    let training = device.is_autodiff() && norm.training.is_enabled();
    // A thread loops over the batch's rows and over the inputs.
    let [rows, inputs] = x.dims();
    let loops_fit = loops_fit(&device, limits::dense_block_iterations(rows, inputs));
    if !(training && supported(&device, x.dtype()) && rows > 1 && loops_fit) {
        return relu(norm.forward(linear.forward(x)));
    }
    let [_, channels] = linear.weight.dims();
    let bias = match &linear.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([channels], &device),
    };
    let key = norm.gamma.id;
    let [running_mean, running_var] = take_pending(key).unwrap_or_else(|| {
        [&norm.running_mean, &norm.running_var].map(|s| s.value_sync().to_device(&device))
    });
    let (y, _z, mean, var) = Dispatch::batch_norm_relu_train(
        x.into_dispatch(),
        linear.weight.val().into_dispatch(),
        bias.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        running_mean.into_dispatch(),
        running_var.into_dispatch(),
        norm.epsilon,
        norm.momentum,
    );
    let updated = [mean, var].map(|s| Tensor::<1>::from_dispatch(s).detach());
    PENDING.lock().expect("not poisoned").insert(key, updated);
    Tensor::from_dispatch(y)
}

/// Running mean and variance computed by the kernel and not yet in their
/// `BatchNorm`, by the id of its gamma.
static PENDING: LazyLock<Mutex<HashMap<ParamId, [Tensor<1>; 2]>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn take_pending(key: ParamId) -> Option<[Tensor<1>; 2]> {
    PENDING.lock().expect("not poisoned").remove(&key)
}

/// Writes the running statistics the kernel has kept since the last call
/// into `norm` (nothing when it has none): as burn's `BatchNorm` would hold
/// them after the same steps.
pub fn settle_running_stats(norm: &BatchNorm) {
    if let Some([mean, var]) = take_pending(norm.gamma.id) {
        // Synced at once: records and visitors read the synced value.
        for (state, value) in [(&norm.running_mean, mean), (&norm.running_var, var)] {
            state.update(value);
            state.value_sync();
        }
    }
}
