//! From reconstruction errors to decisions: clip scores, thresholds and the
//! metrics of a detector (AUC, pAUC, precision, recall, F1).

mod metrics;
pub use metrics::{Confusion, partial_auc, percentile, roc_auc};

use serde::{Deserialize, Serialize};

/// The decision rule stored with a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Clip scores above it are flagged.
    pub value: f64,
    /// How window errors become a clip score.
    pub clip_score: ClipScore,
    /// How the value was chosen (percentile of validation normal clip scores).
    pub percentile: f64,
}

/// How window errors become one score per clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClipScore {
    /// Mean of the clip's window errors.
    #[default]
    Mean,
    /// The worst window.
    Max,
}

/// Reduces per-window errors to per-clip scores; `clip_of[w]` is window `w`'s clip.
/// Clips without a window get `None`.
pub fn clip_scores(
    errors: &[f32],
    clip_of: &[usize],
    clips: usize,
    how: ClipScore,
) -> Vec<Option<f64>> {
    let mut acc: Vec<(f64, f64, usize)> = vec![(0.0, f64::NEG_INFINITY, 0); clips];
    for (&e, &c) in errors.iter().zip(clip_of) {
        let slot = &mut acc[c];
        slot.0 += e as f64;
        slot.1 = slot.1.max(e as f64);
        slot.2 += 1;
    }
    acc.into_iter()
        .map(|(sum, max, n)| {
            (n > 0).then(|| match how {
                ClipScore::Mean => sum / n as f64,
                ClipScore::Max => max,
            })
        })
        .collect()
}
