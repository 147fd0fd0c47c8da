//! One LSTM layer over a whole sequence, forward and backward, on the CPU.
//!
//! Layouts are batch-first and row-major: `x [batch, time, input]`,
//! `weight [input + hidden, 4 * hidden]` (rows for the input, then for the
//! previous hidden state; gate columns in the order input, forget, cell,
//! output), `bias [4 * hidden]`; the initial hidden and cell states are zero.
//!
//! Per chunk of [`super::SEQUENCE_CHUNK`] sequences: one matmul projects every step's input at
//! once, then each step is one `[chunk, hidden] x [hidden, 4 hidden]` matmul and
//! a vectorised pass over the gates. The backward pass walks the steps in
//! reverse with one matmul per step and leaves the weight gradient to a single
//! matmul over all steps. Chunks run in parallel and their weight gradients are
//! summed in chunk order, so results do not depend on the thread count.

use rayon::prelude::*;

use super::{
    SEQUENCE_CHUNK as CHUNK, SequenceDims, Strided, chunk_slots, matmul, sigmoid, sum_in_order,
    tanh, with_wide_simd,
};

/// The sizes of one call.
pub type LstmDims = SequenceDims;

fn gate_width(d: LstmDims) -> usize {
    4 * d.hidden
}

/// What the forward pass computes and the backward pass needs.
#[derive(Debug, Clone)]
pub struct LstmTrace {
    /// `h_t`, `[batch, time, hidden]`: the layer's output.
    pub hidden: Vec<f32>,
    /// Activated gates `i, f, g, o`, `[batch, time, 4 hidden]`.
    pub gates: Vec<f32>,
    /// `c_t`, `[batch, time, hidden]`.
    pub cells: Vec<f32>,
    /// `tanh c_t`, `[batch, time, hidden]`.
    pub cells_tanh: Vec<f32>,
}

/// Gradients of a loss with respect to the inputs of [`forward`].
#[derive(Debug, Clone)]
pub struct LstmGrads {
    /// By the input (empty when not asked for).
    pub x: Vec<f32>,
    /// By the gate weight `[input + hidden, 4 hidden]`.
    pub weight: Vec<f32>,
    /// By the gate bias.
    pub bias: Vec<f32>,
}

fn check(d: LstmDims, x: &[f32], weight: &[f32], bias: Option<&[f32]>) {
    assert!(d.input > 0 && d.hidden > 0, "empty LSTM layer");
    assert_eq!(
        x.len(),
        d.batch * d.time * d.input,
        "x is not [batch, time, input]"
    );
    assert_eq!(
        weight.len(),
        (d.input + d.hidden) * gate_width(d),
        "weight shape"
    );
    if let Some(bias) = bias {
        assert_eq!(bias.len(), gate_width(d), "bias shape");
    }
}

/// Runs the layer over every sequence of `x`, keeping what the backward
/// pass needs.
pub fn forward(d: LstmDims, x: &[f32], weight: &[f32], bias: &[f32]) -> LstmTrace {
    check(d, x, weight, Some(bias));
    let (t, h, g) = (d.time, d.hidden, gate_width(d));
    let mut trace = LstmTrace {
        hidden: vec![0.0; d.batch * t * h],
        gates: vec![0.0; d.batch * t * g],
        cells: vec![0.0; d.batch * t * h],
        cells_tanh: vec![0.0; d.batch * t * h],
    };
    if d.batch == 0 || t == 0 {
        return trace;
    }
    // Every sequence's chunk of each buffer, in step.
    trace
        .hidden
        .par_chunks_mut(CHUNK * t * h)
        .zip(trace.gates.par_chunks_mut(CHUNK * t * g))
        .zip(trace.cells.par_chunks_mut(CHUNK * t * h))
        .zip(trace.cells_tanh.par_chunks_mut(CHUNK * t * h))
        .enumerate()
        .for_each(|(chunk, (((hs, gates), cells), cells_tanh))| {
            let rows = hs.len() / (t * h);
            let xs = &x[chunk * CHUNK * t * d.input..][..rows * t * d.input];
            forward_chunk(d, rows, xs, weight, bias, hs, gates, cells, cells_tanh);
        });
    trace
}

/// The layer's output `h_t` only (inference): the gates and cells live one
/// chunk at a time, so memory stays that of the output.
pub fn hidden_states(d: LstmDims, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    check(d, x, weight, Some(bias));
    let (t, h, g) = (d.time, d.hidden, gate_width(d));
    let mut hidden = vec![0.0; d.batch * t * h];
    if d.batch == 0 || t == 0 {
        return hidden;
    }
    hidden
        .par_chunks_mut(CHUNK * t * h)
        .enumerate()
        .for_each(|(chunk, hs)| {
            let rows = hs.len() / (t * h);
            let xs = &x[chunk * CHUNK * t * d.input..][..rows * t * d.input];
            let mut gates = vec![0.0; rows * t * g];
            let (mut cells, mut cells_tanh) = (vec![0.0; rows * t * h], vec![0.0; rows * t * h]);
            forward_chunk(
                d,
                rows,
                xs,
                weight,
                bias,
                hs,
                &mut gates,
                &mut cells,
                &mut cells_tanh,
            );
        });
    hidden
}

#[allow(clippy::too_many_arguments)]
fn forward_chunk(
    d: LstmDims,
    rows: usize,
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    hs: &mut [f32],
    gates: &mut [f32],
    cells: &mut [f32],
    cells_tanh: &mut [f32],
) {
    let (t, n, g) = (d.time, d.hidden, gate_width(d));
    // Every step's input projection plus bias at once.
    for row in gates.chunks_exact_mut(g) {
        row.copy_from_slice(bias);
    }
    matmul(
        gates,
        Strided::rows(rows * t, g, 0, g),
        x,
        Strided::rows(rows * t, d.input, 0, d.input),
        weight,
        Strided::rows(d.input, g, 0, g),
        true,
    );
    let w_hidden = Strided::rows(n, g, d.input * g, g);
    for step in 0..t {
        if step > 0 {
            matmul(
                gates,
                Strided::rows(rows, g, step * g, t * g),
                hs,
                Strided::rows(rows, n, (step - 1) * n, t * n),
                weight,
                w_hidden,
                true,
            );
        }
        with_wide_simd(|| {
            for b in 0..rows {
                let at = b * t + step;
                let z = &mut gates[at * g..][..g];
                // Cells of step - 1 and step of this sequence, split to borrow both.
                let (before, now) = cells.split_at_mut(at * n);
                let prev = (step > 0).then(|| &before[before.len() - n..]);
                let out = (
                    &mut now[..n],
                    &mut cells_tanh[at * n..][..n],
                    &mut hs[at * n..][..n],
                );
                activate(z, prev, out);
            }
        });
    }
}

/// One sequence's step: activates the gates `z` in place (`i, f, o` logistic,
/// `g` tanh) and writes `c_t`, `tanh c_t` and `h_t` from `c_{t-1}` (`None`: zero).
#[inline(always)]
fn activate(z: &mut [f32], prev: Option<&[f32]>, (c, tc, h): (&mut [f32], &mut [f32], &mut [f32])) {
    let n = c.len();
    let (ifo, rest) = z.split_at_mut(2 * n);
    let (cell_gate, out_gate) = rest.split_at_mut(n);
    for v in ifo.iter_mut() {
        *v = sigmoid(*v);
    }
    for v in out_gate.iter_mut() {
        *v = sigmoid(*v);
    }
    for v in cell_gate.iter_mut() {
        *v = tanh(*v);
    }
    let (i, f) = ifo.split_at(n);
    match prev {
        Some(p) => (0..n).for_each(|j| c[j] = f[j] * p[j] + i[j] * cell_gate[j]),
        None => (0..n).for_each(|j| c[j] = i[j] * cell_gate[j]),
    }
    for j in 0..n {
        tc[j] = tanh(c[j]);
        h[j] = out_gate[j] * tc[j];
    }
}

/// Gradients for `grad_hidden` (`dLoss/dh_t`, `[batch, time, hidden]`);
/// `want_x` says whether the input's gradient is needed (not for the data:
/// then `x` of the result is empty).
pub fn backward(
    d: LstmDims,
    x: &[f32],
    weight: &[f32],
    trace: &LstmTrace,
    grad_hidden: &[f32],
    want_x: bool,
) -> LstmGrads {
    let (t, n, g) = (d.time, d.hidden, gate_width(d));
    assert_eq!(grad_hidden.len(), d.batch * t * n, "grad_hidden shape");
    assert_eq!(trace.gates.len(), d.batch * t * g, "trace shape");
    check(d, x, weight, None);
    let mut grad_x = vec![0.0; if want_x { x.len() } else { 0 }];
    let chunks = d.batch.div_ceil(CHUNK);
    let partials: Vec<Vec<f32>> = chunk_slots(&mut grad_x, CHUNK * t * d.input, chunks, want_x)
        .into_par_iter()
        .enumerate()
        .map(|(chunk, grad_x)| {
            let start = chunk * CHUNK;
            let rows = CHUNK.min(d.batch - start);
            backward_chunk(d, start, rows, x, weight, trace, grad_hidden, grad_x)
        })
        .collect();
    let [grad_weight, grad_bias]: [Vec<f32>; 2] = sum_in_order(&partials, &[(d.input + n) * g, g])
        .try_into()
        .expect("two parts");
    LstmGrads {
        x: grad_x,
        weight: grad_weight,
        bias: grad_bias,
    }
}

/// One sequence's step backwards: from the activated gates `z`, `tanh c_t`,
/// `c_{t-1}` and the gradients reaching `h_t` (from the output and from step
/// t + 1), writes the pre-activation gate gradients `dz` and turns `dc`
/// (`dLoss/dc_t` coming back from step t + 1) into `dLoss/dc_{t-1}`.
#[inline(always)]
fn differentiate(
    z: &[f32],
    (tc, prev): (&[f32], Option<&[f32]>),
    (dh_out, dh_next): (&[f32], &[f32]),
    dz: &mut [f32],
    dc: &mut [f32],
) {
    let n = tc.len();
    let (i, rest) = z.split_at(n);
    let (f, rest) = rest.split_at(n);
    let (cg, o) = rest.split_at(n);
    let (di, rest) = dz.split_at_mut(n);
    let (df, rest) = rest.split_at_mut(n);
    let (dg, d_o) = rest.split_at_mut(n);
    for j in 0..n {
        let dh = dh_out[j] + dh_next[j];
        let dc_t = dc[j] + dh * o[j] * (1.0 - tc[j] * tc[j]);
        d_o[j] = dh * tc[j] * o[j] * (1.0 - o[j]);
        di[j] = dc_t * cg[j] * i[j] * (1.0 - i[j]);
        dg[j] = dc_t * i[j] * (1.0 - cg[j] * cg[j]);
        df[j] = dc_t * f[j] * (1.0 - f[j]); // times c_{t-1} below
        dc[j] = dc_t * f[j];
    }
    match prev {
        Some(p) => df.iter_mut().zip(p).for_each(|(d, p)| *d *= p),
        None => df.fill(0.0),
    }
}

/// Backward pass of sequences `start .. start + rows`: writes their input
/// gradient and returns their weight then bias gradient, concatenated.
#[allow(clippy::too_many_arguments)]
fn backward_chunk(
    d: LstmDims,
    start: usize,
    rows: usize,
    x: &[f32],
    weight: &[f32],
    trace: &LstmTrace,
    grad_hidden: &[f32],
    grad_x: Option<&mut [f32]>,
) -> Vec<f32> {
    let (t, n, g, inp) = (d.time, d.hidden, gate_width(d), d.input);
    let gates = &trace.gates[start * t * g..][..rows * t * g];
    let cells = &trace.cells[start * t * n..][..rows * t * n];
    let cells_tanh = &trace.cells_tanh[start * t * n..][..rows * t * n];
    let hs = &trace.hidden[start * t * n..][..rows * t * n];
    let dh_out = &grad_hidden[start * t * n..][..rows * t * n];
    // dLoss / d(pre-activation gates) for every step.
    let mut grad_gates = vec![0.0f32; rows * t * g];
    let mut dh_next = vec![0.0f32; rows * n];
    let mut dc_next = vec![0.0f32; rows * n];
    let w_hidden_t = Strided::rows(n, g, inp * g, g).t();
    for step in (0..t).rev() {
        with_wide_simd(|| {
            for b in 0..rows {
                let at = b * t + step;
                let prev = (step > 0).then(|| &cells[(at - 1) * n..][..n]);
                let cell = (&cells_tanh[at * n..][..n], prev);
                let incoming = (&dh_out[at * n..][..n], &dh_next[b * n..][..n]);
                let dz = &mut grad_gates[at * g..][..g];
                differentiate(
                    &gates[at * g..][..g],
                    cell,
                    incoming,
                    dz,
                    &mut dc_next[b * n..][..n],
                );
            }
        });
        if step > 0 {
            matmul(
                &mut dh_next,
                Strided::rows(rows, n, 0, n),
                &grad_gates,
                Strided::rows(rows, g, step * g, t * g),
                weight,
                w_hidden_t,
                false,
            );
        }
    }
    // Input gradient of every step at once.
    if let Some(grad_x) = grad_x {
        matmul(
            grad_x,
            Strided::rows(rows * t, inp, 0, inp),
            &grad_gates,
            Strided::rows(rows * t, g, 0, g),
            weight,
            Strided::rows(inp, g, 0, g).t(),
            false,
        );
    }
    // Weight gradient: [x_t | h_{t-1}]^T · grad_gates over every step.
    let mut stacked = vec![0.0f32; rows * t * (inp + n)];
    let xs = &x[start * t * inp..][..rows * t * inp];
    for (r, row) in stacked.chunks_exact_mut(inp + n).enumerate() {
        row[..inp].copy_from_slice(&xs[r * inp..][..inp]);
        if r % t > 0 {
            row[inp..].copy_from_slice(&hs[(r - 1) * n..][..n]);
        }
    }
    let mut out = vec![0.0f32; (inp + n) * g + g];
    matmul(
        &mut out,
        Strided::rows(inp + n, g, 0, g),
        &stacked,
        Strided::rows(rows * t, inp + n, 0, inp + n).t(),
        &grad_gates,
        Strided::rows(rows * t, g, 0, g),
        false,
    );
    let bias = &mut out[(inp + n) * g..];
    for row in grad_gates.chunks_exact(g) {
        bias.iter_mut().zip(row).for_each(|(acc, v)| *acc += v);
    }
    out
}

#[cfg(test)]
#[path = "lstm_tests.rs"]
mod tests;
