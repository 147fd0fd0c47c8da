//! Batch normalisation (training mode) + ReLU on the GPU as one burn
//! operation: one kernel forward, one backward ([`super::norm`]), in place of
//! burn's training batch norm, which its fusion leaves as a score of separate
//! kernels. Used by the dense autoencoder's blocks
//! ([`batch_norm_relu`]); the `BatchNorm` module, its records and its
//! running statistics are burn's own.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::backend::{Autodiff, Cube, Dispatch, backend_extension};
use burn::nn::BatchNorm;
use burn::prelude::*;

use super::norm;

/// Batch norm with batch statistics followed by ReLU.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait BatchNormReluOps: burn::backend::Backend {
    /// `relu((x - mean) / sqrt(var + epsilon) * gamma + beta)` for `x`
    /// `[rows, channels]` with the batch's mean and biased variance per
    /// channel, and those two (not differentiated).
    #[fusion(meta = forward_specs)]
    fn batch_norm_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// The backward pass of [`BatchNormReluOps::batch_norm_relu_train`].
#[backend_extension(Cube, Fusion)]
pub trait BatchNormReluBackwardOps: burn::backend::Backend {
    /// Gradients by `x`, `gamma` and `beta` from `grad_y`, given the forward
    /// pass's batch `mean`, `var` and output `y`.
    #[fusion(meta = backward_specs)]
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_relu_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        y: FloatTensor<Self>,
        grad_y: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn forward_specs(
    x: &TensorSpec,
    gamma: &TensorSpec,
    _beta: &TensorSpec,
    _epsilon: &f64,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    (x.clone(), gamma.clone(), gamma.clone())
}

fn backward_specs(
    x: &TensorSpec,
    gamma: &TensorSpec,
    _mean: &TensorSpec,
    _var: &TensorSpec,
    _y: &TensorSpec,
    _grad_y: &TensorSpec,
    _epsilon: &f64,
) -> (TensorSpec, TensorSpec, TensorSpec) {
    (x.clone(), gamma.clone(), gamma.clone())
}

impl BatchNormReluOps for CubeBackend {
    fn batch_norm_relu_train(
        x: CubeTensor,
        gamma: CubeTensor,
        beta: CubeTensor,
        epsilon: f64,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        norm::forward(x, gamma, beta, epsilon)
    }
}

impl BatchNormReluBackwardOps for CubeBackend {
    fn batch_norm_relu_backward(
        x: CubeTensor,
        gamma: CubeTensor,
        mean: CubeTensor,
        var: CubeTensor,
        y: CubeTensor,
        grad_y: CubeTensor,
        epsilon: f64,
    ) -> (CubeTensor, CubeTensor, CubeTensor) {
        norm::backward(x, gamma, [mean, var, y], grad_y, epsilon)
    }
}

/// What the backward pass needs of one forward pass.
#[derive(Debug, Clone)]
struct Saved {
    x: FloatTensor<Cube>,
    gamma: FloatTensor<Cube>,
    mean: FloatTensor<Cube>,
    var: FloatTensor<Cube>,
    y: FloatTensor<Cube>,
    epsilon: f64,
}

#[derive(Debug)]
struct BatchNormReluBackward;

impl Backward<Cube, 3> for BatchNormReluBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_y = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let (gx, gg, gb) =
            Cube::batch_norm_relu_backward(s.x, s.gamma, s.mean, s.var, s.y, grad_y, s.epsilon);
        for (parent, grad) in ops.parents.into_iter().zip([gx, gg, gb]) {
            if let Some(node) = parent {
                grads.register::<Cube>(node.id, grad);
            }
        }
    }
}

impl<C: CheckpointStrategy> BatchNormReluOps for Autodiff<Cube, C> {
    fn batch_norm_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (x, x_node) = x.into_parts();
        let (gamma, gamma_node) = gamma.into_parts();
        let (beta, beta_node) = beta.into_parts();
        let (y, mean, var) = Cube::batch_norm_relu_train(x.clone(), gamma.clone(), beta, epsilon);
        // Leaves outside the graph: the statistics only feed the running ones.
        let statistics = (
            FloatTensor::<Self>::new(mean.clone()),
            FloatTensor::<Self>::new(var.clone()),
        );
        let y = match BatchNormReluBackward
            .prepare::<C>([x_node, gamma_node, beta_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let saved = Saved {
                    x,
                    gamma,
                    mean,
                    var,
                    y: y.clone(),
                    epsilon,
                };
                prep.finish(saved, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, statistics.0, statistics.1)
    }
}

/// `relu(norm.forward(x))` for a layer in training on an autodiff device, as
/// one GPU operation where the kernels run ([`super::supported`]) and the
/// batch has more than one row, else through burn. Running statistics are
/// updated exactly as burn's `BatchNorm` does.
pub fn batch_norm_relu(norm: &BatchNorm, x: Tensor<2>) -> Tensor<2> {
    let device = x.device();
    let training = device.is_autodiff() && norm.training.is_enabled();
    if !(training && super::supported(&device, x.dtype()) && x.dims()[0] > 1) {
        return burn::tensor::activation::relu(norm.forward(x));
    }
    let (y, mean, var) = Dispatch::batch_norm_relu_train(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        norm.epsilon,
    );
    let (mean, var) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(var),
    );
    let momentum = norm.momentum;
    let blend = |running: Tensor<1>, batch: Tensor<1>| {
        running
            .to_device(&device)
            .mul_scalar(1.0 - momentum)
            .add(batch.detach().mul_scalar(momentum))
            .detach()
    };
    norm.running_mean
        .update(blend(norm.running_mean.value_sync(), mean));
    norm.running_var
        .update(blend(norm.running_var.value_sync(), var));
    Tensor::from_dispatch(y)
}
