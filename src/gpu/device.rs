//! What the adapter behind a burn device allows, and the switch that turns our
//! GPU kernels on or off. Mesa's software Vulkan (llvmpipe, "lavapipe") ends
//! every loop of a shader once 65,535 iterations have run in one invocation,
//! all its loops counted together, without an error (gallivm's loop limiter):
//! a kernel whose threads loop over a batch, a row or a sequence would return
//! wrong values past that, so its caller asks [`loops_fit`] first and runs
//! burn's operations where the count would pass it. Found when a column's loop
//! over 70,000 rows lost its last values.

use burn::backend::DispatchDevice;
use burn::cubecl::ir::DeviceProperties;
use burn::prelude::*;
use burn::tensor::DType;

use super::switch::KernelSwitch;

static SWITCH: KernelSwitch = KernelSwitch::new("EARSHOT_GPU_KERNELS");

/// Turns the GPU kernels on or off for this process (default: on, unless the
/// environment sets `EARSHOT_GPU_KERNELS=off`, `0` or `false`); off, every
/// model on wgpu runs on burn's own operations, to compare against.
pub fn set_enabled(on: bool) {
    SWITCH.set(on);
}

/// Runs `f` with the GPU kernels on or off on this thread only (a test
/// comparing them with burn's operations beside other tests).
pub fn with_kernels<R>(on: bool, f: impl FnOnce() -> R) -> R {
    SWITCH.scoped(on, f)
}

/// Whether the GPU kernels run for tensors on `device` of type `dtype`: on
/// burn's cubecl (wgpu) backend, in `f32`, unless turned off ([`set_enabled`]).
pub fn supported(device: &Device, dtype: DType) -> bool {
    SWITCH.is_on() && dtype == DType::F32 && on_gpu(device)
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

/// Loop iterations one invocation may run on Mesa's software drivers.
pub const SOFTWARE_LOOP_BUDGET: usize = 65_535;

/// The loop iterations one invocation may run on `device`: the software
/// drivers' budget on llvmpipe, no limit elsewhere (and off the GPU).
pub fn loop_budget(device: &Device) -> Option<usize> {
    let name = cube_properties(device, |p| p.identity.name.to_lowercase())?;
    (name.contains("llvmpipe") || name.contains("lavapipe")).then_some(SOFTWARE_LOOP_BUDGET)
}

/// Whether a kernel whose invocation loops `iterations` times runs right on
/// `device`.
pub fn loops_fit(device: &Device, iterations: usize) -> bool {
    loop_budget(device).is_none_or(|budget| iterations <= budget)
}
