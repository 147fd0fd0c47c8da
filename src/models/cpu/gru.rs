//! One GRU layer over a whole sequence, forward and backward, on the CPU, with
//! burn's equations (`reset_after`, gates in the order update, reset, new):
//!
//! ```text
//! a = x W + b          (input part,  [3 hidden])
//! q = h U + c          (hidden part, [3 hidden])
//! z = σ(a_z + q_z)   r = σ(a_r + q_r)   n = tanh(a_n + r ⊙ q_n)
//! h' = (1 - z) ⊙ n + z ⊙ h
//! ```
//!
//! Layouts are batch-first and row-major: `x [batch, time, input]`,
//! `W [input, 3 hidden]`, `U [hidden, 3 hidden]`, `b`, `c [3 hidden]`; the
//! initial state is zero. As for the LSTM ([`super::lstm`]): one matmul for
//! every step's input part, one per step for the hidden part, the weight
//! gradients in one matmul each over all steps, chunks of [`super::SEQUENCE_CHUNK`] sequences
//! in parallel, summed in chunk order.

use rayon::prelude::*;

use super::{
    SEQUENCE_CHUNK as CHUNK, SequenceDims, Strided, chunk_slots, matmul, sigmoid, sum_in_order,
    tanh, with_wide_simd,
};

/// The sizes of one call.
pub type GruDims = SequenceDims;

/// The weights: `(W, b, U, c)` as in the module docs.
pub type GruWeights<'a> = (&'a [f32], &'a [f32], &'a [f32], &'a [f32]);

/// What the forward pass computes and the backward pass needs.
#[derive(Debug, Clone)]
pub struct GruTrace {
    /// `h_t`, `[batch, time, hidden]`: the layer's output.
    pub hidden: Vec<f32>,
    /// `z, r, n, q_n` of every step, `[batch, time, 4 hidden]`.
    pub gates: Vec<f32>,
}

/// Gradients of a loss with respect to `x` (empty when not asked for) and the weights.
#[derive(Debug, Clone)]
pub struct GruGrads {
    /// By the input (empty when not asked for).
    pub x: Vec<f32>,
    /// By the input weight `[input, 3 hidden]`.
    pub w_input: Vec<f32>,
    /// By the input bias.
    pub b_input: Vec<f32>,
    /// By the hidden weight `[hidden, 3 hidden]`.
    pub w_hidden: Vec<f32>,
    /// By the hidden bias.
    pub b_hidden: Vec<f32>,
}

fn check(d: GruDims, x: &[f32], (w, b, u, c): GruWeights) {
    let g = 3 * d.hidden;
    assert!(d.input > 0 && d.hidden > 0, "empty GRU layer");
    assert_eq!(
        x.len(),
        d.batch * d.time * d.input,
        "x is not [batch, time, input]"
    );
    assert_eq!(
        (w.len(), u.len()),
        (d.input * g, d.hidden * g),
        "weight shapes"
    );
    assert_eq!((b.len(), c.len()), (g, g), "bias shapes");
}

/// Runs the layer over every sequence of `x`; `keep`: also return the gates
/// for [`backward`] (training), else only `hidden` is filled.
pub fn forward(d: GruDims, x: &[f32], weights: GruWeights, keep: bool) -> GruTrace {
    check(d, x, weights);
    let (t, n) = (d.time, d.hidden);
    let mut hidden = vec![0.0; d.batch * t * n];
    let mut gates = vec![0.0; if keep { d.batch * t * 4 * n } else { 0 }];
    if d.batch == 0 || t == 0 {
        return GruTrace { hidden, gates };
    }
    let slots = chunk_slots(&mut gates, CHUNK * t * 4 * n, d.batch.div_ceil(CHUNK), keep);
    hidden
        .par_chunks_mut(CHUNK * t * n)
        .zip(slots)
        .enumerate()
        .for_each(|(chunk, (hs, kept))| {
            let rows = hs.len() / (t * n);
            let xs = &x[chunk * CHUNK * t * d.input..][..rows * t * d.input];
            let mut local: Vec<f32>;
            let gates = match kept {
                Some(gates) => gates,
                None => {
                    local = vec![0.0; rows * t * 4 * n];
                    &mut local
                }
            };
            forward_chunk(d, rows, xs, weights, hs, gates);
        });
    GruTrace { hidden, gates }
}

fn forward_chunk(
    d: GruDims,
    rows: usize,
    x: &[f32],
    (w, b, u, c): GruWeights,
    hs: &mut [f32],
    gates: &mut [f32],
) {
    let (t, n) = (d.time, d.hidden);
    let g = 3 * n;
    // Input parts of every step at once.
    let mut a = vec![0.0; rows * t * g];
    for row in a.chunks_exact_mut(g) {
        row.copy_from_slice(b);
    }
    matmul(
        &mut a,
        Strided::rows(rows * t, g, 0, g),
        x,
        Strided::rows(rows * t, d.input, 0, d.input),
        w,
        Strided::rows(d.input, g, 0, g),
        true,
    );
    let mut q = vec![0.0; rows * g];
    for step in 0..t {
        for row in q.chunks_exact_mut(g) {
            row.copy_from_slice(c);
        }
        if step > 0 {
            let h = Strided::rows(rows, n, (step - 1) * n, t * n);
            matmul(
                &mut q,
                Strided::rows(rows, g, 0, g),
                hs,
                h,
                u,
                Strided::rows(n, g, 0, g),
                true,
            );
        }
        with_wide_simd(|| {
            for r in 0..rows {
                let at = r * t + step;
                let (before, now) = hs.split_at_mut(at * n);
                let prev = (step > 0).then(|| &before[before.len() - n..]);
                let (a, q) = (&a[at * g..][..g], &q[r * g..][..g]);
                update(a, q, prev, &mut gates[at * 4 * n..][..4 * n], &mut now[..n]);
            }
        });
    }
}

/// One sequence's step: gates `[z, r, n, q_n]` and `h'` from the input part
/// `a`, the hidden part `q` and `h` (`None`: zero).
#[inline(always)]
fn update(a: &[f32], q: &[f32], prev: Option<&[f32]>, gates: &mut [f32], h: &mut [f32]) {
    let n = h.len();
    let (z, rest) = gates.split_at_mut(n);
    let (r, rest) = rest.split_at_mut(n);
    let (cand, q_n) = rest.split_at_mut(n);
    for j in 0..n {
        z[j] = sigmoid(a[j] + q[j]);
        r[j] = sigmoid(a[n + j] + q[n + j]);
        q_n[j] = q[2 * n + j];
        cand[j] = tanh(a[2 * n + j] + r[j] * q_n[j]);
    }
    match prev {
        Some(p) => (0..n).for_each(|j| h[j] = (1.0 - z[j]) * cand[j] + z[j] * p[j]),
        None => (0..n).for_each(|j| h[j] = (1.0 - z[j]) * cand[j]),
    }
}

/// Gradients for `grad_hidden` (`dLoss/dh_t`, `[batch, time, hidden]`);
/// `want_x`: whether the input's gradient is needed.
pub fn backward(
    d: GruDims,
    x: &[f32],
    weights: GruWeights,
    trace: &GruTrace,
    grad_hidden: &[f32],
    want_x: bool,
) -> GruGrads {
    check(d, x, weights);
    let (t, n, inp) = (d.time, d.hidden, d.input);
    let g = 3 * n;
    assert_eq!(grad_hidden.len(), d.batch * t * n, "grad_hidden shape");
    assert_eq!(
        trace.gates.len(),
        d.batch * t * 4 * n,
        "the trace of a training forward pass"
    );
    let mut grad_x = vec![0.0; if want_x { x.len() } else { 0 }];
    let chunks = d.batch.div_ceil(CHUNK);
    let partials: Vec<Vec<f32>> = chunk_slots(&mut grad_x, CHUNK * t * inp, chunks, want_x)
        .into_par_iter()
        .enumerate()
        .map(|(chunk, grad_x)| {
            let start = chunk * CHUNK;
            let rows = CHUNK.min(d.batch - start);
            backward_chunk(d, (start, rows), x, weights, trace, grad_hidden, grad_x)
        })
        .collect();
    let sums = sum_in_order(&partials, &[inp * g, g, n * g, g]);
    let [w_input, b_input, w_hidden, b_hidden]: [Vec<f32>; 4] =
        sums.try_into().expect("four gradients");
    GruGrads {
        x: grad_x,
        w_input,
        b_input,
        w_hidden,
        b_hidden,
    }
}

/// Backward pass of sequences `start .. start + rows`: writes their input
/// gradient and returns their `W, b, U, c` gradients, concatenated.
fn backward_chunk(
    d: GruDims,
    (start, rows): (usize, usize),
    x: &[f32],
    (w, _, u, _): GruWeights,
    trace: &GruTrace,
    grad_hidden: &[f32],
    grad_x: Option<&mut [f32]>,
) -> Vec<f32> {
    let (t, n, inp) = (d.time, d.hidden, d.input);
    let g = 3 * n;
    let gates = &trace.gates[start * t * 4 * n..][..rows * t * 4 * n];
    let hs = &trace.hidden[start * t * n..][..rows * t * n];
    let dh_out = &grad_hidden[start * t * n..][..rows * t * n];
    // dLoss/da (input parts) and dLoss/dq (hidden parts) of every step.
    let mut grad_a = vec![0.0f32; rows * t * g];
    let mut grad_q = vec![0.0f32; rows * t * g];
    let mut dh_next = vec![0.0f32; rows * n];
    for step in (0..t).rev() {
        with_wide_simd(|| {
            for r in 0..rows {
                let at = r * t + step;
                let prev = (step > 0).then(|| &hs[(at - 1) * n..][..n]);
                let dh = (&dh_out[at * n..][..n], &mut dh_next[r * n..][..n]);
                let grads = (&mut grad_a[at * g..][..g], &mut grad_q[at * g..][..g]);
                differentiate(&gates[at * 4 * n..][..4 * n], prev, dh, grads);
            }
        });
        if step > 0 {
            // dh_{t-1} += dq · Uᵀ
            let dq = Strided::rows(rows, g, step * g, t * g);
            matmul(
                &mut dh_next,
                Strided::rows(rows, n, 0, n),
                &grad_q,
                dq,
                u,
                Strided::rows(n, g, 0, g).t(),
                true,
            );
        }
    }
    if let Some(grad_x) = grad_x {
        let all = Strided::rows(rows * t, g, 0, g);
        matmul(
            grad_x,
            Strided::rows(rows * t, inp, 0, inp),
            &grad_a,
            all,
            w,
            Strided::rows(inp, g, 0, g).t(),
            false,
        );
    }
    let mut out = vec![0.0f32; inp * g + g + n * g + g];
    let (gw, rest) = out.split_at_mut(inp * g);
    let (gb, rest) = rest.split_at_mut(g);
    let (gu, gc) = rest.split_at_mut(n * g);
    let xs = &x[start * t * inp..][..rows * t * inp];
    let all = Strided::rows(rows * t, g, 0, g);
    matmul(
        gw,
        Strided::rows(inp, g, 0, g),
        xs,
        Strided::rows(rows * t, inp, 0, inp).t(),
        &grad_a,
        all,
        false,
    );
    // h_{t-1} of every step (zero at t = 0) against the hidden parts' gradients.
    let mut h_prev = vec![0.0f32; rows * t * n];
    for (k, row) in h_prev.chunks_exact_mut(n).enumerate() {
        if k % t > 0 {
            row.copy_from_slice(&hs[(k - 1) * n..][..n]);
        }
    }
    matmul(
        gu,
        Strided::rows(n, g, 0, g),
        &h_prev,
        Strided::rows(rows * t, n, 0, n).t(),
        &grad_q,
        all,
        false,
    );
    for (row_a, row_q) in grad_a.chunks_exact(g).zip(grad_q.chunks_exact(g)) {
        gb.iter_mut().zip(row_a).for_each(|(acc, v)| *acc += v);
        gc.iter_mut().zip(row_q).for_each(|(acc, v)| *acc += v);
    }
    out
}

/// One sequence's step backwards: from the gates `[z, r, n, q_n]`, `h_{t-1}`
/// and the gradient reaching `h_t` (`dh.0` from the output, `dh.1` from step
/// t + 1, replaced by its direct part for step t - 1), writes `da` and `dq`.
#[inline(always)]
fn differentiate(
    gates: &[f32],
    prev: Option<&[f32]>,
    (dh_out, dh_next): (&[f32], &mut [f32]),
    (da, dq): (&mut [f32], &mut [f32]),
) {
    let n = dh_out.len();
    let (z, rest) = gates.split_at(n);
    let (r, rest) = rest.split_at(n);
    let (cand, q_n) = rest.split_at(n);
    let (da_z, rest) = da.split_at_mut(n);
    let (da_r, da_n) = rest.split_at_mut(n);
    let (dq_z, rest) = dq.split_at_mut(n);
    let (dq_r, dq_n) = rest.split_at_mut(n);
    for j in 0..n {
        let dh = dh_out[j] + dh_next[j];
        let h_prev = prev.map_or(0.0, |p| p[j]);
        let d_pre_n = dh * (1.0 - z[j]) * (1.0 - cand[j] * cand[j]);
        let d_pre_z = dh * (h_prev - cand[j]) * z[j] * (1.0 - z[j]);
        let d_pre_r = d_pre_n * q_n[j] * r[j] * (1.0 - r[j]);
        da_z[j] = d_pre_z;
        da_r[j] = d_pre_r;
        da_n[j] = d_pre_n;
        dq_z[j] = d_pre_z;
        dq_r[j] = d_pre_r;
        dq_n[j] = d_pre_n * r[j];
        dh_next[j] = dh * z[j];
    }
}

#[cfg(test)]
#[path = "gru_tests.rs"]
mod tests;
