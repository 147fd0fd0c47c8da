//! From labelled clip scores to the detection figures of a trial, one
//! computation for `train` and `eval` alike: AUC, pAUC and, at the threshold,
//! precision, recall, F1 and the counts on the clips the threshold was not
//! chosen on.

use super::{Confusion, ThresholdRule, partial_auc, roc_auc};

/// Which labelled clips a `max_f1` rule chooses its threshold on: a seeded,
/// stratified `calibration_fraction` of each class (none for other rules).
pub fn calibration_mask(rule: ThresholdRule, labelled: &[(f64, bool)], seed: u64) -> Vec<bool> {
    let mut held = vec![false; labelled.len()];
    if let ThresholdRule::MaxF1 {
        calibration_fraction,
    } = rule
    {
        for class in [false, true] {
            let idx: Vec<usize> = (0..labelled.len())
                .filter(|&i| labelled[i].1 == class)
                .collect();
            let (pick, _) =
                crate::data::split_by_file(idx.len(), 1.0 - calibration_fraction, seed ^ 0xF1);
            for i in pick {
                held[idx[i]] = true;
            }
        }
    }
    held
}

/// A trial's detection figures on its labelled test clips.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detection {
    pub auc: Option<f64>,
    pub pauc: Option<f64>,
    pub threshold: Option<f64>,
    /// Why a figure is missing, when one is.
    pub note: Option<String>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub confusion: Option<Confusion>,
    /// Clips the threshold figures count (those outside the calibration share).
    pub decision_clips: usize,
}

/// Detection figures from (score, is an anomaly) per clip; threshold figures
/// count only clips outside `calibration`.
pub fn detection_metrics(
    labelled: &[(f64, bool)],
    threshold: Option<f64>,
    calibration: &[bool],
) -> Detection {
    let (scores, anomalous): (Vec<f64>, Vec<bool>) = labelled.iter().copied().unzip();
    let auc = roc_auc(&scores, &anomalous);
    let note = (auc.is_none() && !labelled.is_empty())
        .then(|| "AUC and pAUC are undefined: the test split has only one class".to_string());
    let (s, a): (Vec<f64>, Vec<bool>) = labelled
        .iter()
        .zip(calibration.iter().chain(std::iter::repeat(&false)))
        .filter(|(_, c)| !**c)
        .map(|(p, _)| *p)
        .unzip();
    let (confusion, clips) = match threshold {
        Some(t) if !s.is_empty() => (Some(Confusion::at(&s, &a, t)), s.len()),
        _ => (None, 0),
    };
    let both = |v: f64| auc.map(|_| v);
    Detection {
        auc,
        pauc: partial_auc(&scores, &anomalous, 0.1),
        threshold,
        note,
        precision: confusion.and_then(|c| both(c.precision())),
        recall: confusion.and_then(|c| both(c.recall())),
        f1: confusion.and_then(|c| both(c.f1())),
        confusion,
        decision_clips: clips,
    }
}
