//! Hand-written WGSL kernels for the models on burn's wgpu backend, where
//! burn's cost per operation is a kernel dispatch: an LSTM layer over a whole
//! sequence is one persistent kernel forward and one backward
//! (`shaders/lstm_forward.wgsl`, `shaders/lstm_backward.wgsl`; the GRU's
//! likewise) plus a few matmuls, instead of several dispatches per time step;
//! a training batch norm and its ReLU are one kernel each way ([`norm_op`]).
//! Wired into autodiff through burn's backend-extension API ([`lstm_op`],
//! [`gru_op`]); [`supported`] says where they run. Held to burn's own layers
//! in `tests/gpu_kernels.rs`.

pub(crate) mod conv;
pub mod conv_op;
mod gru;
pub mod gru_op;
mod lstm;
pub mod lstm_op;
mod norm;
pub mod norm_op;

use std::sync::atomic::{AtomicU8, Ordering};

use burn::backend::DispatchDevice;
use burn::prelude::*;
use burn::tensor::DType;

/// 0: not decided yet, 1: on, 2: off.
static ENABLED: AtomicU8 = AtomicU8::new(0);

/// Turns the GPU kernels on or off for this process (default: on, unless the
/// environment sets `EARSHOT_GPU_KERNELS=off`, `0` or `false`); off, every
/// model on wgpu runs on burn's own operations, to compare against.
pub fn set_enabled(on: bool) {
    ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let off = |v: String| matches!(v.to_ascii_lowercase().as_str(), "off" | "0" | "false");
            let on = !std::env::var("EARSHOT_GPU_KERNELS").is_ok_and(off);
            set_enabled(on);
            on
        }
        state => state == 1,
    }
}

/// Whether the GPU kernels run for tensors on `device` of type `dtype`: on
/// burn's cubecl (wgpu) backend, with or without autodiff, in `f32`, unless
/// turned off ([`set_enabled`]).
pub fn supported(device: &Device, dtype: DType) -> bool {
    if !enabled() || dtype != DType::F32 {
        return false;
    }
    match device.as_dispatch() {
        DispatchDevice::Cube(_) => true,
        DispatchDevice::Autodiff(inner) => matches!(**inner, DispatchDevice::Cube(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// The largest hidden size the recurrent kernels take: their workgroup
/// memory (up to 6 x hidden floats) must fit WebGPU's guaranteed 16 KiB.
pub const MAX_RECURRENT_HIDDEN: usize = 640;

/// Whether a recurrent layer (LSTM, GRU) of `hidden` units runs as the GPU
/// kernels here.
pub fn recurrent_supported(device: &Device, dtype: DType, hidden: usize) -> bool {
    hidden <= MAX_RECURRENT_HIDDEN && supported(device, dtype)
}
