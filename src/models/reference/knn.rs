//! Nearest neighbours: a vector's score is its mean Euclidean distance to the
//! `k` nearest training vectors (scikit-learn's `NearestNeighbors.kneighbors`,
//! averaged), computed exactly by brute force.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The training vectors: what `model/reference.json` holds for `kind = "knn"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knn {
    /// Dimensions.
    pub dims: usize,
    /// Neighbours averaged.
    pub k: usize,
    /// `[n, dims]` training vectors (standardised).
    pub train: Vec<f64>,
}

impl Knn {
    /// Keeps `train` (`[n, dims]`); `k` may be at most the vector count.
    pub fn fit(train: Vec<f64>, dims: usize, k: usize) -> Result<Self, String> {
        let n = train.len() / dims.max(1);
        if k == 0 || k > n {
            return Err(format!(
                "k is {k}, must be within 1..={n} (the training vectors)"
            ));
        }
        Ok(Knn { dims, k, train })
    }

    /// Mean distance of each row of `x` to its `k` nearest training vectors.
    pub fn score_samples(&self, x: &[f64]) -> Vec<f64> {
        self.score_samples_excluding(x, 0..0)
    }

    /// As [`Self::score_samples`], leaving the training rows `skip` out: the
    /// leave-one-out score of a training clip (its own rows are not its neighbours).
    pub fn score_samples_excluding(&self, x: &[f64], skip: std::ops::Range<usize>) -> Vec<f64> {
        let d = self.dims;
        let available = self.train.len() / d - skip.len();
        let k = self.k.min(available.max(1));
        x.par_chunks(d)
            .map(|q| {
                // The k smallest squared distances, kept sorted (k is small).
                let mut best: Vec<f64> = Vec::with_capacity(k + 1);
                for (row, t) in self.train.chunks(d).enumerate() {
                    if skip.contains(&row) {
                        continue;
                    }
                    let dist: f64 = q.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum();
                    if best.len() < k || dist < best[k - 1] {
                        let at = best.partition_point(|&b| b <= dist);
                        best.insert(at, dist);
                        best.truncate(k);
                    }
                }
                best.iter().map(|v| v.sqrt()).sum::<f64>() / k as f64
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_distance_to_the_k_nearest_by_hand() {
        // Training points on a line at 0, 1, 3, 10; query 2: distances 2, 1, 1, 8.
        let knn = Knn::fit(vec![0.0, 1.0, 3.0, 10.0], 1, 3).unwrap();
        let s = knn.score_samples(&[2.0, 10.0]);
        assert!((s[0] - (1.0 + 1.0 + 2.0) / 3.0).abs() < 1e-12);
        // A training point scores its own zero distance among the k, as scikit-learn's kneighbors(X_test).
        assert!((s[1] - (0.0 + 7.0 + 9.0) / 3.0).abs() < 1e-12);
        // Leave-one-out: training point 10 (row 3) without itself: 7, 9, 10.
        let loo = knn.score_samples_excluding(&[10.0], 3..4);
        assert!((loo[0] - (7.0 + 9.0 + 10.0) / 3.0).abs() < 1e-12);
        assert!(
            Knn::fit(vec![0.0, 1.0], 1, 3)
                .unwrap_err()
                .contains("1..=2")
        );
    }
}
