//! From reconstruction errors to decisions: clip scores, thresholds and the
//! metrics of a detector (AUC, pAUC, precision, recall, F1).

mod config;
pub mod dcase;
mod decision;
mod gamma;
mod metrics;

pub use crate::records::{ClipScore, Confusion};
pub use config::{EvalConfig, ThresholdRule};
pub use decision::{calibration_mask, detection_metrics};
pub use gamma::Gamma;
pub use metrics::{partial_auc, percentile, roc_auc, roc_curve};

use serde::{Deserialize, Serialize};

/// The decision rule stored with a model (`model/threshold.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Schema of threshold.json (1: written before the field existed).
    #[serde(default = "legacy_schema")]
    pub schema_version: u32,
    /// Clip scores above it are flagged.
    pub value: f64,
    /// How window errors become a clip score.
    pub clip_score: ClipScore,
    /// Windows averaged by `topk_mean`.
    #[serde(default = "default_top_k")]
    pub top_k: usize,
    /// The percentile taken by `clip_score = "percentile"`.
    #[serde(default = "default_clip_percentile")]
    pub percentile: f64,
    /// How the value was chosen.
    #[serde(default)]
    pub rule: ThresholdRule,
    /// Which scores it was fitted on, in words.
    #[serde(default)]
    pub fitted_on: String,
}

fn legacy_schema() -> u32 {
    1
}

fn default_top_k() -> usize {
    3
}

pub(crate) fn default_clip_percentile() -> f64 {
    90.0
}

impl Threshold {
    /// The clip-score pooling this threshold was fitted with.
    pub fn pooling(&self) -> Pooling {
        Pooling {
            how: self.clip_score,
            top_k: self.top_k,
            percentile: self.percentile,
        }
    }
}

/// How window (or frame) scores are pooled into a clip score, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pooling {
    /// The rule.
    pub how: ClipScore,
    /// Windows averaged by `topk_mean`.
    pub top_k: usize,
    /// The percentile taken by `percentile` (0..=100, linear interpolation as numpy's default).
    pub percentile: f64,
}

impl Pooling {
    /// Plain mean pooling.
    pub const MEAN: Pooling = Pooling {
        how: ClipScore::Mean,
        top_k: 1,
        percentile: 50.0,
    };

    /// One clip's score from its window scores (not empty).
    pub fn pool(&self, mut e: Vec<f64>) -> f64 {
        match self.how {
            ClipScore::Mean => e.iter().sum::<f64>() / e.len() as f64,
            ClipScore::Max => e.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ClipScore::TopkMean => {
                e.sort_by(|a, b| b.total_cmp(a));
                let k = self.top_k.clamp(1, e.len());
                e[..k].iter().sum::<f64>() / k as f64
            }
            ClipScore::Percentile => percentile(&e, self.percentile).unwrap_or(f64::NAN),
        }
    }
}

/// Reduces per-window errors to per-clip scores; `clip_of[w]` is window `w`'s clip.
/// Clips without a window get `None`.
pub fn clip_scores(
    errors: &[f32],
    clip_of: &[usize],
    clips: usize,
    pooling: Pooling,
) -> Vec<Option<f64>> {
    let mut per_clip: Vec<Vec<f64>> = vec![Vec::new(); clips];
    for (&e, &c) in errors.iter().zip(clip_of) {
        per_clip[c].push(e as f64);
    }
    per_clip
        .into_iter()
        .map(|e| (!e.is_empty()).then(|| pooling.pool(e)))
        .collect()
}

/// The threshold with the best F1 (score > threshold flags), placed halfway
/// between neighbouring scores; ties go to the higher threshold (fewer alarms).
/// `None` without both classes.
pub fn max_f1_threshold(scores: &[f64], anomalous: &[bool]) -> Option<f64> {
    if !anomalous.iter().any(|&a| a) || anomalous.iter().all(|&a| a) {
        return None;
    }
    let mut sorted: Vec<f64> = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let mut candidates = vec![sorted[0] - 1e-9 * sorted[0].abs().max(1.0)];
    candidates.extend(sorted.windows(2).map(|w| 0.5 * (w[0] + w[1])));
    let mut best = (f64::NEG_INFINITY, candidates[0]);
    for t in candidates {
        let f1 = Confusion::at(scores, anomalous, t).f1();
        if f1 >= best.0 {
            best = (f1, t);
        }
    }
    Some(best.1)
}
