//! The detection words a run record keeps, shared by `eval` (which computes
//! them) and every reader of `metrics.json` and `threshold.json`: how a
//! clip's window scores were pooled, the counts at a threshold, and the
//! DCASE task-2 figures.

use serde::{Deserialize, Serialize};

/// How window errors become one score per clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClipScore {
    /// Mean of the clip's window errors.
    #[default]
    Mean,
    /// The worst window.
    Max,
    /// Mean of the clip's `top_k` worst windows (all of them when it has fewer).
    TopkMean,
    /// The `percentile`-th percentile of the clip's window scores (robust to a
    /// few outliers, sharper than the mean for short events).
    Percentile,
}

/// Counts of a thresholded detector (score > threshold flags an anomaly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Anomalies flagged.
    pub true_positive: usize,
    /// Normals flagged.
    pub false_positive: usize,
    /// Normals passed.
    pub true_negative: usize,
    /// Anomalies missed.
    pub false_negative: usize,
}

impl Confusion {
    /// Counts at `threshold`.
    pub fn at(scores: &[f64], anomalous: &[bool], threshold: f64) -> Self {
        let mut c = Confusion {
            true_positive: 0,
            false_positive: 0,
            true_negative: 0,
            false_negative: 0,
        };
        for (&s, &a) in scores.iter().zip(anomalous) {
            match (s > threshold, a) {
                (true, true) => c.true_positive += 1,
                (true, false) => c.false_positive += 1,
                (false, false) => c.true_negative += 1,
                (false, true) => c.false_negative += 1,
            }
        }
        c
    }

    /// TP / (TP + FP); 0 when nothing is flagged (scikit-learn's zero_division=0).
    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    /// TP / (TP + FN).
    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One section's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionMetrics {
    /// `section_XX`.
    pub section: String,
    /// Test files scored in it.
    pub files: usize,
    /// AUC of the source domain.
    pub auc_source: Option<f64>,
    /// AUC of the target domain.
    pub auc_target: Option<f64>,
    /// pAUC of the whole section (2022 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauc: Option<f64>,
    /// pAUC of the source domain (2021).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauc_source: Option<f64>,
    /// pAUC of the target domain (2021).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauc_target: Option<f64>,
}

/// `metrics.json`'s `dcase` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DcaseMetrics {
    /// The challenge year whose definitions apply.
    pub year: u16,
    /// The machine type (the dataset root's folder name).
    pub machine: String,
    /// Per section, sorted.
    pub sections: Vec<SectionMetrics>,
    /// Harmonic mean of every defined AUC and pAUC, as the year defines it.
    pub official_score: Option<f64>,
    /// Harmonic mean of the source AUCs.
    pub hmean_auc_source: Option<f64>,
    /// Harmonic mean of the target AUCs.
    pub hmean_auc_target: Option<f64>,
    /// Harmonic mean of the pAUCs.
    pub hmean_pauc: Option<f64>,
    /// Figures left out because their files hold one class only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undefined: Vec<String>,
}
