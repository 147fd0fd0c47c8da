//! A Gaussian mixture fitted by expectation-maximisation, with scikit-learn's
//! arithmetic (`GaussianMixture`: the same M-step, regularised covariances,
//! precision Cholesky factors and convergence test on the mean log-likelihood),
//! so a fit from the same start gives the same densities.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg::{cholesky, matmul, matmul_at_b, precision_cholesky};

/// Full or diagonal covariance matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceKind {
    /// One full `[d, d]` matrix per component.
    Full,
    /// One variance per dimension and component.
    Diag,
}

/// A fitted mixture: what `model/reference.json` holds for `kind = "gmm"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gmm {
    /// Dimensions.
    pub dims: usize,
    /// Full or diagonal.
    pub covariance: CovarianceKind,
    /// Mixing weights, one per component.
    pub weights: Vec<f64>,
    /// `[components, dims]` means.
    pub means: Vec<f64>,
    /// Per component: full, the `[d, d]` upper factor `P` with `P Pᵀ = Σ⁻¹`
    /// (scikit-learn's `precisions_cholesky_`); diagonal, `d` values `1/σ`.
    pub precision_cholesky: Vec<Vec<f64>>,
    /// EM iterations run.
    pub iterations: usize,
    /// Whether the change of the mean log-likelihood fell below `tol`.
    pub converged: bool,
}

/// How to fit.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// Components.
    pub components: usize,
    /// Full or diagonal.
    pub covariance: CovarianceKind,
    /// Added to the covariance diagonals (keeps them invertible).
    pub reg_covar: f64,
    /// EM iterations at most.
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean log-likelihood.
    pub tol: f64,
    /// Seeds the k-means++ start.
    pub seed: u64,
}

const LN_2PI: f64 = 1.837_877_066_409_345_5;

impl Gmm {
    /// Fits `x` (`[n, dims]`, row-major) from a k-means++ start seeded by `seed`.
    pub fn fit(x: &[f64], dims: usize, opts: &FitOptions) -> Result<Self, String> {
        let n = x.len() / dims;
        if opts.components == 0 || opts.components > n {
            return Err(format!(
                "components is {}, must be within 1..={n} (the training vectors)",
                opts.components
            ));
        }
        let labels = kmeans_labels(x, dims, opts.components, opts.seed);
        let mut resp = vec![0.0; n * opts.components];
        for (i, &l) in labels.iter().enumerate() {
            resp[i * opts.components + l] = 1.0;
        }
        let start = m_step(x, dims, &resp, opts)?;
        start.run_em(x, opts)
    }

    /// Fits from given parameters (as scikit-learn's `weights_init`, `means_init`, `precisions_init`).
    pub fn fit_from(start: Gmm, x: &[f64], opts: &FitOptions) -> Result<Self, String> {
        start.run_em(x, opts)
    }

    /// Builds a mixture from weights, means and covariances (`[d, d]` each, or `d` variances).
    pub fn from_covariances(
        dims: usize,
        covariance: CovarianceKind,
        weights: Vec<f64>,
        means: Vec<f64>,
        covariances: &[Vec<f64>],
    ) -> Result<Self, String> {
        let precision_cholesky = covariances
            .iter()
            .map(|c| precision_of(c, dims, covariance))
            .collect::<Result<_, _>>()?;
        Ok(Gmm {
            dims,
            covariance,
            weights,
            means,
            precision_cholesky,
            iterations: 0,
            converged: false,
        })
    }

    fn run_em(mut self, x: &[f64], opts: &FitOptions) -> Result<Self, String> {
        let mut lower_bound = f64::NEG_INFINITY;
        for iteration in 1..=opts.max_iter {
            let previous = lower_bound;
            let (mean_log_prob, resp) = self.e_step(x);
            if !mean_log_prob.is_finite() {
                return Err("the log-likelihood is not finite (NaN or infinite features?)".into());
            }
            let updated = m_step(x, self.dims, &resp, opts)?;
            self = Gmm {
                iterations: iteration,
                ..updated
            };
            lower_bound = mean_log_prob;
            if (lower_bound - previous).abs() < opts.tol {
                self.converged = true;
                break;
            }
        }
        Ok(self)
    }

    /// Components.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// `log(weight_k) + log N(x | μ_k, Σ_k)` for every row and component, `[n, K]`.
    fn weighted_log_prob(&self, x: &[f64]) -> Vec<f64> {
        let (d, k_count) = (self.dims, self.components());
        let n = x.len() / d;
        let per_component: Vec<Vec<f64>> = (0..k_count)
            .into_par_iter()
            .map(|k| {
                let mean = &self.means[k * d..(k + 1) * d];
                let p = &self.precision_cholesky[k];
                match self.covariance {
                    CovarianceKind::Full => {
                        let log_det: f64 = (0..d).map(|i| p[i * d + i].ln()).sum();
                        // y = x P - μ P, one product for all rows.
                        let y = matmul(x, p, n, d, d);
                        let mu_p = matmul(mean, p, 1, d, d);
                        (0..n)
                            .map(|i| {
                                let row = &y[i * d..(i + 1) * d];
                                let q: f64 =
                                    row.iter().zip(&mu_p).map(|(a, b)| (a - b) * (a - b)).sum();
                                -0.5 * (d as f64 * LN_2PI + q) + log_det + self.weights[k].ln()
                            })
                            .collect()
                    }
                    CovarianceKind::Diag => {
                        let log_det: f64 = p.iter().map(|v| v.ln()).sum();
                        (0..n)
                            .map(|i| {
                                let row = &x[i * d..(i + 1) * d];
                                let q: f64 =
                                    (0..d).map(|j| ((row[j] - mean[j]) * p[j]).powi(2)).sum();
                                -0.5 * (d as f64 * LN_2PI + q) + log_det + self.weights[k].ln()
                            })
                            .collect()
                    }
                }
            })
            .collect();
        let mut out = vec![0.0; n * k_count];
        for (k, column) in per_component.iter().enumerate() {
            for (i, v) in column.iter().enumerate() {
                out[i * k_count + k] = *v;
            }
        }
        out
    }

    /// Log-likelihood of every row of `x` (scikit-learn's `score_samples`).
    pub fn score_samples(&self, x: &[f64]) -> Vec<f64> {
        let k = self.components();
        self.weighted_log_prob(x)
            .chunks(k)
            .map(log_sum_exp)
            .collect()
    }

    /// Mean log-likelihood and responsibilities `[n, K]`.
    fn e_step(&self, x: &[f64]) -> (f64, Vec<f64>) {
        let k = self.components();
        let mut w = self.weighted_log_prob(x);
        let mut total = 0.0;
        for row in w.chunks_mut(k) {
            let norm = log_sum_exp(row);
            total += norm;
            for v in row.iter_mut() {
                *v = (*v - norm).exp();
            }
        }
        (total / (x.len() / self.dims) as f64, w)
    }
}

fn log_sum_exp(row: &[f64]) -> f64 {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

fn precision_of(cov: &[f64], d: usize, kind: CovarianceKind) -> Result<Vec<f64>, String> {
    let singular = || {
        "a covariance is singular (a constant feature, or too few distinct vectors for this many components); raise reg_covar or use fewer components".to_string()
    };
    match kind {
        CovarianceKind::Full => cholesky(cov, d)
            .map(|l| precision_cholesky(&l, d))
            .ok_or_else(singular),
        CovarianceKind::Diag => cov
            .iter()
            .map(|&v| {
                if v > 0.0 && v.is_finite() {
                    Ok(1.0 / v.sqrt())
                } else {
                    Err(singular())
                }
            })
            .collect(),
    }
}

/// scikit-learn's M-step: weights, means and regularised covariances from responsibilities.
fn m_step(x: &[f64], d: usize, resp: &[f64], opts: &FitOptions) -> Result<Gmm, String> {
    let n = x.len() / d;
    let k_count = resp.len() / n;
    let eps10 = 10.0 * f64::EPSILON;
    let mut nk = vec![eps10; k_count];
    for row in resp.chunks(k_count) {
        for (a, r) in nk.iter_mut().zip(row) {
            *a += r;
        }
    }
    let sums = matmul_at_b(resp, x, n, k_count, d);
    let means: Vec<f64> = (0..k_count * d).map(|i| sums[i] / nk[i / d]).collect();
    let covariances: Vec<Vec<f64>> = (0..k_count)
        .into_par_iter()
        .map(|k| {
            let mean = &means[k * d..(k + 1) * d];
            match opts.covariance {
                CovarianceKind::Full => {
                    let mut diff = vec![0.0; n * d];
                    let mut weighted = vec![0.0; n * d];
                    for i in 0..n {
                        let r = resp[i * k_count + k];
                        for j in 0..d {
                            let v = x[i * d + j] - mean[j];
                            diff[i * d + j] = v;
                            weighted[i * d + j] = r * v;
                        }
                    }
                    let mut cov = matmul_at_b(&weighted, &diff, n, d, d);
                    for (i, c) in cov.iter_mut().enumerate() {
                        *c /= nk[k];
                        if i % (d + 1) == 0 {
                            *c += opts.reg_covar;
                        }
                    }
                    cov
                }
                CovarianceKind::Diag => {
                    // avg(x²) - 2 μ avg(x) + μ² + reg, as scikit-learn computes it.
                    let mut avg_x2 = vec![0.0; d];
                    for i in 0..n {
                        let r = resp[i * k_count + k];
                        for j in 0..d {
                            avg_x2[j] += r * x[i * d + j] * x[i * d + j];
                        }
                    }
                    (0..d)
                        .map(|j| {
                            let avg_x_mean = mean[j] * sums[k * d + j] / nk[k];
                            avg_x2[j] / nk[k] - 2.0 * avg_x_mean
                                + mean[j] * mean[j]
                                + opts.reg_covar
                        })
                        .collect()
                }
            }
        })
        .collect();
    let total: f64 = nk.iter().sum();
    Gmm::from_covariances(
        d,
        opts.covariance,
        nk.iter().map(|w| w / total).collect(),
        means,
        &covariances,
    )
}

/// Cluster labels from greedy k-means++ seeding (seeded; each new centre the
/// best of `2 + ln k` draws, as scikit-learn's KMeans seeds) and Lloyd iterations.
fn kmeans_labels(x: &[f64], d: usize, k: usize, seed: u64) -> Vec<usize> {
    let n = x.len() / d;
    let mut rng = StdRng::seed_from_u64(seed);
    let dist2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum::<f64>();
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let mut centres: Vec<f64> = row(rng.random_range(0..n)).to_vec();
    let mut nearest: Vec<f64> = (0..n).map(|i| dist2(row(i), &centres[..d])).collect();
    let trials = 2 + (k as f64).ln() as usize;
    while centres.len() < k * d {
        let total: f64 = nearest.iter().sum();
        let draws: Vec<usize> = (0..trials)
            .map(|_| {
                if total <= 0.0 {
                    return rng.random_range(0..n);
                }
                let mut target = rng.random::<f64>() * total;
                nearest
                    .iter()
                    .position(|&w| {
                        target -= w;
                        target <= 0.0
                    })
                    .unwrap_or(n - 1)
            })
            .collect();
        // The draw that leaves the smallest total squared distance.
        let (_, updated) = draws
            .par_iter()
            .map(|&pick| {
                let c = row(pick);
                let updated: Vec<f64> = nearest
                    .iter()
                    .enumerate()
                    .map(|(i, &best)| best.min(dist2(row(i), c)))
                    .collect();
                (updated.iter().sum::<f64>(), (pick, updated))
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("at least two draws");
        let (pick, updated) = updated;
        nearest = updated;
        centres.extend_from_slice(row(pick));
    }
    let mut labels = vec![usize::MAX; n];
    for _ in 0..300 {
        let next: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| {
                (0..k)
                    .map(|c| (dist2(row(i), &centres[c * d..(c + 1) * d]), c))
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .map_or(0, |(_, c)| c)
            })
            .collect();
        if next == labels {
            break;
        }
        labels = next;
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            counts[l] += 1;
            for j in 0..d {
                sums[l * d + j] += x[i * d + j];
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                for j in 0..d {
                    centres[c * d + j] = sums[c * d + j] / counts[c] as f64;
                }
            }
        }
    }
    labels
}
