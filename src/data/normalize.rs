//! Feature normalisation, fitted on training clips and stored with the model.

use serde::{Deserialize, Serialize};

use crate::features::Features;

/// How features are scaled before the model sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// Per coefficient: subtract its mean, divide by its standard deviation.
    #[default]
    Zscore,
    /// One mean and standard deviation over all coefficients.
    Global,
    /// Raw features.
    None,
}

/// Fitted statistics: `(x - mean[c]) / std[c]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// The method fitted.
    pub method: Normalization,
    /// Mean per coefficient.
    pub mean: Vec<f32>,
    /// Standard deviation per coefficient (never below 1e-6).
    pub std: Vec<f32>,
}

impl Normalizer {
    /// Fits on `clips` (training files only), in f64 so long datasets do not drift.
    pub fn fit<'a>(
        method: Normalization,
        coeffs: usize,
        clips: impl IntoIterator<Item = &'a Features>,
    ) -> Self {
        let mut sum = vec![0.0f64; coeffs];
        let mut sq = vec![0.0f64; coeffs];
        let mut n = 0usize;
        for clip in clips {
            for row in clip.data.chunks_exact(coeffs) {
                for (c, &v) in row.iter().enumerate() {
                    sum[c] += v as f64;
                    sq[c] += (v as f64) * (v as f64);
                }
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        let (mean, var): (Vec<f64>, Vec<f64>) = match method {
            Normalization::Zscore => sum
                .iter()
                .zip(&sq)
                .map(|(s, q)| (s / n, (q / n - (s / n).powi(2)).max(0.0)))
                .unzip(),
            Normalization::Global => {
                let total = n * coeffs as f64;
                let m = sum.iter().sum::<f64>() / total;
                let v = (sq.iter().sum::<f64>() / total - m * m).max(0.0);
                (vec![m; coeffs], vec![v; coeffs])
            }
            Normalization::None => (vec![0.0; coeffs], vec![1.0; coeffs]),
        };
        Self {
            method,
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var.iter().map(|&v| (v.sqrt() as f32).max(1e-6)).collect(),
        }
    }

    /// Normalises `[frames, coeffs]` values in place.
    pub fn apply(&self, data: &mut [f32]) {
        let coeffs = self.mean.len();
        for row in data.chunks_exact_mut(coeffs) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }
}
