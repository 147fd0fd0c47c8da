//! Tensor plumbing the kernels' operations share: output buffers and the
//! registration of gradients in burn's autodiff graph.

use burn::backend::Cube;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::tensor::FloatTensor;
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

/// Registers each gradient for the node of its input (`parents` in the
/// order the operation's inputs were given; untracked inputs get none).
pub fn register_grads<const N: usize>(
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
