//! Between burn's Flex tensors and the kernels' `f32` slices.

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::prelude::*;
use burn::tensor::DType;

/// Whether the CPU kernels run for tensors on `device` of type `dtype`: on the
/// Flex backend (with or without autodiff) and in `f32`. Elsewhere (wgpu) the
/// models compose burn's own operations.
pub fn supported(device: &Device, dtype: DType) -> bool {
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
