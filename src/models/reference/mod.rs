//! Reference detectors beside the autoencoders, as DCASE papers report them:
//! a Gaussian mixture (`kind = "gmm"`) and nearest neighbours (`kind =
//! "knn"`) on standardised feature vectors, either one per clip (statistics
//! of its frames) or one per frame. They learn "normal" from the training
//! split and score vectors; they know arrays, not files.

pub mod gmm;
pub mod knn;
pub mod linalg;

use serde::{Deserialize, Serialize};

pub use gmm::{CovarianceKind, FitOptions, Gmm};
pub use knn::Knn;

use crate::features::Features;

/// Which vectors a reference detector models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// One vector per clip: `stats` of its frames, side by side.
    #[default]
    Clip,
    /// Every frame is a vector; the clip score pools the frames' scores (`[eval] clip_score`).
    Frame,
}

/// A statistic of a clip's frames, per coefficient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    /// Mean over frames.
    Mean,
    /// Standard deviation over frames (population, as numpy's default).
    Std,
    /// Minimum over frames.
    Min,
    /// Maximum over frames.
    Max,
}

fn default_stats() -> Vec<Stat> {
    vec![Stat::Mean, Stat::Std]
}

/// `full`, `diag`, or `auto`: full up to 40 dimensions, diagonal above (few
/// clips cannot support a full covariance of many dimensions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceChoice {
    /// Full up to 40 dimensions, else diagonal.
    #[default]
    Auto,
    /// Full matrices.
    Full,
    /// Diagonal matrices.
    Diag,
}

/// `kind = "gmm"`: a Gaussian mixture; score = negative log-likelihood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmmConfig {
    /// Trial name (default `gmm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Mixture components (default: 4 for clips, one per 20 clips when fewer; 8 for frames).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<usize>,
    /// Covariance matrices.
    #[serde(default)]
    pub covariance: CovarianceChoice,
    /// Added to the covariance diagonals (inputs are standardised, so 1e-3 is small).
    #[serde(default = "default_reg_covar")]
    pub reg_covar: f64,
    /// EM iterations at most.
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    /// Convergence threshold on the change of the mean log-likelihood.
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// Clip vectors or frames.
    #[serde(default)]
    pub level: Level,
    /// Statistics of a clip's frames (clip level).
    #[serde(default = "default_stats")]
    pub stats: Vec<Stat>,
}

fn default_reg_covar() -> f64 {
    1e-3
}
fn default_max_iter() -> usize {
    100
}
fn default_tol() -> f64 {
    1e-3
}

/// `kind = "knn"`: mean distance to the `k` nearest training vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnnConfig {
    /// Trial name (default `knn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Neighbours averaged.
    #[serde(default = "default_k")]
    pub k: usize,
    /// Clip vectors or frames.
    #[serde(default)]
    pub level: Level,
    /// Statistics of a clip's frames (clip level).
    #[serde(default = "default_stats")]
    pub stats: Vec<Stat>,
}

fn default_k() -> usize {
    3
}

impl Default for GmmConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

impl Default for KnnConfig {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

fn check_stats(level: Level, stats: &[Stat]) -> Result<(), String> {
    if level == Level::Clip && stats.is_empty() {
        return Err("stats is empty; give at least one of mean, std, min, max".into());
    }
    Ok(())
}

impl GmmConfig {
    /// Checks ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.components == Some(0) {
            return Err("components must be >= 1".into());
        }
        if !(self.reg_covar >= 0.0 && self.reg_covar.is_finite()) {
            return Err(format!("reg_covar is {}, must be >= 0", self.reg_covar));
        }
        if self.max_iter == 0 || self.tol.is_nan() || self.tol <= 0.0 {
            return Err("max_iter must be >= 1 and tol > 0".into());
        }
        check_stats(self.level, &self.stats)
    }
}

impl KnnConfig {
    /// Checks ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.k == 0 {
            return Err("k must be >= 1".into());
        }
        check_stats(self.level, &self.stats)
    }
}

/// Per-dimension standardisation fitted on training vectors (scikit-learn's
/// `StandardScaler`: population std, a zero std left as 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Per dimension.
    pub mean: Vec<f64>,
    /// Per dimension.
    pub scale: Vec<f64>,
}

impl Standardizer {
    /// Fits the scaler to `x` (rows of `d` values).
    pub fn fit(x: &[f64], d: usize) -> Self {
        let n = (x.len() / d) as f64;
        let mut mean = vec![0.0; d];
        for row in x.chunks(d) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; d];
        for row in x.chunks(d) {
            for ((v, r), m) in var.iter_mut().zip(row).zip(&mean) {
                *v += (r - m).powi(2);
            }
        }
        let scale = var
            .into_iter()
            .map(|v| {
                let s = (v / n).sqrt();
                if s > 10.0 * f64::EPSILON { s } else { 1.0 }
            })
            .collect();
        Self { mean, scale }
    }

    /// Scales rows of `x` in place.
    pub fn apply(&self, x: &mut [f64]) {
        let d = self.mean.len();
        for row in x.chunks_mut(d) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) / s;
            }
        }
    }
}

/// The vectors of one clip: `(values, rows)`.
pub fn vectors(features: &Features, level: Level, stats: &[Stat]) -> Vec<f64> {
    let (t, c) = (features.frames, features.coeffs);
    match level {
        Level::Frame => features.data.iter().map(|&v| v as f64).collect(),
        Level::Clip => {
            let mut out = Vec::with_capacity(c * stats.len());
            for stat in stats {
                for j in 0..c {
                    let column = (0..t).map(|i| features.data[i * c + j] as f64);
                    out.push(match stat {
                        Stat::Mean => column.sum::<f64>() / t as f64,
                        Stat::Std => {
                            let m = column.clone().sum::<f64>() / t as f64;
                            (column.map(|v| (v - m).powi(2)).sum::<f64>() / t as f64).sqrt()
                        }
                        Stat::Min => column.fold(f64::INFINITY, f64::min),
                        Stat::Max => column.fold(f64::NEG_INFINITY, f64::max),
                    });
                }
            }
            out
        }
    }
}

/// A fitted detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Fitted {
    /// A Gaussian mixture.
    Gmm(Gmm),
    /// Nearest neighbours.
    Knn(Knn),
}

/// What `model/reference.json` holds: everything `detect` needs besides the features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceModel {
    /// Run-record schema of this file.
    pub schema_version: u32,
    /// Clip vectors or frames.
    pub level: Level,
    /// Statistics (clip level).
    pub stats: Vec<Stat>,
    /// Fitted on the training vectors.
    pub standardizer: Standardizer,
    /// The detector.
    pub fitted: Fitted,
}

/// A reference detector's config, whichever kind.
#[derive(Debug, Clone, Copy)]
pub enum ReferenceConfig<'a> {
    /// `kind = "gmm"`.
    Gmm(&'a GmmConfig),
    /// `kind = "knn"`.
    Knn(&'a KnnConfig),
}

impl ReferenceConfig<'_> {
    fn level_and_stats(&self) -> (Level, &[Stat]) {
        match self {
            ReferenceConfig::Gmm(c) => (c.level, &c.stats),
            ReferenceConfig::Knn(c) => (c.level, &c.stats),
        }
    }

    /// Fits on the training clips' (normalised) features; `seed` seeds k-means++.
    pub fn fit(&self, train: &[&Features], seed: u64) -> Result<ReferenceModel, String> {
        let (level, stats) = self.level_and_stats();
        let mut x: Vec<f64> = Vec::new();
        for f in train {
            x.extend(vectors(f, level, stats));
        }
        let d = match level {
            Level::Clip => train.first().map_or(0, |f| f.coeffs * stats.len()),
            Level::Frame => train.first().map_or(0, |f| f.coeffs),
        };
        if d == 0 || x.is_empty() {
            return Err("no training vectors".into());
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "training vector {} holds NaN or infinity (the features of a training file are not finite)",
                i / d
            ));
        }
        let standardizer = Standardizer::fit(&x, d);
        standardizer.apply(&mut x);
        let fitted = match self {
            ReferenceConfig::Gmm(c) => {
                let covariance = match c.covariance {
                    CovarianceChoice::Full => CovarianceKind::Full,
                    CovarianceChoice::Diag => CovarianceKind::Diag,
                    CovarianceChoice::Auto if d <= 40 => CovarianceKind::Full,
                    CovarianceChoice::Auto => CovarianceKind::Diag,
                };
                let opts = FitOptions {
                    components: c.components.unwrap_or(match level {
                        Level::Clip => (train.len() / 20).clamp(1, 4),
                        Level::Frame => 8,
                    }),
                    covariance,
                    reg_covar: c.reg_covar,
                    max_iter: c.max_iter,
                    tol: c.tol,
                    seed,
                };
                Fitted::Gmm(Gmm::fit(&x, d, &opts).map_err(|e| format!("gmm: {e}"))?)
            }
            ReferenceConfig::Knn(c) => {
                Fitted::Knn(Knn::fit(x, d, c.k).map_err(|e| format!("knn: {e}"))?)
            }
        };
        Ok(ReferenceModel {
            schema_version: 1,
            level,
            stats: stats.to_vec(),
            standardizer,
            fitted,
        })
    }
}

impl ReferenceModel {
    /// Anomaly scores of one clip's units (one for a clip vector, one per
    /// frame): negative log-likelihood, or mean neighbour distance.
    pub fn score(&self, features: &Features) -> Vec<f32> {
        let mut x = vectors(features, self.level, &self.stats);
        self.standardizer.apply(&mut x);
        match &self.fitted {
            Fitted::Gmm(g) => g.score_samples(&x).into_iter().map(|l| -l as f32).collect(),
            Fitted::Knn(k) => k.score_samples(&x).into_iter().map(|d| d as f32).collect(),
        }
    }

    /// Scores of a clip that was part of the fit, whose vectors are training
    /// rows `rows`: nearest neighbours leave them out (a clip is not its own
    /// neighbour); a mixture scores them as any clip.
    pub fn score_in_sample(&self, features: &Features, rows: std::ops::Range<usize>) -> Vec<f32> {
        match &self.fitted {
            Fitted::Knn(k) => {
                let mut x = vectors(features, self.level, &self.stats);
                self.standardizer.apply(&mut x);
                k.score_samples_excluding(&x, rows)
                    .into_iter()
                    .map(|d| d as f32)
                    .collect()
            }
            Fitted::Gmm(_) => self.score(features),
        }
    }

    /// Training rows a clip of `frames` frames contributes.
    pub fn rows_of(&self, frames: usize) -> usize {
        match self.level {
            Level::Clip => 1,
            Level::Frame => frames,
        }
    }

    /// Frames each unit spans and the frame step between units, for segments
    /// (`None` at clip level: one unit is the whole clip).
    pub fn unit_span(&self) -> Option<(usize, usize)> {
        (self.level == Level::Frame).then_some((1, 1))
    }
}
