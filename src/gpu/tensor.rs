//! Tensor plumbing the kernels share: output buffers on the device.

use burn::backend::wgpu::CubeTensor;
use burn::prelude::*;
use burn::tensor::DType;

/// A new contiguous f32 tensor on `like`'s device (contents undefined).
pub fn empty(like: &CubeTensor, shape: impl Into<Shape>) -> CubeTensor {
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
