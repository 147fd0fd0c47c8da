//! `[eval]` of an experiment: how window errors become a clip score and how the
//! decision threshold is chosen.

use serde::{Deserialize, Serialize};

use crate::records::ThresholdMethod;

use super::ClipScore;

/// How the decision threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThresholdRule {
    /// A percentile of validation normal clip scores.
    Percentile {
        /// 0..=100.
        #[serde(default = "default_percentile")]
        percentile: f64,
    },
    /// The DCASE baseline's way: a gamma distribution fitted to the training
    /// clip scores, and its quantile.
    Gamma {
        /// 0 < quantile < 1.
        #[serde(default = "default_gamma_quantile")]
        quantile: f64,
    },
    /// The best F1 on a labelled calibration share of the test clips (split by
    /// file, seeded); threshold metrics are then reported on the other clips.
    MaxF1 {
        /// Share of labelled test clips used to choose the threshold.
        #[serde(default = "default_calibration")]
        calibration_fraction: f64,
    },
    /// The threshold whose false-positive rate on validation normal clips is `fpr`.
    TargetFpr {
        /// 0 < fpr < 1.
        fpr: f64,
    },
}

fn default_percentile() -> f64 {
    95.0
}
fn default_gamma_quantile() -> f64 {
    0.9
}
fn default_calibration() -> f64 {
    0.5
}

impl Default for ThresholdRule {
    fn default() -> Self {
        ThresholdRule::Percentile {
            percentile: default_percentile(),
        }
    }
}

/// Evaluation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Window errors to a clip score.
    pub clip_score: ClipScore,
    /// Windows averaged by `topk_mean`.
    pub top_k: usize,
    /// The percentile of window scores taken by `clip_score = "percentile"`.
    pub percentile: f64,
    /// How the threshold is chosen.
    pub threshold: ThresholdRule,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            clip_score: ClipScore::Mean,
            top_k: 3,
            percentile: super::default_clip_percentile(),
            threshold: ThresholdRule::default(),
        }
    }
}

impl EvalConfig {
    /// How window scores become clip scores under this config.
    pub fn pooling(&self) -> super::Pooling {
        super::Pooling {
            how: self.clip_score,
            top_k: self.top_k,
            percentile: self.percentile,
        }
    }

    /// Checks ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.percentile) {
            return Err(format!(
                "eval.percentile is {}, must be within 0..=100",
                self.percentile
            ));
        }
        if self.top_k == 0 {
            return Err("eval.top_k must be >= 1".into());
        }
        let open01 = |v: f64| v > 0.0 && v < 1.0;
        match self.threshold {
            ThresholdRule::Percentile { percentile } if !(0.0..=100.0).contains(&percentile) => {
                Err(format!(
                    "eval.threshold.percentile is {percentile}, must be in 0..=100"
                ))
            }
            ThresholdRule::Gamma { quantile } if !open01(quantile) => Err(format!(
                "eval.threshold.quantile is {quantile}, must be in (0, 1), e.g. 0.9"
            )),
            ThresholdRule::MaxF1 {
                calibration_fraction,
            } if !open01(calibration_fraction) => Err(format!(
                "eval.threshold.calibration_fraction is {calibration_fraction}, must be in (0, 1)"
            )),
            ThresholdRule::TargetFpr { fpr } if !open01(fpr) => Err(format!(
                "eval.threshold.fpr is {fpr}, must be in (0, 1), e.g. 0.05"
            )),
            _ => Ok(()),
        }
    }
}

/// The word `metrics.json` keeps for a rule.
impl From<ThresholdRule> for ThresholdMethod {
    fn from(rule: ThresholdRule) -> Self {
        use ThresholdRule as R;
        match rule {
            R::Percentile { .. } => ThresholdMethod::Percentile,
            R::Gamma { .. } => ThresholdMethod::Gamma,
            R::MaxF1 { .. } => ThresholdMethod::MaxF1,
            R::TargetFpr { .. } => ThresholdMethod::TargetFpr,
        }
    }
}
