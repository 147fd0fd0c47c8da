//! Between burn's Flex tensors and the kernels' `f32` slices.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::flex::FlexTensor;
use burn::backend::{DispatchDevice, Flex};
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

/// What `EARSHOT_CPU_KERNELS` asks for: on unless it is `off`, `0` or `false`.
pub fn enabled_by_environment() -> bool {
    SWITCH.by_environment()
}

/// Whether the CPU kernels run for tensors on `device` of type `dtype`: on the
/// Flex backend (with or without autodiff) and in `f32`, unless turned off
/// ([`set_enabled`]). Elsewhere (wgpu) the models compose burn's own operations.
pub fn supported(device: &Device, dtype: DType) -> bool {
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

/// `tensor` laid out contiguously (no copy when it already is).
pub(super) fn contiguous(tensor: FlexTensor) -> FlexTensor {
    tensor.to_contiguous()
}

/// The values of a contiguous `tensor`, borrowed.
pub(super) fn slice(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("the CPU kernels take contiguous f32 tensors (see `supported`)")
}

/// A Flex tensor of `values` in row-major order.
pub(super) fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Registers each gradient `(values, shape)` for the node of its input (`ids`
/// in the order the operation's inputs were given; untracked inputs are
/// `None` and get none).
pub(super) fn register_grads<const N: usize>(
    grads: &mut Gradients,
    ids: [Option<NodeId>; N],
    results: [(Vec<f32>, Vec<usize>); N],
) {
    for (id, (values, shape)) in ids.into_iter().zip(results) {
        if let Some(id) = id {
            grads.register::<Flex>(id, tensor(values, shape));
        }
    }
}
