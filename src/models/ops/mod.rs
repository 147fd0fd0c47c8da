//! The models' hand-written operations, declared once: each backend-extension
//! trait ([`conv::ConvOps`], [`lstm::LstmSequenceOps`], [`gru::GruSequenceOps`]),
//! its shapes, the entry function a model calls, and its autodiff node. The
//! CPU kernels (`models::cpu`, on burn's Flex backend) and the GPU kernels
//! (`models::gpu`, on wgpu) implement the traits and import nothing from each
//! other; [`placement`] says which runs where. The shape is burn's own
//! `examples/custom-wgpu-kernel`: the trait and its backward in one place,
//! the backends' forward and backward beside it.

pub mod conv;
pub mod gru;
pub mod lstm;
pub mod placement;

use burn::backend::Backend;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::tensor::FloatTensor;

/// The sizes of one call of a recurrent kernel (LSTM, GRU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceDims {
    /// Sequences.
    pub batch: usize,
    /// Time steps.
    pub time: usize,
    /// Input features per step.
    pub input: usize,
    /// Hidden units.
    pub hidden: usize,
}

/// Registers each gradient for the node of its input (`parents` in the
/// order the operation's inputs were given; untracked inputs get none).
pub fn register_grads<B: Backend, const N: usize>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; N],
    results: [FloatTensor<B>; N],
) {
    for (parent, grad) in parents.into_iter().zip(results) {
        if let Some(id) = parent {
            grads.register::<B>(id, grad);
        }
    }
}
