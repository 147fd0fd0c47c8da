//! The VAE's reparameterised sample and the KL term of its loss as one burn
//! operation on the GPU: one kernel forward (`shaders/vae_sample.wgsl`), one
//! backward (`shaders/vae_sample_backward.wgsl`), the clamp of the
//! log-variance inside them, in place of burn's clamp, exp, products, sums,
//! mean and their backward passes. The term comes out as a value to add to
//! the loss once, unscaled: its gradient is applied by the sample's backward
//! pass, so the two need one kernel each way, not two and the additions that
//! merge their gradients. [`sample_with_kl`] is the entry; off the GPU (or
//! without autodiff) it is burn's operations, the same arithmetic.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::backend::{Autodiff, Cube, Dispatch, backend_extension};
use burn::cubecl::server::KernelArguments;
use burn::prelude::*;
use burn::tensor::Shape;

use crate::gpu::empty;
use crate::gpu::{WgslKernel, per_value};
use crate::models::ops::register_grads;

const FORWARD: &str = include_str!("../../../shaders/vae_sample.wgsl");
const BACKWARD: &str = include_str!("../../../shaders/vae_sample_backward.wgsl");
const THREADS: u32 = 256;
/// The log-variance's clamp, which keeps exp() finite early in training (the
/// kernels hold the same ±20).
pub const LOG_VAR_LIMIT: f64 = 20.0;

/// The sample `z` and the KL term.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait VaeSampleOps: burn::backend::Backend {
    /// `z = mean + exp(lv / 2) * noise`, `lv = clamp(raw)`, all `[batch,
    /// latent]`, and `scale * sum(exp(lv) + mean^2 - lv - 1)` as `[1]`,
    /// outside the graph: `z`'s backward pass applies the term's gradient.
    #[fusion(meta = forward_specs)]
    fn sample_with_kl(
        mean: FloatTensor<Self>,
        raw: FloatTensor<Self>,
        noise: FloatTensor<Self>,
        scale: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// The backward pass of [`VaeSampleOps::sample_with_kl`].
#[backend_extension(Cube, Fusion)]
pub trait VaeSampleBackwardOps: burn::backend::Backend {
    /// The gradients by `mean` and `raw` from `grad_z` and the KL term.
    #[fusion(meta = backward_specs)]
    fn sample_with_kl_backward(
        mean: FloatTensor<Self>,
        raw: FloatTensor<Self>,
        noise: FloatTensor<Self>,
        grad_z: FloatTensor<Self>,
        scale: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

fn forward_specs(
    mean: &TensorSpec,
    _: &TensorSpec,
    _: &TensorSpec,
    _: &f64,
) -> (TensorSpec, TensorSpec) {
    (mean.clone(), TensorSpec::new(Shape::from([1]), mean.dtype))
}

fn backward_specs(
    mean: &TensorSpec,
    raw: &TensorSpec,
    _: &TensorSpec,
    _: &TensorSpec,
    _: &f64,
) -> (TensorSpec, TensorSpec) {
    (mean.clone(), raw.clone())
}

/// The kernels' `params` (`values`) and `scale` bindings.
fn constants(
    like: &CubeTensor,
    values: &[u32],
    scale: f64,
) -> [burn::cubecl::server::BufferBinding; 2] {
    let client = &like.client;
    [
        client
            .create_from_slice(bytemuck::cast_slice(values))
            .binding(),
        client
            .create_from_slice(bytemuck::cast_slice(&[scale as f32]))
            .binding(),
    ]
}

impl VaeSampleOps for CubeBackend {
    fn sample_with_kl(
        mean: CubeTensor,
        raw: CubeTensor,
        noise: CubeTensor,
        scale: f64,
    ) -> (CubeTensor, CubeTensor) {
        let [mean, raw, noise] = [mean, raw, noise].map(into_contiguous);
        let z = empty(&mean, mean.meta.shape().clone());
        let term = empty(&mean, [1]);
        let n = mean.meta.shape().num_elements() as u32;
        let [params, scale] = constants(&mean, &[n], scale);
        WgslKernel::new("vae_sample", FORWARD, Vec::new(), THREADS).launch(
            &mean.client,
            1,
            KernelArguments::new().with_buffers(vec![
                mean.handle.clone().binding(),
                raw.handle.binding(),
                noise.handle.binding(),
                z.handle.clone().binding(),
                term.handle.clone().binding(),
                params,
                scale,
            ]),
        );
        (z, term)
    }
}

impl VaeSampleBackwardOps for CubeBackend {
    fn sample_with_kl_backward(
        mean: CubeTensor,
        raw: CubeTensor,
        noise: CubeTensor,
        grad_z: CubeTensor,
        scale: f64,
    ) -> (CubeTensor, CubeTensor) {
        let [mean, raw, noise, grad_z] = [mean, raw, noise, grad_z].map(into_contiguous);
        let grad_mean = empty(&mean, mean.meta.shape().clone());
        let grad_raw = empty(&raw, raw.meta.shape().clone());
        let n = mean.meta.shape().num_elements();
        let (groups, width) = per_value(n, THREADS);
        let [params, scale] = constants(&mean, &[n as u32, width], scale);
        WgslKernel::new("vae_sample_backward", BACKWARD, Vec::new(), THREADS).launch(
            &mean.client,
            groups,
            KernelArguments::new().with_buffers(vec![
                mean.handle.clone().binding(),
                raw.handle.binding(),
                noise.handle.binding(),
                grad_z.handle.binding(),
                grad_mean.handle.clone().binding(),
                grad_raw.handle.clone().binding(),
                params,
                scale,
            ]),
        );
        (grad_mean, grad_raw)
    }
}

/// What the backward pass needs of one forward pass.
#[derive(Debug, Clone)]
struct Saved {
    mean: FloatTensor<Cube>,
    raw: FloatTensor<Cube>,
    noise: FloatTensor<Cube>,
    scale: f64,
}

#[derive(Debug)]
struct SampleBackward;

impl Backward<Cube, 3> for SampleBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_z = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let [mean, raw, _noise] = ops.parents.map(|p| p.map(|node| node.id));
        let (grad_mean, grad_raw) =
            Cube::sample_with_kl_backward(s.mean, s.raw, s.noise, grad_z, s.scale);
        register_grads::<Cube, 2>(grads, [mean, raw], [grad_mean, grad_raw]);
    }
}

impl<C: CheckpointStrategy> VaeSampleOps for Autodiff<Cube, C> {
    fn sample_with_kl(
        mean: FloatTensor<Self>,
        raw: FloatTensor<Self>,
        noise: FloatTensor<Self>,
        scale: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (mean, mean_node) = mean.into_parts();
        let (raw, raw_node) = raw.into_parts();
        let (noise, noise_node) = noise.into_parts();
        let (z, term) = Cube::sample_with_kl(mean.clone(), raw.clone(), noise.clone(), scale);
        // Outside the graph: z's backward pass gives the term's gradient.
        let term = FloatTensor::<Self>::new(term);
        let z = match SampleBackward
            .prepare::<C>([mean_node, raw_node, noise_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let saved = Saved {
                    mean,
                    raw,
                    noise,
                    scale,
                };
                prep.finish(saved, z)
            }
            OpsKind::UnTracked(prep) => prep.finish(z),
        };
        (z, term)
    }
}

/// Whether the kernels take this posterior: an autodiff device where the GPU
/// kernels run, and the forward kernel's single workgroup's loop within the
/// adapter's budget.
fn runs_kernel(mean: &Tensor<2>) -> bool {
    let device = mean.device();
    let values = mean.dims().iter().product::<usize>();
    device.is_autodiff()
        && values > 0
        && crate::gpu::supported(&device, mean.dtype())
        && crate::gpu::loops_fit(&device, values.div_ceil(THREADS as usize) + 64)
}

/// The KL divergence from the unit normal per sample, halved and divided by
/// `values` (the window's values, so the KL weighs as the per-value MSE), `[batch]`.
pub fn kl_per_sample(mean: Tensor<2>, raw: Tensor<2>, values: usize) -> Tensor<1> {
    let [batch, _] = mean.dims();
    let log_var = raw.clamp(-LOG_VAR_LIMIT, LOG_VAR_LIMIT);
    (log_var.clone().exp() + mean.square() - log_var - 1.0)
        .sum_dim(1)
        .reshape([batch])
        * (0.5 / values as f64)
}

/// The sample `mean + exp(clamp(raw) / 2) * noise`, with the log-variance
/// `raw` clamped to ±[`LOG_VAR_LIMIT`], and the loss's KL term, `weight`
/// times the batch mean of [`kl_per_sample`]. **The term is to be added to
/// the loss once, as it is**: on the GPU it is a value outside the autodiff
/// graph whose gradient the sample's backward pass applies (one kernel each
/// way); elsewhere burn's operations, the same arithmetic, tracked as usual.
pub fn sample_with_kl(
    mean: Tensor<2>,
    raw: Tensor<2>,
    noise: Tensor<2>,
    values: usize,
    weight: f64,
) -> (Tensor<2>, Tensor<1>) {
    if !runs_kernel(&mean) {
        let log_var = raw.clone().clamp(-LOG_VAR_LIMIT, LOG_VAR_LIMIT);
        let z = mean.clone() + (log_var * 0.5).exp() * noise;
        return (z, kl_per_sample(mean, raw, values).mean() * weight);
    }
    let [batch, _] = mean.dims();
    let scale = weight * 0.5 / (values * batch) as f64;
    let (z, term) = Dispatch::sample_with_kl(
        mean.into_dispatch(),
        raw.into_dispatch(),
        noise.into_dispatch(),
        scale,
    );
    (Tensor::from_dispatch(z), Tensor::from_dispatch(term))
}
