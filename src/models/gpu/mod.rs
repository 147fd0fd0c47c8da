//! Hand-written WGSL kernels for the models on burn's wgpu backend, where
//! burn's cost per operation is a kernel dispatch: an LSTM layer over a whole
//! sequence is one persistent kernel forward and one backward
//! (`shaders/lstm_forward.wgsl`, `shaders/lstm_backward.wgsl`; the GRU's
//! likewise) plus a few matmuls, instead of several dispatches per time step;
//! a dense block (matmul, bias, training batch norm, ReLU) is one kernel each
//! way ([`norm_op`]); the loss is one kernel each way ([`loss_op`]); Adam
//! takes five parameter tensors a dispatch ([`adam_op`]). Wired into autodiff
//! through burn's backend-extension API ([`lstm_op`], [`gru_op`]);
//! [`supported`] says where they run. Held to burn's own layers in
//! `tests/gpu_kernels.rs` and `tests/gpu_adam.rs`.

pub mod adam_op;
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

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::tensor::FloatTensor;
use burn::backend::wgpu::CubeTensor;
use burn::backend::{Cube, DispatchDevice};
use burn::cubecl::ir::DeviceProperties;
use burn::cubecl::server::Handle;
use burn::prelude::*;
use burn::tensor::DType;

use super::cpu::SequenceDims;
use super::switch::KernelSwitch;
use crate::features::gpu::kernels::{WgslKernel, grid};

static SWITCH: KernelSwitch = KernelSwitch::new("EARSHOT_GPU_KERNELS");

/// Turns the GPU kernels on or off for this process (default: on, unless the
/// environment sets `EARSHOT_GPU_KERNELS=off`, `0` or `false`); off, every
/// model on wgpu runs on burn's own operations, to compare against.
pub fn set_enabled(on: bool) {
    SWITCH.set(on);
}

/// Whether `device` is burn's cubecl (wgpu) backend, with or without autodiff,
/// whatever the kernels' switch says (device buffer limits apply either way).
pub fn on_gpu(device: &Device) -> bool {
    match device.as_dispatch() {
        DispatchDevice::Cube(_) => true,
        DispatchDevice::Autodiff(inner) => matches!(**inner, DispatchDevice::Cube(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// What `f` reads of the cubecl device's properties behind `device` (with
/// or without autodiff); `None` off the cubecl backend.
fn cube_properties<T>(device: &Device, f: impl FnOnce(&DeviceProperties) -> T) -> Option<T> {
    let cube = match device.as_dispatch() {
        DispatchDevice::Cube(d) => d,
        DispatchDevice::Autodiff(inner) => match &**inner {
            DispatchDevice::Cube(d) => d,
            #[allow(unreachable_patterns)]
            _ => return None,
        },
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    Some(f(cube.client().properties()))
}

/// Storage buffers one kernel may bind on `device` (cubecl's count, which
/// keeps one for wgpu); `None` off the cubecl backend.
pub fn max_bindings(device: &Device) -> Option<u32> {
    cube_properties(device, |p| p.hardware.max_bindings)
}

/// Whether the GPU kernels run for tensors on `device` of type `dtype`: on
/// burn's cubecl (wgpu) backend, in `f32`, unless turned off ([`set_enabled`]).
pub fn supported(device: &Device, dtype: DType) -> bool {
    SWITCH.is_on() && dtype == DType::F32 && on_gpu(device)
}

/// The largest hidden size the recurrent kernels take: their workgroup
/// memory (up to 6 x hidden floats) must fit WebGPU's guaranteed 16 KiB.
pub const MAX_RECURRENT_HIDDEN: usize = 640;

/// Whether a recurrent layer (LSTM: 4 gates a unit, GRU: 3) of `input`
/// features and `hidden` units over `steps` steps runs as the GPU kernels
/// here: within their workgroup memory, and within the loop iterations the
/// adapter allows (their threads loop over the steps).
pub fn recurrent_supported(
    device: &Device,
    dtype: DType,
    gates: usize,
    [input, hidden, steps]: [usize; 3],
) -> bool {
    let threads = recurrent_threads(gates, hidden);
    let iterations = limits::recurrent_iterations(input, hidden, steps, gates, threads);
    hidden <= MAX_RECURRENT_HIDDEN
        && supported(device, dtype)
        && limits::loops_fit(device, iterations)
}

/// A new contiguous f32 tensor on `like`'s device (contents undefined).
fn empty(like: &CubeTensor, shape: impl Into<Shape>) -> CubeTensor {
    let shape = shape.into();
    let handle = like
        .client
        .empty(shape.num_elements().max(1) * DType::F32.size());
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape,
        handle,
        DType::F32,
    )
}

/// `[batch, workgroups per grid row]` for one workgroup per sequence.
fn sequence_params(like: &CubeTensor, batch: usize) -> Handle {
    let (width, _) = grid(batch as u32);
    like.client
        .create_from_slice(bytemuck::cast_slice(&[batch as u32, width]))
}

/// Threads of a recurrent kernel's workgroup: one per gate column, a power
/// of two from 64 to 256.
fn recurrent_threads(gates: usize, hidden: usize) -> usize {
    (gates * hidden).next_power_of_two().clamp(64, 256)
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

/// Registers each gradient for the node of its input (`parents` in the
/// order the operation's inputs were given; untracked inputs get none).
fn register_grads<const N: usize>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; N],
    results: [FloatTensor<Cube>; N],
) {
    for (parent, grad) in parents.into_iter().zip(results) {
        if let Some(id) = parent {
            grads.register::<Cube>(id, grad);
        }
    }
}
