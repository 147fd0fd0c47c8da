//! The CPU LSTM against a textbook float64 LSTM, and its gradients against
//! finite differences of it.

use super::*;
use crate::models::cpu::test_util::{assert_same_on_1_and_3_threads, f32s, random};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The textbook LSTM in float64, one sequence element at a time.
fn reference(d: LstmDims, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let (n, g) = (d.hidden, 4 * d.hidden);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let mut out = vec![0.0; d.batch * d.time * n];
    for s in 0..d.batch {
        let (mut h, mut c) = (vec![0.0; n], vec![0.0; n]);
        for t in 0..d.time {
            let xt = &x[(s * d.time + t) * d.input..][..d.input];
            let z: Vec<f64> = (0..g)
                .map(|k| {
                    let from_x: f64 = (0..d.input).map(|i| xt[i] * w[i * g + k]).sum();
                    let from_h: f64 = (0..n).map(|j| h[j] * w[(d.input + j) * g + k]).sum();
                    b[k] + from_x + from_h
                })
                .collect();
            for j in 0..n {
                let (i, f) = (sig(z[j]), sig(z[n + j]));
                let (cg, o) = (z[2 * n + j].tanh(), sig(z[3 * n + j]));
                c[j] = f * c[j] + i * cg;
                h[j] = o * c[j].tanh();
            }
            out[(s * d.time + t) * n..][..n].copy_from_slice(&h);
        }
    }
    out
}

#[test]
fn forward_matches_float64_reference_across_chunks() {
    // 37 sequences: two full chunks and a partial one.
    let d = LstmDims {
        batch: 37,
        time: 6,
        input: 5,
        hidden: 7,
    };
    let mut rng = StdRng::seed_from_u64(1);
    let x = random(&mut rng, d.batch * d.time * d.input, 2.0);
    let w = random(&mut rng, (d.input + d.hidden) * 4 * d.hidden, 0.8);
    let b = random(&mut rng, 4 * d.hidden, 0.5);
    let want = reference(d, &x, &w, &b);
    let (xf, wf, bf) = (f32s(&x), f32s(&w), f32s(&b));
    let got = forward(d, &xf, &wf, &bf).hidden;
    assert_eq!(
        got,
        hidden_states(d, &xf, &wf, &bf),
        "inference gives the same states"
    );
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 2e-6, "largest difference {worst}");
}

#[test]
fn backward_matches_float64_finite_differences() {
    let d = LstmDims {
        batch: 3,
        time: 5,
        input: 4,
        hidden: 3,
    };
    let mut rng = StdRng::seed_from_u64(2);
    let x = random(&mut rng, d.batch * d.time * d.input, 1.5);
    let w = random(&mut rng, (d.input + d.hidden) * 4 * d.hidden, 0.8);
    let b = random(&mut rng, 4 * d.hidden, 0.5);
    // Loss = sum of h_t weighted by fixed random numbers.
    let r = random(&mut rng, d.batch * d.time * d.hidden, 1.0);
    let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
        reference(d, x, w, b)
            .iter()
            .zip(&r)
            .map(|(h, r)| h * r)
            .sum()
    };
    let (xf, wf, bf) = (f32s(&x), f32s(&w), f32s(&b));
    let trace = forward(d, &xf, &wf, &bf);
    let grads = backward(d, &xf, &wf, &trace, &f32s(&r), true);
    let without_x = backward(d, &xf, &wf, &trace, &f32s(&r), false);
    assert!(without_x.x.is_empty());
    assert_eq!(without_x.weight, grads.weight);
    let eps = 1e-6;
    let numeric = |which: usize, k: usize| {
        let (mut xp, mut wp, mut bp) = (x.clone(), w.clone(), b.clone());
        let (mut xm, mut wm, mut bm) = (x.clone(), w.clone(), b.clone());
        match which {
            0 => (xp[k] += eps, xm[k] -= eps),
            1 => (wp[k] += eps, wm[k] -= eps),
            _ => (bp[k] += eps, bm[k] -= eps),
        };
        (loss(&xp, &wp, &bp) - loss(&xm, &wm, &bm)) / (2.0 * eps)
    };
    for (which, got) in [&grads.x, &grads.weight, &grads.bias]
        .into_iter()
        .enumerate()
    {
        for (k, g) in got.iter().enumerate() {
            let want = numeric(which, k);
            assert!(
                (*g as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                "gradient {which}[{k}]: {g} against {want}"
            );
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let d = LstmDims {
        batch: 70,
        time: 4,
        input: 3,
        hidden: 8,
    };
    let mut rng = StdRng::seed_from_u64(3);
    let x = f32s(&random(&mut rng, d.batch * d.time * d.input, 1.0));
    let w = f32s(&random(&mut rng, (d.input + d.hidden) * 4 * d.hidden, 0.5));
    let b = f32s(&random(&mut rng, 4 * d.hidden, 0.5));
    let gh = f32s(&random(&mut rng, d.batch * d.time * d.hidden, 1.0));
    let run = || {
        let trace = forward(d, &x, &w, &b);
        let grads = backward(d, &x, &w, &trace, &gh, true);
        (trace.hidden, grads.x, grads.weight, grads.bias)
    };
    assert_same_on_1_and_3_threads(run);
}
