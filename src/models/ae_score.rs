//! How an autoencoder's windows become anomaly scores beyond the mean squared
//! reconstruction error:
//! - `mahalanobis`: the residual `x - x̂` of a window (all `frames x coeffs`
//!   values) measured against the mean and covariance of the residuals of
//!   the training windows (the DCASE 2022+ baseline's second mode), divided
//!   by the dimension so that an identity covariance gives back the MSE;
//! - `latent_gmm`: each clip's window codes (bottleneck / latent / posterior
//!   mean) pooled into their mean and standard deviation, standardised, and
//!   scored by the negative log-likelihood of a Gaussian mixture fitted on
//!   the training clips: one score per clip, no per-window scores;
//! - `latent_knn`: the same pooled codes, scored by the mean distance to the
//!   `latent_neighbors` nearest training clips (a clip-level autoencoder's
//!   codes with nearest neighbours reach the reference k-NN's ranking).

use serde::{Deserialize, Serialize};

use super::reference::Standardizer;
use super::reference::gmm::{CovarianceKind, FitOptions, Gmm};
use super::reference::knn::Knn;
use super::reference::linalg::{cholesky, matmul, matmul_at_b, precision_cholesky};

/// The scoring of `dense`, `cae` and `rnn` (`score = ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AeScore {
    /// Mean squared reconstruction error of each window.
    #[default]
    #[serde(alias = "reconstruction")]
    Mse,
    /// Mahalanobis distance of the reconstruction residual.
    Mahalanobis,
    /// A Gaussian mixture on the clip-pooled codes.
    LatentGmm,
    /// Nearest training clips in the space of the clip-pooled codes.
    LatentKnn,
}

impl AeScore {
    /// Whether this is the default (left out of written configs).
    pub fn is_mse(&self) -> bool {
        *self == AeScore::Mse
    }
}

/// Default mixture components of `latent_gmm`.
pub fn default_latent_components() -> usize {
    1
}

/// Whether `n` is the default component count (left out of written configs).
pub fn is_default_components(n: &usize) -> bool {
    *n == default_latent_components()
}

/// Default neighbours of `latent_knn`.
pub fn default_latent_neighbors() -> usize {
    3
}

/// Whether `n` is the default neighbour count (left out of written configs).
pub fn is_default_neighbors(n: &usize) -> bool {
    *n == default_latent_neighbors()
}

/// What a trial's scoring needs besides its model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreMethod {
    /// Window errors (`kl_weight` > 0 adds the VAE's KL term).
    Windows,
    /// The residual's Mahalanobis distance.
    Mahalanobis,
    /// A mixture of `components` on clip-pooled codes.
    LatentGmm {
        /// Mixture components.
        components: usize,
    },
    /// Nearest neighbours among the training clips' pooled codes.
    LatentKnn {
        /// Neighbours averaged.
        neighbors: usize,
    },
}

/// Added to the residual covariance's diagonal, relative to its mean
/// variance: residual dimensions are strongly correlated (neighbouring frames
/// and coefficients), so the raw matrix is often near-singular.
const RELATIVE_REG: f64 = 1e-3;
/// The latent mixture's `reg_covar`, on standardised codes.
const LATENT_REG: f64 = 1e-3;

/// A fitted scorer, saved as `model/scorer.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum FittedScorer {
    /// Mean and precision factor of the training residuals.
    Mahalanobis {
        /// Residual values per window.
        dims: usize,
        /// `[dims]` mean residual.
        mean: Vec<f64>,
        /// `[dims, dims]` upper factor `P` with `P Pᵀ = Σ⁻¹`.
        precision_cholesky: Vec<f64>,
    },
    /// Standardiser and mixture of the clip-pooled codes.
    LatentGmm {
        /// Fitted on the training clips' pooled codes.
        standardizer: Standardizer,
        /// The mixture.
        gmm: Gmm,
    },
    /// Standardiser and the training clips' pooled codes.
    LatentKnn {
        /// Fitted on the training clips' pooled codes.
        standardizer: Standardizer,
        /// The standardised training codes.
        knn: Knn,
    },
}

/// The first two moments of residual vectors, gathered a batch at a time.
#[derive(Debug, Clone)]
pub struct ResidualMoments {
    dims: usize,
    count: usize,
    sum: Vec<f64>,
    /// `Σ r rᵀ`, `[dims, dims]`.
    cross: Vec<f64>,
}

impl ResidualMoments {
    /// Nothing gathered yet, for residuals of `dims` values.
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            count: 0,
            sum: vec![0.0; dims],
            cross: vec![0.0; dims * dims],
        }
    }

    /// Adds `[rows, dims]` residuals.
    pub fn add(&mut self, residuals: &[f32]) {
        let d = self.dims;
        let rows = residuals.len() / d;
        let block: Vec<f64> = residuals[..rows * d].iter().map(|&v| v as f64).collect();
        for row in block.chunks_exact(d) {
            self.sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        let part = matmul_at_b(&block, &block, rows, d, d);
        self.cross.iter_mut().zip(part).for_each(|(c, p)| *c += p);
        self.count += rows;
    }

    /// The fitted scorer: mean, and the covariance regularised and inverted.
    pub fn finish(self) -> Result<FittedScorer, String> {
        let (d, n) = (self.dims, self.count);
        if n < 2 {
            return Err(format!(
                "mahalanobis scoring needs at least 2 training windows, got {n}"
            ));
        }
        let mean: Vec<f64> = self.sum.iter().map(|s| s / n as f64).collect();
        let mut covariance = self.cross;
        for i in 0..d {
            for j in 0..d {
                covariance[i * d + j] = covariance[i * d + j] / n as f64 - mean[i] * mean[j];
            }
        }
        if covariance.iter().any(|c| !c.is_finite()) {
            return Err("the reconstruction residuals are not finite".into());
        }
        let mean_variance = (0..d).map(|i| covariance[i * d + i]).sum::<f64>() / d as f64;
        let reg = RELATIVE_REG * mean_variance.max(f64::MIN_POSITIVE) + 1e-12;
        for i in 0..d {
            covariance[i * d + i] += reg;
        }
        let l = cholesky(&covariance, d)
            .ok_or("the residual covariance is not positive definite even regularised")?;
        Ok(FittedScorer::Mahalanobis {
            dims: d,
            mean,
            precision_cholesky: precision_cholesky(&l, d),
        })
    }
}

/// Pools the codes of each clip (`codes`: `[windows, width]`, `clip_of[w]`
/// the clip of window `w`) into `[clips, 2 * width]`: mean, then population
/// standard deviation. A clip without windows gets zeros.
pub fn pool_codes(codes: &[f32], width: usize, clip_of: &[usize], clips: usize) -> Vec<f64> {
    let mut sum = vec![0.0; clips * width];
    let mut sq = vec![0.0; clips * width];
    let mut count = vec![0usize; clips];
    for (row, &c) in codes.chunks_exact(width).zip(clip_of) {
        count[c] += 1;
        for (j, &v) in row.iter().enumerate() {
            sum[c * width + j] += v as f64;
            sq[c * width + j] += (v as f64).powi(2);
        }
    }
    let mut out = vec![0.0; clips * 2 * width];
    for c in 0..clips {
        let k = count[c].max(1) as f64;
        for j in 0..width {
            let m = sum[c * width + j] / k;
            out[c * 2 * width + j] = m;
            out[c * 2 * width + width + j] = (sq[c * width + j] / k - m * m).max(0.0).sqrt();
        }
    }
    out
}

/// Fits the latent mixture on the pooled codes of the training clips.
pub fn fit_latent_gmm(
    pooled: &[f64],
    dims: usize,
    components: usize,
    seed: u64,
) -> Result<FittedScorer, String> {
    let clips = pooled.len() / dims.max(1);
    if components == 0 || components > clips {
        return Err(format!(
            "latent_components is {components}, must be within 1..={clips} (the training clips)"
        ));
    }
    let standardizer = Standardizer::fit(pooled, dims);
    let mut x = pooled.to_vec();
    standardizer.apply(&mut x);
    let opts = FitOptions {
        components,
        covariance: CovarianceKind::Full,
        reg_covar: LATENT_REG,
        max_iter: 100,
        tol: 1e-3,
        seed,
    };
    Ok(FittedScorer::LatentGmm {
        standardizer,
        gmm: Gmm::fit(&x, dims, &opts)?,
    })
}

/// Keeps the standardised pooled codes of the training clips.
pub fn fit_latent_knn(
    pooled: &[f64],
    dims: usize,
    neighbors: usize,
) -> Result<FittedScorer, String> {
    let clips = pooled.len() / dims.max(1);
    if neighbors == 0 || neighbors > clips {
        return Err(format!(
            "latent_neighbors is {neighbors}, must be within 1..={clips} (the training clips)"
        ));
    }
    let standardizer = Standardizer::fit(pooled, dims);
    let mut x = pooled.to_vec();
    standardizer.apply(&mut x);
    Ok(FittedScorer::LatentKnn {
        standardizer,
        knn: Knn::fit(x, dims, neighbors)?,
    })
}

impl FittedScorer {
    /// Mahalanobis: one score per window of `residuals` (`[windows, dims]`).
    /// Latent mixture: one score per clip of `pooled` (`[clips, 2 * width]`).
    pub fn score(&self, values: &[f32]) -> Vec<f32> {
        let as_f64: Vec<f64> = values.iter().map(|&v| v as f64).collect();
        self.score_f64(&as_f64)
    }

    /// As [`Self::score`], on f64 values.
    pub fn score_f64(&self, values: &[f64]) -> Vec<f32> {
        match self {
            FittedScorer::Mahalanobis {
                dims,
                mean,
                precision_cholesky,
            } => {
                let d = *dims;
                let mut out = Vec::with_capacity(values.len() / d);
                for block in values.chunks(1024 * d) {
                    let rows = block.len() / d;
                    let centred: Vec<f64> = block
                        .chunks_exact(d)
                        .flat_map(|row| row.iter().zip(mean).map(|(v, m)| v - m))
                        .collect();
                    let z = matmul(&centred, precision_cholesky, rows, d, d);
                    out.extend(
                        z.chunks_exact(d)
                            .map(|r| (r.iter().map(|v| v * v).sum::<f64>() / d as f64) as f32),
                    );
                }
                out
            }
            FittedScorer::LatentGmm { standardizer, gmm } => {
                let mut x = values.to_vec();
                standardizer.apply(&mut x);
                gmm.score_samples(&x)
                    .into_iter()
                    .map(|ll| -ll as f32)
                    .collect()
            }
            FittedScorer::LatentKnn { standardizer, knn } => {
                let mut x = values.to_vec();
                standardizer.apply(&mut x);
                knn.score_samples(&x)
                    .into_iter()
                    .map(|d| d as f32)
                    .collect()
            }
        }
    }

    /// The training clips' own scores (`pooled` are those clips, in fit
    /// order): nearest neighbours leave each clip out of its own neighbours.
    pub fn score_training(&self, pooled: &[f64]) -> Vec<f32> {
        match self {
            FittedScorer::LatentKnn { standardizer, knn } => {
                let mut x = pooled.to_vec();
                standardizer.apply(&mut x);
                x.chunks_exact(knn.dims)
                    .enumerate()
                    .map(|(i, row)| knn.score_samples_excluding(row, i..i + 1)[0] as f32)
                    .collect()
            }
            _ => self.score_f64(pooled),
        }
    }

    /// Whether scores are per clip rather than per window.
    pub fn per_clip(&self) -> bool {
        matches!(
            self,
            FittedScorer::LatentGmm { .. } | FittedScorer::LatentKnn { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_mahalanobis(residuals: &[f32], dims: usize) -> Result<FittedScorer, String> {
        let mut moments = ResidualMoments::new(dims);
        moments.add(residuals);
        moments.finish()
    }

    #[test]
    fn an_identity_covariance_gives_back_the_mse_and_correlation_is_discounted() {
        // Residuals in 2-D spread evenly on the axes: mean 0, covariance ≈ I (+ reg).
        let residuals: Vec<f32> = vec![1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0];
        let fitted = fit_mahalanobis(&residuals, 2).unwrap();
        // Covariance diag(0.5, 0.5): distance² of (1, 0) is 2, over 2 dims = 1.
        let s = fitted.score(&[1.0, 0.0])[0];
        assert!((s - 1.0 / (1.0 + 1e-3) as f32).abs() < 1e-5, "{s}");
        // Strongly correlated residuals: a residual along the correlation is
        // ordinary, one across it is anomalous, at equal squared error.
        let corr: Vec<f32> = (0..200)
            .flat_map(|i| {
                let t = (i as f32 - 100.0) / 50.0;
                let wobble = if i % 2 == 0 { 0.01 } else { -0.01 };
                [t, t + wobble]
            })
            .collect();
        let fitted = fit_mahalanobis(&corr, 2).unwrap();
        let along = fitted.score(&[0.5, 0.5])[0];
        let across = fitted.score(&[0.5, -0.5])[0];
        assert!(across > 100.0 * along, "along {along}, across {across}");
        assert!(fit_mahalanobis(&[1.0, 2.0], 2).is_err());
    }

    #[test]
    fn pooled_codes_are_per_clip_mean_and_std_and_the_mixture_scores_outliers_higher() {
        let codes = [1.0, 3.0, 3.0, 5.0, 10.0, 10.0];
        let pooled = pool_codes(&codes, 1, &[0, 0, 0, 1, 1, 2], 4);
        let expected = [7.0 / 3.0, (8.0f64 / 9.0).sqrt(), 7.5, 2.5];
        for (got, want) in pooled[..4].iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{pooled:?}");
        }
        assert_eq!(pooled[4..], [10.0, 0.0, 0.0, 0.0]);
        let train: Vec<f64> = (0..50)
            .flat_map(|i| [(i % 7) as f64 * 0.1, 1.0 + (i % 5) as f64 * 0.05])
            .collect();
        let fitted = fit_latent_gmm(&train, 2, 1, 0).unwrap();
        let s = fitted.score_f64(&[0.3, 1.1, 5.0, -3.0]);
        assert!(s[1] > s[0] + 10.0, "{s:?}");
        assert!(fitted.per_clip());
        assert!(
            fit_latent_gmm(&train, 2, 60, 0)
                .unwrap_err()
                .contains("latent_components")
        );
        // Neighbours: a point on the training grid is near, one far away is far;
        // a training clip is not its own neighbour.
        let knn = fit_latent_knn(&train, 2, 3).unwrap();
        let s = knn.score_f64(&[0.3, 1.1, 5.0, -3.0]);
        assert!(s[1] > 10.0 * s[0].max(1e-3), "{s:?}");
        assert!(knn.score_training(&train).iter().all(|&v| v >= 0.0));
        assert!(
            fit_latent_knn(&train, 2, 0)
                .unwrap_err()
                .contains("latent_neighbors")
        );
    }
}
