//! The VAE's reparameterisation and KL term as burn operations on the GPU:
//! one kernel each way for each (`shaders/reparameterize*.wgsl`,
//! `shaders/kl*.wgsl`), the clamp of the log-variance inside them, in place
//! of burn's clamp, exp, products, sums, mean and their backward passes.
//! [`reparameterize`] and [`kl_term`] are the entries; off the GPU (or
//! without autodiff) they are burn's operations, the same arithmetic.

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

use super::{empty, register_grads};
use crate::features::gpu::kernels::{WgslKernel, grid};

const REPARAMETERIZE: &str = include_str!("../../../shaders/reparameterize.wgsl");
const REPARAMETERIZE_BACKWARD: &str = include_str!("../../../shaders/reparameterize_backward.wgsl");
const KL: &str = include_str!("../../../shaders/kl.wgsl");
const KL_BACKWARD: &str = include_str!("../../../shaders/kl_backward.wgsl");
const THREADS: u32 = 256;
/// The log-variance's clamp, which keeps exp() finite early in training.
pub const LOG_VAR_LIMIT: f64 = 20.0;

/// The sample `z` and the KL term.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait VaeOps: burn::backend::Backend {
    /// `mean + exp(clamp(raw) / 2) * noise`, all `[batch, latent]`.
    #[fusion(meta = same_spec)]
    fn reparameterize(
        mean: FloatTensor<Self>,
        raw: FloatTensor<Self>,
        noise: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `scale * sum(exp(lv) + mean^2 - lv - 1)`, `lv = clamp(raw)`, as `[1]`.
    #[fusion(meta = scalar_spec)]
    fn kl_term(mean: FloatTensor<Self>, raw: FloatTensor<Self>, scale: f64) -> FloatTensor<Self>;
}

/// The backward passes of [`VaeOps`].
#[backend_extension(Cube, Fusion)]
pub trait VaeBackwardOps: burn::backend::Backend {
    /// The gradient by `raw` of [`VaeOps::reparameterize`] (the mean's is `grad_z`).
    #[fusion(meta = same_spec)]
    fn reparameterize_backward(
        raw: FloatTensor<Self>,
        noise: FloatTensor<Self>,
        grad_z: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The gradients by `mean` and `raw` of [`VaeOps::kl_term`].
    #[fusion(meta = pair_spec)]
    fn kl_term_backward(
        mean: FloatTensor<Self>,
        raw: FloatTensor<Self>,
        grad_term: FloatTensor<Self>,
        scale: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

fn same_spec(first: &TensorSpec, _: &TensorSpec, _: &TensorSpec) -> TensorSpec {
    first.clone()
}

fn scalar_spec(mean: &TensorSpec, _: &TensorSpec, _: &f64) -> TensorSpec {
    TensorSpec::new(Shape::from([1]), mean.dtype)
}

fn pair_spec(
    mean: &TensorSpec,
    raw: &TensorSpec,
    _: &TensorSpec,
    _: &f64,
) -> (TensorSpec, TensorSpec) {
    (mean.clone(), raw.clone())
}

/// A kernel with a thread per value of `like` (`[0] values, [1] threads per
/// grid row` as its params binding, after `buffers`), plus a scale binding.
fn launch_per_value(
    name: &'static str,
    source: &'static str,
    like: &CubeTensor,
    mut buffers: Vec<burn::cubecl::server::BufferBinding>,
    scale: Option<f64>,
) {
    let n = like.meta.shape().num_elements();
    let groups = n.div_ceil(THREADS as usize) as u32;
    let (width, _) = grid(groups);
    let client = &like.client;
    buffers.push(
        client
            .create_from_slice(bytemuck::cast_slice(&[n as u32, width * THREADS]))
            .binding(),
    );
    if let Some(scale) = scale {
        buffers.push(
            client
                .create_from_slice(bytemuck::cast_slice(&[scale as f32]))
                .binding(),
        );
    }
    WgslKernel::new(name, source, Vec::new(), THREADS).launch(
        client,
        groups,
        KernelArguments::new().with_buffers(buffers),
    );
}

impl VaeOps for CubeBackend {
    fn reparameterize(mean: CubeTensor, raw: CubeTensor, noise: CubeTensor) -> CubeTensor {
        let [mean, raw, noise] = [mean, raw, noise].map(into_contiguous);
        let z = empty(&mean, mean.meta.shape().clone());
        let buffers = vec![
            mean.handle.clone().binding(),
            raw.handle.binding(),
            noise.handle.binding(),
            z.handle.clone().binding(),
        ];
        launch_per_value("reparameterize", REPARAMETERIZE, &mean, buffers, None);
        z
    }

    fn kl_term(mean: CubeTensor, raw: CubeTensor, scale: f64) -> CubeTensor {
        let [mean, raw] = [mean, raw].map(into_contiguous);
        let term = empty(&mean, [1]);
        let n = mean.meta.shape().num_elements() as u32;
        let client = &mean.client;
        let params = client.create_from_slice(bytemuck::cast_slice(&[n]));
        let scale = client.create_from_slice(bytemuck::cast_slice(&[scale as f32]));
        WgslKernel::new("kl", KL, Vec::new(), THREADS).launch(
            client,
            1,
            KernelArguments::new().with_buffers(vec![
                mean.handle.binding(),
                raw.handle.binding(),
                term.handle.clone().binding(),
                params.binding(),
                scale.binding(),
            ]),
        );
        term
    }
}

impl VaeBackwardOps for CubeBackend {
    fn reparameterize_backward(
        raw: CubeTensor,
        noise: CubeTensor,
        grad_z: CubeTensor,
    ) -> CubeTensor {
        let [raw, noise, grad_z] = [raw, noise, grad_z].map(into_contiguous);
        let grad_raw = empty(&raw, raw.meta.shape().clone());
        let buffers = vec![
            raw.handle.clone().binding(),
            noise.handle.binding(),
            grad_z.handle.binding(),
            grad_raw.handle.clone().binding(),
        ];
        let name = "reparameterize_backward";
        launch_per_value(name, REPARAMETERIZE_BACKWARD, &raw, buffers, None);
        grad_raw
    }

    fn kl_term_backward(
        mean: CubeTensor,
        raw: CubeTensor,
        grad_term: CubeTensor,
        scale: f64,
    ) -> (CubeTensor, CubeTensor) {
        let [mean, raw, grad_term] = [mean, raw, grad_term].map(into_contiguous);
        let grad_mean = empty(&mean, mean.meta.shape().clone());
        let grad_raw = empty(&raw, raw.meta.shape().clone());
        let buffers = vec![
            mean.handle.clone().binding(),
            raw.handle.binding(),
            grad_term.handle.binding(),
            grad_mean.handle.clone().binding(),
            grad_raw.handle.clone().binding(),
        ];
        launch_per_value("kl_backward", KL_BACKWARD, &mean, buffers, Some(scale));
        (grad_mean, grad_raw)
    }
}

/// What the reparameterisation's backward pass needs.
#[derive(Debug, Clone)]
struct SavedSample {
    raw: FloatTensor<Cube>,
    noise: FloatTensor<Cube>,
}

#[derive(Debug)]
struct ReparameterizeBackward;

impl Backward<Cube, 3> for ReparameterizeBackward {
    type State = SavedSample;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_z = grads.consume::<Cube>(&ops.node);
        let [mean, raw, _noise] = ops.parents.map(|p| p.map(|node| node.id));
        let s = ops.state;
        if let Some(id) = raw {
            let grad_raw = Cube::reparameterize_backward(s.raw, s.noise, grad_z.clone());
            grads.register::<Cube>(id, grad_raw);
        }
        register_grads(grads, [mean], [grad_z]);
    }
}

/// What the KL term's backward pass needs.
#[derive(Debug, Clone)]
struct SavedPosterior {
    mean: FloatTensor<Cube>,
    raw: FloatTensor<Cube>,
    scale: f64,
}

#[derive(Debug)]
struct KlBackward;

impl Backward<Cube, 2> for KlBackward {
    type State = SavedPosterior;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_term = grads.consume::<Cube>(&ops.node);
        let s = ops.state;
        let (grad_mean, grad_raw) = Cube::kl_term_backward(s.mean, s.raw, grad_term, s.scale);
        register_grads(
            grads,
            ops.parents.map(|p| p.map(|node| node.id)),
            [grad_mean, grad_raw],
        );
    }
}

impl<C: CheckpointStrategy> VaeOps for Autodiff<Cube, C> {
    fn reparameterize(
        mean: FloatTensor<Self>,
        raw: FloatTensor<Self>,
        noise: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (mean, mean_node) = mean.into_parts();
        let (raw, raw_node) = raw.into_parts();
        let (noise, noise_node) = noise.into_parts();
        let z = Cube::reparameterize(mean, raw.clone(), noise.clone());
        match ReparameterizeBackward
            .prepare::<C>([mean_node, raw_node, noise_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(SavedSample { raw, noise }, z),
            OpsKind::UnTracked(prep) => prep.finish(z),
        }
    }

    fn kl_term(mean: FloatTensor<Self>, raw: FloatTensor<Self>, scale: f64) -> FloatTensor<Self> {
        let (mean, mean_node) = mean.into_parts();
        let (raw, raw_node) = raw.into_parts();
        let term = Cube::kl_term(mean.clone(), raw.clone(), scale);
        match KlBackward
            .prepare::<C>([mean_node, raw_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(SavedPosterior { mean, raw, scale }, term),
            OpsKind::UnTracked(prep) => prep.finish(term),
        }
    }
}

/// Whether the kernels take this posterior: an autodiff device where the GPU
/// kernels run, and the KL's single workgroup's loop within the adapter's budget.
fn runs_kernel(mean: &Tensor<2>) -> bool {
    let device = mean.device();
    let values = mean.dims().iter().product::<usize>();
    device.is_autodiff()
        && values > 0
        && super::supported(&device, mean.dtype())
        && super::limits::loops_fit(&device, values.div_ceil(THREADS as usize) + 64)
}

/// `mean + exp(clamp(raw) / 2) * noise` with the log-variance `raw` clamped
/// to ±[`LOG_VAR_LIMIT`].
pub fn reparameterize(mean: Tensor<2>, raw: Tensor<2>, noise: Tensor<2>) -> Tensor<2> {
    if !runs_kernel(&mean) {
        let log_var = raw.clamp(-LOG_VAR_LIMIT, LOG_VAR_LIMIT);
        return mean + (log_var * 0.5).exp() * noise;
    }
    Tensor::from_dispatch(Dispatch::reparameterize(
        mean.into_dispatch(),
        raw.into_dispatch(),
        noise.into_dispatch(),
    ))
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

/// The loss's KL term, `weight` times the batch mean of [`kl_per_sample`]:
/// one kernel each way where the GPU kernels run, burn's operations elsewhere.
pub fn kl_term(mean: Tensor<2>, raw: Tensor<2>, values: usize, weight: f64) -> Tensor<1> {
    if !runs_kernel(&mean) {
        return kl_per_sample(mean, raw, values).mean() * weight;
    }
    let [batch, _] = mean.dims();
    let scale = weight * 0.5 / (values * batch) as f64;
    Tensor::from_dispatch(Dispatch::kl_term(
        mean.into_dispatch(),
        raw.into_dispatch(),
        scale,
    ))
}
