//! Where the hand-written kernels run: the CPU kernels on burn's Flex backend
//! (unless switched off), the GPU kernels on wgpu within what the adapter and
//! their workgroup memory allow; elsewhere the models compose burn's own
//! operations. The entry functions of [`super`] ask here before they dispatch.

use burn::backend::DispatchDevice;
use burn::prelude::*;
use burn::tensor::DType;

use crate::gpu::switch::KernelSwitch;

static SWITCH: KernelSwitch = KernelSwitch::new("EARSHOT_CPU_KERNELS");

/// Turns the CPU kernels on or off for this process (default: on, unless the
/// environment sets `EARSHOT_CPU_KERNELS=off`, `0` or `false`); off, every model runs on
/// burn's own operations, to compare against.
pub fn set_enabled(on: bool) {
    SWITCH.set(on);
}

/// Runs `f` with the CPU kernels on or off on this thread only (a test
/// comparing them with burn's operations beside other tests).
pub fn with_cpu_kernels<R>(on: bool, f: impl FnOnce() -> R) -> R {
    SWITCH.scoped(on, f)
}

/// What `EARSHOT_CPU_KERNELS` asks for: on unless it is `off`, `0` or `false`.
pub fn enabled_by_environment() -> bool {
    SWITCH.by_environment()
}

/// Whether the CPU kernels run for tensors on `device` of type `dtype`: on the
/// Flex backend (with or without autodiff) and in `f32`, unless turned off
/// ([`set_enabled`]). Elsewhere (wgpu) the models compose burn's own operations.
pub fn cpu_kernels_run(device: &Device, dtype: DType) -> bool {
    if !SWITCH.is_on() {
        return false;
    }
    let on_flex = match device.as_dispatch() {
        DispatchDevice::Flex(_) => true,
        DispatchDevice::Autodiff(inner) => matches!(**inner, DispatchDevice::Flex(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    };
    on_flex && dtype == DType::F32
}

/// Whether the CPU or the GPU kernels run for tensors on `device` of `dtype`.
pub fn kernels_run(device: &Device, dtype: DType) -> bool {
    cpu_kernels_run(device, dtype) || crate::gpu::supported(device, dtype)
}

/// The largest hidden size the recurrent kernels take: their workgroup
/// memory (up to 6 x hidden floats) must fit WebGPU's guaranteed 16 KiB.
pub const MAX_RECURRENT_HIDDEN: usize = 640;

/// Threads of a recurrent kernel's workgroup: one per gate column, a power
/// of two from 64 to 256.
pub fn recurrent_threads(gates: usize, hidden: usize) -> usize {
    (gates * hidden).next_power_of_two().clamp(64, 256)
}

/// Whether a recurrent layer (LSTM: 4 gates a unit, GRU: 3) of `input`
/// features and `hidden` units over `steps` steps runs as the GPU kernels
/// here: within their workgroup memory, and within the loop iterations the
/// adapter allows (their threads loop over the steps).
pub fn recurrent_gpu_kernels_run(
    device: &Device,
    dtype: DType,
    gates: usize,
    [input, hidden, steps]: [usize; 3],
) -> bool {
    let threads = recurrent_threads(gates, hidden);
    let iterations = recurrent_iterations(input, hidden, steps, gates, threads);
    hidden <= MAX_RECURRENT_HIDDEN
        && crate::gpu::supported(device, dtype)
        && crate::gpu::loops_fit(device, iterations)
}

/// Whether the CPU kernel or the GPU kernels run for such a layer.
pub fn recurrent_kernels_run(
    device: &Device,
    dtype: DType,
    gates: usize,
    dims: [usize; 3],
) -> bool {
    cpu_kernels_run(device, dtype) || recurrent_gpu_kernels_run(device, dtype, gates, dims)
}

/// Loop iterations of one thread of the recurrent kernels over `steps` steps
/// (`gates` gate columns per unit, `threads` a workgroup), counting every
/// loop the compiler might keep: per step the gates' dot products, the
/// backward pass's `dpre U^T`, the input copy and the unit loops.
pub fn recurrent_iterations(
    input: usize,
    hidden: usize,
    steps: usize,
    gates: usize,
    threads: usize,
) -> usize {
    let columns = gates * hidden;
    let per_step = columns.div_ceil(threads) * (hidden + 1)
        + hidden.div_ceil(threads) * (columns + 4)
        + input.div_ceil(threads)
        + 2;
    steps * per_step + 2 * hidden.div_ceil(threads) + 64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::SOFTWARE_LOOP_BUDGET;

    #[test]
    fn recurrent_iteration_counts_grow_with_the_steps() {
        // The bench's LSTM (hidden 64, 32 steps) fits; 2,000 steps do not.
        let lstm = |steps| recurrent_iterations(20, 64, steps, 4, 256);
        assert_eq!(lstm(1), 65 + 260 + 1 + 2 + 2 + 64);
        assert!(lstm(32) < SOFTWARE_LOOP_BUDGET);
        assert!(lstm(2_000) > SOFTWARE_LOOP_BUDGET);
    }
}
