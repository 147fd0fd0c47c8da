//! From labelled clip scores to the detection figures of a trial, one
//! computation for `train` and `eval` alike: AUC, pAUC and, at the threshold,
//! precision, recall, F1 and the counts on the clips the threshold was not
//! chosen on.

use super::{Confusion, ThresholdRule, partial_auc, roc_auc};
use crate::records::TrialMetrics;

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

/// Fills `metrics`' detection figures from (score, is an anomaly) per clip;
/// threshold figures count only clips outside `calibration`.
pub fn detection_metrics(
    metrics: &mut TrialMetrics,
    labelled: &[(f64, bool)],
    threshold: Option<f64>,
    calibration: &[bool],
) {
    let (scores, anomalous): (Vec<f64>, Vec<bool>) = labelled.iter().copied().unzip();
    metrics.auc = roc_auc(&scores, &anomalous);
    metrics.pauc = partial_auc(&scores, &anomalous, 0.1);
    metrics.threshold = threshold;
    metrics.note = (metrics.auc.is_none() && !labelled.is_empty())
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
    let both = |v: f64| metrics.auc.map(|_| v);
    metrics.precision = confusion.and_then(|c| both(c.precision()));
    metrics.recall = confusion.and_then(|c| both(c.recall()));
    metrics.f1 = confusion.and_then(|c| both(c.f1()));
    metrics.confusion = confusion;
    metrics.decision_clips = clips;
}
