//! Launching the LSTM kernels on burn's cubecl tensors: the input projection
//! and the weight gradients are burn matmuls, the recurrence is ours.

use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::cubecl::server::KernelArguments;
use burn::tensor::Slice;

use super::{recurrent_kernel, sequence_params};
use crate::gpu::empty;
use crate::models::ops::SequenceDims;

const FORWARD: &str = include_str!("../../../shaders/lstm_forward.wgsl");
const BACKWARD: &str = include_str!("../../../shaders/lstm_backward.wgsl");

/// Sizes from `x [batch, time, input]` and `weight [input + hidden, 4 hidden]`.
fn dims(x: &CubeTensor, weight: &CubeTensor) -> SequenceDims {
    let xs = x.meta.shape();
    let ws = weight.meta.shape();
    assert!(
        xs.num_dims() == 3 && ws.num_dims() == 2,
        "x is [batch, time, input], weight 2-D"
    );
    let hidden = ws[1] / 4;
    assert_eq!(
        ws[0],
        xs[2] + hidden,
        "weight is [input + hidden, 4 hidden]"
    );
    SequenceDims {
        batch: xs[0],
        time: xs[1],
        input: xs[2],
        hidden,
    }
}

fn range(start: usize, end: usize) -> Slice {
    Slice {
        start: start as isize,
        end: Some(end as isize),
        step: 1,
    }
}

/// The rows `[0, input)` of the gate weight: W_x.
fn input_weight(weight: CubeTensor, d: SequenceDims) -> CubeTensor {
    CubeBackend::float_slice(weight, &[range(0, d.input), range(0, 4 * d.hidden)])
}

/// Hidden states, gate activations and cell states of an LSTM layer over `x`
/// `[batch, time, input]` with `weight [input + hidden, 4 hidden]` and `bias
/// [4 hidden]`.
pub fn forward(
    x: CubeTensor,
    weight: CubeTensor,
    bias: CubeTensor,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let d = dims(&x, &weight);
    let g = 4 * d.hidden;
    let hidden = empty(&x, [d.batch, d.time, d.hidden]);
    let gates = empty(&x, [d.batch, d.time, g]);
    let cells = empty(&x, [d.batch, d.time, d.hidden]);
    if d.batch * d.time == 0 {
        return (hidden, gates, cells);
    }
    let weight = into_contiguous(weight);
    let bias = into_contiguous(bias);
    let x = CubeBackend::float_reshape(into_contiguous(x), [d.batch * d.time, d.input].into());
    let projected = into_contiguous(CubeBackend::float_matmul(
        x,
        input_weight(weight.clone(), d),
    ));
    let params = sequence_params(&hidden, d.batch);
    recurrent_kernel("lstm_forward", FORWARD, d, 4).launch(
        &hidden.client,
        d.batch as u32,
        KernelArguments::new().with_buffers(vec![
            projected.handle.binding(),
            weight.handle.binding(),
            bias.handle.binding(),
            hidden.handle.clone().binding(),
            gates.handle.clone().binding(),
            cells.handle.clone().binding(),
            params.binding(),
        ]),
    );
    (hidden, gates, cells)
}

/// Gradients by `x`, `weight` and `bias` of a layer [`forward`] ran over,
/// from `grad_hidden`, the gradient by its hidden states.
pub fn backward(
    x: CubeTensor,
    weight: CubeTensor,
    saved: [CubeTensor; 3],
    grad_hidden: CubeTensor,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let d = dims(&x, &weight);
    let g = 4 * d.hidden;
    let width = d.input + d.hidden;
    let grad_gates = empty(&x, [d.batch * d.time, g]);
    let inputs = empty(&x, [d.batch * d.time, width]);
    let weight = into_contiguous(weight);
    if d.batch * d.time > 0 {
        let [hidden, gates, cells] = saved.map(into_contiguous);
        let x = into_contiguous(x);
        let grad_hidden = into_contiguous(grad_hidden);
        let params = sequence_params(&grad_gates, d.batch);
        recurrent_kernel("lstm_backward", BACKWARD, d, 4).launch(
            &grad_gates.client,
            d.batch as u32,
            KernelArguments::new().with_buffers(vec![
                x.handle.binding(),
                weight.handle.clone().binding(),
                hidden.handle.binding(),
                gates.handle.binding(),
                cells.handle.binding(),
                grad_hidden.handle.binding(),
                grad_gates.handle.clone().binding(),
                inputs.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    let grad_weight = CubeBackend::float_matmul(
        CubeBackend::float_swap_dims(inputs, 0, 1),
        grad_gates.clone(),
    );
    let grad_bias = CubeBackend::float_reshape(
        CubeBackend::float_sum_dim(grad_gates.clone(), 0),
        [g].into(),
    );
    let grad_x = CubeBackend::float_matmul(
        grad_gates,
        CubeBackend::float_swap_dims(input_weight(weight, d), 0, 1),
    );
    let grad_x = CubeBackend::float_reshape(grad_x, [d.batch, d.time, d.input].into());
    (grad_x, grad_weight, grad_bias)
}
