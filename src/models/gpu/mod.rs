//! Hand-written WGSL kernels for the models on burn's wgpu backend, where
//! burn's cost per operation is a kernel dispatch: an LSTM layer over a whole
//! sequence is one persistent kernel forward and one backward
//! (`shaders/lstm_forward.wgsl`, `shaders/lstm_backward.wgsl`; the GRU's
//! likewise) plus a few matmuls, instead of several dispatches per time step;
//! a dense block (matmul, bias, training batch norm, ReLU) is one kernel each
//! way ([`norm_op`]); the loss is one kernel each way ([`loss_op`]). Wired
//! into autodiff through burn's backend-extension API ([`lstm_op`],
//! [`gru_op`]); [`crate::models::ops::placement`] says where they run. Held to burn's own layers in
//! `tests/it/gpu_kernels.rs`; the launcher, the adapter's limits and the
//! switch are in [`crate::gpu`].

pub(crate) mod conv;
pub mod conv_op;
mod gru;
pub mod gru_op;
pub mod limits;
pub mod loss_op;
mod lstm;
pub mod lstm_op;
mod norm;
pub mod norm_op;
pub mod vae_op;

use burn::backend::wgpu::CubeTensor;
use burn::cubecl::server::Handle;

use crate::gpu::{WgslKernel, grid};
use crate::models::ops::SequenceDims;
use crate::models::ops::placement::recurrent_threads;

/// `[batch, workgroups per grid row]` for one workgroup per sequence.
fn sequence_params(like: &CubeTensor, batch: usize) -> Handle {
    let (width, _) = grid(batch as u32);
    like.client
        .create_from_slice(bytemuck::cast_slice(&[batch as u32, width]))
}

/// A persistent recurrent kernel for a layer of `d` whose units have `gates`
/// gate columns each: one thread per gate column, a power of two from 64 to
/// 256; sizes are template values, so each shape compiles once.
fn recurrent_kernel(
    name: &'static str,
    source: &'static str,
    d: SequenceDims,
    gates: usize,
) -> WgslKernel {
    let threads = recurrent_threads(gates, d.hidden) as u32;
    WgslKernel::new(
        name,
        source,
        vec![
            ("input", d.input.to_string()),
            ("hidden", d.hidden.to_string()),
            ("time", d.time.to_string()),
            ("threads", threads.to_string()),
        ],
        threads,
    )
}
