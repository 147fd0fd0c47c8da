//! Detector metrics, computed as scikit-learn does (`roc_auc_score`, including
//! its McClish-standardised partial AUC, and `numpy.percentile`'s interpolation).

/// ROC points (fpr, tpr) for scores where higher means more anomalous;
/// ties form one step, as in `sklearn.metrics.roc_curve`.
fn roc_points(scores: &[f64], anomalous: &[bool]) -> Option<Vec<(f64, f64)>> {
    let positives = anomalous.iter().filter(|&&a| a).count() as f64;
    let negatives = anomalous.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if anomalous[i] {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            points.push((fp / negatives, tp / positives));
        }
    }
    Some(points)
}

/// The ROC curve as (false-positive rate, true-positive rate) points, from
/// (0, 0) to (1, 1); `None` when only one class is present.
pub fn roc_curve(scores: &[f64], anomalous: &[bool]) -> Option<Vec<(f64, f64)>> {
    roc_points(scores, anomalous)
}

/// Area under the ROC curve; `None` when only one class is present (undefined).
pub fn roc_auc(scores: &[f64], anomalous: &[bool]) -> Option<f64> {
    let points = roc_points(scores, anomalous)?;
    Some(
        points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
            .sum(),
    )
}

/// Partial AUC up to `max_fpr`, McClish-standardised so 0.5 is chance and 1 perfect.
pub fn partial_auc(scores: &[f64], anomalous: &[bool], max_fpr: f64) -> Option<f64> {
    let points = roc_points(scores, anomalous)?;
    let mut area = 0.0;
    for w in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x0 >= max_fpr {
            break;
        }
        let (xe, ye) = if x1 > max_fpr {
            (max_fpr, y0 + (y1 - y0) * (max_fpr - x0) / (x1 - x0))
        } else {
            (x1, y1)
        };
        area += (xe - x0) * (ye + y0) / 2.0;
    }
    let min_area = 0.5 * max_fpr * max_fpr;
    Some(0.5 * (1.0 + (area - min_area) / (max_fpr - min_area)))
}

/// The `q`-th percentile (0..=100) with linear interpolation (numpy's default).
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = q.clamp(0.0, 100.0) / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}
