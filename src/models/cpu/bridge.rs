//! Between burn's Flex tensors and the kernels' `f32` slices.

use burn::backend::flex::FlexTensor;
use burn::prelude::*;

pub use crate::models::ops::placement::{
    cpu_kernels_run as supported, enabled_by_environment, set_enabled,
    with_cpu_kernels as with_kernels,
};

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
