//! The few dense `f64` operations the reference detectors need: products
//! through the `gemm` crate burn already builds, and a Cholesky factorisation.

/// `a [m, k] · b [k, n]` (row-major) into a new `[m, n]`.
pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    assert!(a.len() == m * k && b.len() == k * n, "matmul shapes");
    product(a, (1, k as isize), b, [m, k, n])
}

/// `aᵀ · b` for row-major `a [k, m]` and `b [k, n]`, into a new `[m, n]`.
pub fn matmul_at_b(a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
    assert!(a.len() == k * m && b.len() == k * n, "aᵀb shapes");
    // `a` read as its transpose [m, k]: column stride m, row stride 1.
    product(a, (m as isize, 1), b, [m, k, n])
}

/// `A [m, k] · b [k, n]` with `A` read from `a` at (column, row) strides
/// `a_strides`, and `b` row-major; lengths checked by the callers.
fn product(a: &[f64], a_strides: (isize, isize), b: &[f64], [m, k, n]: [usize; 3]) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    if m == 0 || n == 0 || k == 0 {
        return out;
    }
    // SAFETY: `out` is a fresh [m, n] row-major allocation, `b` a checked
    // [k, n] row-major slice, and every index of `a` at its strides lies
    // within the length its caller checked.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_strides.0,
            a_strides.1,
            b.as_ptr(),
            1,
            n as isize,
            0.0f64,
            1.0f64,
            false,
            false,
            false,
            parallelism(m * n * k),
        );
    }
    out
}

fn parallelism(work: usize) -> gemm::Parallelism {
    // gemm splits the output, never the inner sum: the same bits at any thread count.
    if work > 1 << 20 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

/// The lower Cholesky factor `L` of a symmetric positive definite `[d, d]`
/// matrix (`L Lᵀ = a`); `None` when it is not positive definite.
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|p| l[i * d + p] * l[j * d + p]).sum();
            if i == j {
                let v = a[i * d + i] - dot;
                if !(v > 0.0 && v.is_finite()) {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - dot) / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// The precision's Cholesky factor as scikit-learn keeps it: `(L⁻¹)ᵀ`, upper
/// triangular, so that `(x - μ)ᵀ Σ⁻¹ (x - μ) = |(x - μ)ᵀ P|²`.
pub fn precision_cholesky(l: &[f64], d: usize) -> Vec<f64> {
    // Forward substitution for each column of L⁻¹ (lower triangular).
    let mut inv = vec![0.0; d * d];
    for c in 0..d {
        for i in c..d {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let s: f64 = (c..i).map(|p| l[i * d + p] * inv[p * d + c]).sum();
            inv[i * d + c] = (rhs - s) / l[i * d + i];
        }
    }
    let mut p = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            p[i * d + j] = inv[j * d + i];
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_factors_match_hand_worked_values() {
        // [[1, 2], [3, 4]] · [[5, 6], [7, 8]] = [[19, 22], [43, 50]].
        assert_eq!(
            matmul(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], 2, 2, 2),
            vec![19.0, 22.0, 43.0, 50.0]
        );
        // aᵀb with a = [[1, 2], [3, 4]] (k=2, m=2): [[1, 3], [2, 4]] · b.
        assert_eq!(
            matmul_at_b(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], 2, 2, 2),
            vec![26.0, 30.0, 38.0, 44.0]
        );
        // [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]].
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(l[0], 2.0) && close(l[2], 1.0) && close(l[3], 2f64.sqrt()) && l[1] == 0.0);
        // P Pᵀ = Σ⁻¹ = [[3, -2], [-2, 4]] / 8.
        let p = precision_cholesky(&l, 2);
        let pp = |i: usize, j: usize| (0..2).map(|k| p[i * 2 + k] * p[j * 2 + k]).sum::<f64>();
        assert!(close(pp(0, 0), 3.0 / 8.0) && close(pp(0, 1), -2.0 / 8.0) && close(pp(1, 1), 0.5));
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none(), "indefinite");
    }
}
