//! The CPU convolutions against the textbook definitions in float64, and their
//! gradients against finite differences of those definitions.

use super::*;
use crate::models::cpu::test_util::{assert_same_on_1_and_3_threads, f32s, random};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `y[n, o, i, j] = b[o] + sum w[o, c, u, v] x[n, c, i s - p + u, j s - p + v]`.
fn conv_reference(g: ConvGeometry, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let ([bc, bh, bw], [sc, sh, sw]) = (g.big, g.small);
    let [kh, kw] = g.kernel;
    let mut y = vec![0.0; g.batch * sc * sh * sw];
    for n in 0..g.batch {
        for o in 0..sc {
            for i in 0..sh {
                for j in 0..sw {
                    let mut acc = b[o];
                    for c in 0..bc {
                        for u in 0..kh {
                            for v in 0..kw {
                                let r = (i * g.stride[0] + u) as isize - g.padding[0] as isize;
                                let q = (j * g.stride[1] + v) as isize - g.padding[1] as isize;
                                if r >= 0 && q >= 0 && (r as usize) < bh && (q as usize) < bw {
                                    let xv = x[((n * bc + c) * bh + r as usize) * bw + q as usize];
                                    acc += w[((o * bc + c) * kh + u) * kw + v] * xv;
                                }
                            }
                        }
                    }
                    y[((n * sc + o) * sh + i) * sw + j] = acc;
                }
            }
        }
    }
    y
}

/// Each input value spreads `x[n, c, i, j] w[c, o, u, v]` to output `(i s - p + u, j s - p + v)`.
fn transposed_reference(g: ConvGeometry, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let ([bc, bh, bw], [sc, sh, sw]) = (g.big, g.small);
    let [kh, kw] = g.kernel;
    let mut y = vec![0.0; g.batch * bc * bh * bw];
    for n in 0..g.batch {
        for o in 0..bc {
            y[(n * bc + o) * bh * bw..][..bh * bw]
                .iter_mut()
                .for_each(|v| *v = b[o]);
        }
        for c in 0..sc {
            for i in 0..sh {
                for j in 0..sw {
                    let xv = x[((n * sc + c) * sh + i) * sw + j];
                    for o in 0..bc {
                        for u in 0..kh {
                            for v in 0..kw {
                                let r = (i * g.stride[0] + u) as isize - g.padding[0] as isize;
                                let q = (j * g.stride[1] + v) as isize - g.padding[1] as isize;
                                if r >= 0 && q >= 0 && (r as usize) < bh && (q as usize) < bw {
                                    y[((n * bc + o) * bh + r as usize) * bw + q as usize] +=
                                        xv * w[((c * bc + o) * kh + u) * kw + v];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

/// The CAE's layers (stride 2, padding 1, and an odd size that needs output
/// padding on the way back) and a rectangular kernel with uneven strides.
fn geometries() -> Vec<ConvGeometry> {
    let geometry = |batch,
                    big: [usize; 3],
                    small_c,
                    kernel: [usize; 2],
                    stride: [usize; 2],
                    padding: [usize; 2]| {
        let h = ConvGeometry::small_size(big[1], kernel[0], stride[0], padding[0]).unwrap();
        let w = ConvGeometry::small_size(big[2], kernel[1], stride[1], padding[1]).unwrap();
        ConvGeometry {
            batch,
            big,
            small: [small_c, h, w],
            kernel,
            stride,
            padding,
        }
    };
    vec![
        geometry(11, [1, 20, 32], 4, [3, 3], [2, 2], [1, 1]),
        geometry(3, [3, 5, 7], 2, [3, 3], [2, 2], [1, 1]),
        geometry(2, [2, 6, 9], 3, [2, 3], [1, 2], [0, 1]),
    ]
}

#[test]
fn forward_matches_float64_definitions() {
    let mut rng = StdRng::seed_from_u64(7);
    for g in geometries() {
        let (big, small) = (g.batch * g.big_len(), g.batch * g.small_len());
        let w = random(&mut rng, g.small[0] * g.patch(), 1.0);
        for direction in [Direction::Conv, Direction::Transposed] {
            let (x, b, want) = match direction {
                Direction::Conv => {
                    let (x, b) = (
                        random(&mut rng, big, 1.0),
                        random(&mut rng, g.small[0], 1.0),
                    );
                    let want = conv_reference(g, &x, &w, &b);
                    (x, b, want)
                }
                Direction::Transposed => {
                    let (x, b) = (
                        random(&mut rng, small, 1.0),
                        random(&mut rng, g.big[0], 1.0),
                    );
                    let want = transposed_reference(g, &x, &w, &b);
                    (x, b, want)
                }
            };
            let got = forward(g, direction, (&f32s(&x), &f32s(&w), Some(&f32s(&b))), false).out;
            assert_eq!(got.len(), want.len());
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-5,
                "{direction:?} {g:?}: largest difference {worst}"
            );
        }
    }
}

#[test]
fn backward_matches_float64_finite_differences() {
    let mut rng = StdRng::seed_from_u64(8);
    for g in geometries().into_iter().skip(1) {
        for direction in [Direction::Conv, Direction::Transposed] {
            let (in_len, out_len, out_c) = match direction {
                Direction::Conv => (g.big_len(), g.small_len(), g.small[0]),
                Direction::Transposed => (g.small_len(), g.big_len(), g.big[0]),
            };
            let x = random(&mut rng, g.batch * in_len, 1.0);
            let w = random(&mut rng, g.small[0] * g.patch(), 1.0);
            let b = random(&mut rng, out_c, 1.0);
            let r = random(&mut rng, g.batch * out_len, 1.0);
            let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
                let y = match direction {
                    Direction::Conv => conv_reference(g, x, w, b),
                    Direction::Transposed => transposed_reference(g, x, w, b),
                };
                y.iter().zip(&r).map(|(y, r)| y * r).sum()
            };
            let (xf, wf) = (f32s(&x), f32s(&w));
            let cols = forward(g, direction, (&xf, &wf, None), true).cols;
            let grads = backward(g, direction, (&xf, &wf, &cols), &f32s(&r), true);
            // The loss is linear in each input, so a central difference is exact up to rounding.
            let eps = 1e-3;
            for (which, got) in [&grads.x, &grads.weight, &grads.bias]
                .into_iter()
                .enumerate()
            {
                for (k, got) in got.iter().enumerate() {
                    let mut plus = [x.clone(), w.clone(), b.clone()];
                    let mut minus = [x.clone(), w.clone(), b.clone()];
                    plus[which][k] += eps;
                    minus[which][k] -= eps;
                    let want = (loss(&plus[0], &plus[1], &plus[2])
                        - loss(&minus[0], &minus[1], &minus[2]))
                        / (2.0 * eps);
                    assert!(
                        (*got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "{direction:?} {g:?} gradient {which}[{k}]: {got} against {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let g = geometries()[0];
    let mut rng = StdRng::seed_from_u64(9);
    let x = f32s(&random(&mut rng, g.batch * g.big_len(), 1.0));
    let w = f32s(&random(&mut rng, g.small[0] * g.patch(), 1.0));
    let dy = f32s(&random(&mut rng, g.batch * g.small_len(), 1.0));
    let run = || {
        let y = forward(g, Direction::Conv, (&x, &w, None), true);
        let grads = backward(g, Direction::Conv, (&x, &w, &y.cols), &dy, true);
        (y.out, grads.x, grads.weight, grads.bias)
    };
    let without_x = backward(
        g,
        Direction::Conv,
        (
            &x,
            &w,
            &forward(g, Direction::Conv, (&x, &w, None), true).cols,
        ),
        &dy,
        false,
    );
    assert!(without_x.x.is_empty());
    assert_eq!(
        without_x.weight,
        run().2,
        "the weight gradient does not depend on want_x"
    );
    assert_same_on_1_and_3_threads(run);
}
