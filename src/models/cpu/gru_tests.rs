//! The CPU GRU against burn's GRU equations in float64, and its gradients
//! against finite differences of them.

use super::*;
use crate::models::cpu::test_util::{assert_same_on_1_and_3_threads, f32s, random};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Weights in float64: `(W, b, U, c)`.
type Weights = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

/// The GRU one sequence element at a time, in float64.
fn reference(d: GruDims, x: &[f64], (w, b, u, c): &Weights) -> Vec<f64> {
    let (n, g) = (d.hidden, 3 * d.hidden);
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    let mut out = vec![0.0; d.batch * d.time * n];
    for s in 0..d.batch {
        let mut h = vec![0.0; n];
        for t in 0..d.time {
            let xt = &x[(s * d.time + t) * d.input..][..d.input];
            let a: Vec<f64> = (0..g)
                .map(|k| b[k] + (0..d.input).map(|i| xt[i] * w[i * g + k]).sum::<f64>())
                .collect();
            let q: Vec<f64> = (0..g)
                .map(|k| c[k] + (0..n).map(|j| h[j] * u[j * g + k]).sum::<f64>())
                .collect();
            for j in 0..n {
                let z = sig(a[j] + q[j]);
                let r = sig(a[n + j] + q[n + j]);
                let cand = (a[2 * n + j] + r * q[2 * n + j]).tanh();
                h[j] = (1.0 - z) * cand + z * h[j];
            }
            out[(s * d.time + t) * n..][..n].copy_from_slice(&h);
        }
    }
    out
}

fn weights(rng: &mut StdRng, d: GruDims) -> Weights {
    let g = 3 * d.hidden;
    (
        random(rng, d.input * g, 0.8),
        random(rng, g, 0.5),
        random(rng, d.hidden * g, 0.8),
        random(rng, g, 0.5),
    )
}

#[test]
fn forward_matches_float64_reference_across_chunks() {
    let d = GruDims {
        batch: 37,
        time: 6,
        input: 5,
        hidden: 7,
    };
    let mut rng = StdRng::seed_from_u64(21);
    let x = random(&mut rng, d.batch * d.time * d.input, 2.0);
    let wd = weights(&mut rng, d);
    let want = reference(d, &x, &wd);
    let (xf, w, b, u, c) = (f32s(&x), f32s(&wd.0), f32s(&wd.1), f32s(&wd.2), f32s(&wd.3));
    let trained = forward(d, &xf, (&w, &b, &u, &c), true);
    let inferred = forward(d, &xf, (&w, &b, &u, &c), false);
    assert_eq!(
        trained.hidden, inferred.hidden,
        "inference gives the same states"
    );
    assert!(inferred.gates.is_empty());
    let worst = want
        .iter()
        .zip(&trained.hidden)
        .map(|(a, b)| (a - *b as f64).abs())
        .fold(0.0, f64::max);
    assert!(worst < 2e-6, "largest difference {worst}");
}

#[test]
fn backward_matches_float64_finite_differences() {
    let d = GruDims {
        batch: 3,
        time: 5,
        input: 4,
        hidden: 3,
    };
    let mut rng = StdRng::seed_from_u64(22);
    let x = random(&mut rng, d.batch * d.time * d.input, 1.5);
    let wd = weights(&mut rng, d);
    let r = random(&mut rng, d.batch * d.time * d.hidden, 1.0);
    let loss = |x: &[f64], w: &Weights| -> f64 {
        reference(d, x, w).iter().zip(&r).map(|(h, r)| h * r).sum()
    };
    let (xf, w, b, u, c) = (f32s(&x), f32s(&wd.0), f32s(&wd.1), f32s(&wd.2), f32s(&wd.3));
    let weights = (w.as_slice(), b.as_slice(), u.as_slice(), c.as_slice());
    let trace = forward(d, &xf, weights, true);
    let grads = backward(d, &xf, weights, &trace, &f32s(&r), true);
    let without_x = backward(d, &xf, weights, &trace, &f32s(&r), false);
    assert!(without_x.x.is_empty());
    assert_eq!(without_x.w_hidden, grads.w_hidden);
    let eps = 1e-6;
    let got = [
        &grads.x,
        &grads.w_input,
        &grads.b_input,
        &grads.w_hidden,
        &grads.b_hidden,
    ];
    for (which, got) in got.into_iter().enumerate() {
        for (k, g) in got.iter().enumerate() {
            let nudge = |delta: f64| {
                let (mut x, mut w) = (x.clone(), wd.clone());
                let slot = match which {
                    0 => &mut x[k],
                    1 => &mut w.0[k],
                    2 => &mut w.1[k],
                    3 => &mut w.2[k],
                    _ => &mut w.3[k],
                };
                *slot += delta;
                loss(&x, &w)
            };
            let want = (nudge(eps) - nudge(-eps)) / (2.0 * eps);
            assert!(
                (*g as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                "gradient {which}[{k}]: {g} against {want}"
            );
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let d = GruDims {
        batch: 70,
        time: 4,
        input: 3,
        hidden: 8,
    };
    let mut rng = StdRng::seed_from_u64(23);
    let x = f32s(&random(&mut rng, d.batch * d.time * d.input, 1.0));
    let wd = weights(&mut rng, d);
    let (w, b, u, c) = (f32s(&wd.0), f32s(&wd.1), f32s(&wd.2), f32s(&wd.3));
    let gh = f32s(&random(&mut rng, d.batch * d.time * d.hidden, 1.0));
    let run = || {
        let weights = (w.as_slice(), b.as_slice(), u.as_slice(), c.as_slice());
        let trace = forward(d, &x, weights, true);
        let grads = backward(d, &x, weights, &trace, &gh, true);
        (
            trace.hidden,
            grads.x,
            grads.w_input,
            grads.w_hidden,
            grads.b_hidden,
        )
    };
    assert_same_on_1_and_3_threads(run);
}
