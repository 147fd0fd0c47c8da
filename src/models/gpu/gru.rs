//! Launching the GRU kernels on burn's cubecl tensors: the input part and the
//! weight gradients are burn matmuls, the recurrence is ours.

use burn::backend::ops::FloatTensorOps;
use burn::backend::wgpu::{CubeBackend, CubeTensor, into_contiguous};
use burn::cubecl::server::KernelArguments;

use super::{recurrent_kernel, sequence_params};
use crate::gpu::empty;
use crate::models::ops::SequenceDims;

const FORWARD: &str = include_str!("../../../shaders/gru_forward.wgsl");
const BACKWARD: &str = include_str!("../../../shaders/gru_backward.wgsl");

/// Sizes from `x [batch, time, input]` and `w_hidden [hidden, 3 hidden]`.
fn dims(x: &CubeTensor, w_hidden: &CubeTensor) -> SequenceDims {
    let xs = x.meta.shape();
    let ws = w_hidden.meta.shape();
    assert!(
        xs.num_dims() == 3 && ws.num_dims() == 2,
        "x is [batch, time, input]"
    );
    assert_eq!(ws[1], 3 * ws[0], "w_hidden is [hidden, 3 hidden]");
    SequenceDims {
        batch: xs[0],
        time: xs[1],
        input: xs[2],
        hidden: ws[0],
    }
}

/// Hidden states and the trace (z, r, n, q_n per step) of a GRU layer over
/// `x [batch, time, input]`; weights as in [`crate::models::ops::gru::GruSequenceOps`].
pub fn forward(
    x: CubeTensor,
    w_input: CubeTensor,
    b_input: CubeTensor,
    w_hidden: CubeTensor,
    b_hidden: CubeTensor,
) -> (CubeTensor, CubeTensor) {
    let d = dims(&x, &w_hidden);
    let hidden = empty(&x, [d.batch, d.time, d.hidden]);
    let trace = empty(&x, [d.batch, d.time, 4 * d.hidden]);
    if d.batch * d.time == 0 {
        return (hidden, trace);
    }
    let x = CubeBackend::float_reshape(into_contiguous(x), [d.batch * d.time, d.input].into());
    let projected = into_contiguous(CubeBackend::float_matmul(x, w_input));
    let [b_input, w_hidden, b_hidden] = [b_input, w_hidden, b_hidden].map(into_contiguous);
    let params = sequence_params(&hidden, d.batch);
    recurrent_kernel("gru_forward", FORWARD, d, 3).launch(
        &hidden.client,
        d.batch as u32,
        KernelArguments::new().with_buffers(vec![
            projected.handle.binding(),
            b_input.handle.binding(),
            w_hidden.handle.binding(),
            b_hidden.handle.binding(),
            hidden.handle.clone().binding(),
            trace.handle.clone().binding(),
            params.binding(),
        ]),
    );
    (hidden, trace)
}

/// Gradients by `x`, `w_input`, `b_input`, `w_hidden` and `b_hidden` of a
/// layer [`forward`] ran over, from `grad_hidden`.
pub fn backward(
    x: CubeTensor,
    w_input: CubeTensor,
    w_hidden: CubeTensor,
    [hidden, trace]: [CubeTensor; 2],
    grad_hidden: CubeTensor,
) -> [CubeTensor; 5] {
    let d = dims(&x, &w_hidden);
    let g = 3 * d.hidden;
    let grad_a = empty(&x, [d.batch * d.time, g]);
    let grad_q = empty(&x, [d.batch * d.time, g]);
    let previous = empty(&x, [d.batch * d.time, d.hidden]);
    let w_hidden = into_contiguous(w_hidden);
    if d.batch * d.time > 0 {
        let [hidden, trace, grad_hidden] = [hidden, trace, grad_hidden].map(into_contiguous);
        let params = sequence_params(&grad_a, d.batch);
        recurrent_kernel("gru_backward", BACKWARD, d, 3).launch(
            &grad_a.client,
            d.batch as u32,
            KernelArguments::new().with_buffers(vec![
                w_hidden.handle.binding(),
                hidden.handle.binding(),
                trace.handle.binding(),
                grad_hidden.handle.binding(),
                grad_a.handle.clone().binding(),
                grad_q.handle.clone().binding(),
                previous.handle.clone().binding(),
                params.binding(),
            ]),
        );
    }
    let x = CubeBackend::float_reshape(into_contiguous(x), [d.batch * d.time, d.input].into());
    let t = |m: CubeTensor| CubeBackend::float_swap_dims(m, 0, 1);
    let sum =
        |m: CubeTensor| CubeBackend::float_reshape(CubeBackend::float_sum_dim(m, 0), [g].into());
    let grad_w_input = CubeBackend::float_matmul(t(x), grad_a.clone());
    let grad_w_hidden = CubeBackend::float_matmul(t(previous), grad_q.clone());
    let grad_x = CubeBackend::float_matmul(grad_a.clone(), t(w_input));
    let grad_x = CubeBackend::float_reshape(grad_x, [d.batch, d.time, d.input].into());
    [
        grad_x,
        grad_w_input,
        sum(grad_a),
        grad_w_hidden,
        sum(grad_q),
    ]
}
