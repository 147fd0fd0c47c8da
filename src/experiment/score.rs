//! Scoring a trained trial: reconstruction of held-out normal windows, clip
//! scores, the threshold its `[eval]` rule chooses, detection metrics, and
//! the trial's threshold.json, scores.csv, report.md and plots/.

use std::path::Path;

use burn::prelude::Device;

use super::prepare::Prepared;
pub(super) use super::score_ae::SplitScores;
use super::score_ae::{fit_scorer, fitted_units, save_scorer, train_units};
use super::trial::{RunError, TrialMetrics, write};
use crate::data::Label;
use crate::eval::{
    EvalConfig, Gamma, Threshold, ThresholdRule, calibration_mask, clip_scores, detection_metrics,
    max_f1_threshold, percentile,
};
use crate::models::Autoencoder;
use crate::models::ae_score::ScoreMethod;
use crate::report;
use crate::train;

/// How a trial is scored: the experiment's `[eval]`, the model's scoring and what names it.
pub(super) struct Scoring<'a> {
    pub(super) eval: &'a EvalConfig,
    pub(super) kl_weight: f64,
    /// Window errors, or a scorer fitted on the training windows.
    pub(super) method: crate::models::ae_score::ScoreMethod,
    /// The dataset (DCASE figures and submission files need its layout and year).
    pub(super) data: &'a crate::data::DataConfig,
    pub(super) seed: u64,
    pub(super) title: String,
}

/// The threshold of `rule` and, in words, what it was fitted on; for `max_f1`
/// also the labelled clips it used (excluded from the threshold metrics).
fn choose_threshold(
    rule: ThresholdRule,
    valid_scores: &[f64],
    train_scores: impl FnOnce() -> Vec<f64>,
    labelled: &[(f64, bool)],
    seed: u64,
) -> (Option<f64>, String, Vec<bool>) {
    let none_held = vec![false; labelled.len()];
    match rule {
        ThresholdRule::Percentile { percentile: p } => (
            percentile(valid_scores, p),
            format!(
                "{p}th percentile of {} validation normal clips",
                valid_scores.len()
            ),
            none_held,
        ),
        ThresholdRule::TargetFpr { fpr } => (
            percentile(valid_scores, 100.0 * (1.0 - fpr)),
            format!(
                "false-positive rate {fpr} on {} validation normal clips",
                valid_scores.len()
            ),
            none_held,
        ),
        ThresholdRule::Gamma { quantile } => {
            let train = train_scores();
            match Gamma::fit(&train) {
                Some(g) => (
                    Some(g.quantile(quantile)),
                    format!(
                        "quantile {quantile} of a gamma (shape {:.3}, scale {:.4}) fitted to {} training clips",
                        g.shape,
                        g.scale,
                        train.len()
                    ),
                    none_held,
                ),
                None => (
                    None,
                    "gamma fit impossible (training scores without spread)".into(),
                    none_held,
                ),
            }
        }
        ThresholdRule::MaxF1 { .. } => {
            let held = calibration_mask(rule, labelled, seed);
            let (s, a): (Vec<f64>, Vec<bool>) = labelled
                .iter()
                .zip(&held)
                .filter(|(_, h)| **h)
                .map(|(p, _)| *p)
                .unzip();
            (
                max_f1_threshold(&s, &a),
                format!(
                    "best F1 on {} labelled calibration clips of the test split",
                    s.len()
                ),
                held,
            )
        }
    }
}

/// Reconstruction of held-out normal windows and, with anomalies, detection
/// metrics; writes threshold.json, scores.csv, report.md and plots/.
pub(super) fn score_trial(
    model: &Autoencoder,
    prepared: &Prepared,
    device: &Device,
    metrics: &mut TrialMetrics,
    dir: &Path,
    scoring: &Scoring,
) -> Result<Option<ClipScoreSet>, RunError> {
    let valid_errors = train::evaluate(model, &prepared.valid, device);
    let test_errors = train::evaluate(model, &prepared.test, device);
    let normal_window = |w: &usize| prepared.test_clips[prepared.test.clip[*w]].1 == Label::Normal;
    let held: Vec<usize> = (0..prepared.test.len()).filter(normal_window).collect();
    let (sq, ab, name): (Vec<f32>, Vec<f32>, &str) = if held.is_empty() {
        (
            valid_errors.squared.clone(),
            valid_errors.absolute.clone(),
            "validation",
        )
    } else {
        let pick = |v: &[f32]| held.iter().map(|&w| v[w]).collect::<Vec<f32>>();
        (
            pick(&test_errors.squared),
            pick(&test_errors.absolute),
            "test/normal",
        )
    };
    metrics.mse = train::mean(&sq);
    metrics.rmse = metrics.mse.sqrt();
    metrics.mae = train::mean(&ab);
    metrics.windows = sq.len();
    metrics.held_out = name.to_string();

    let units =
        |errors: &train::WindowErrors, set: &crate::data::WindowSet, clips: usize| SplitScores {
            scores: errors.scores(scoring.kl_weight),
            clip: set.clip.clone(),
            clips,
        };
    let fitted = match scoring.method {
        ScoreMethod::Windows => None,
        method => match fit_scorer(model, method, prepared, device, scoring.seed) {
            Ok(fitted) => Some(fitted),
            Err(reason) => {
                fail_trial(metrics, dir, &reason)?;
                return Ok(None);
            }
        },
    };
    let clips = (prepared.valid_clips, prepared.test_clips.len());
    let decided = match &fitted {
        None => decide_and_report(
            units(&valid_errors, &prepared.valid, clips.0),
            units(&test_errors, &prepared.test, clips.1),
            || {
                let errors = train::evaluate(model, &prepared.train, device);
                let n = prepared.train.clip.iter().max().map_or(0, |m| m + 1);
                units(&errors, &prepared.train, n)
            },
            prepared,
            metrics,
            dir,
            scoring,
        )?,
        Some(fitted) => {
            save_scorer(fitted, dir)?;
            decide_and_report(
                fitted_units(model, fitted, &prepared.valid, clips.0, device),
                fitted_units(model, fitted, &prepared.test, clips.1, device),
                || train_units(model, fitted, prepared, device),
                prepared,
                metrics,
                dir,
                scoring,
            )?
        }
    };
    Ok(Some(decided))
}

/// Marks a trained trial failed because its scorer could not be fitted.
fn fail_trial(metrics: &mut TrialMetrics, dir: &Path, reason: &str) -> Result<(), RunError> {
    let events_path = dir.join("events.jsonl");
    let run_id = metrics.run_id.clone().unwrap_or_default();
    train::events::EventLog::open(&events_path, &metrics.trial, &run_id)
        .and_then(|mut e| e.status(false, Some(reason)))
        .map_err(RunError::io(events_path.clone()))?;
    metrics.status = crate::records::TrialStatus::Failed;
    metrics.reason = Some(format!("scoring: {reason}"));
    Ok(())
}

/// From unit scores to decisions, for every kind of detector: clip scores by
/// `[eval]`'s pooling, the threshold its rule chooses, detection metrics, and
/// threshold.json, scores.csv, report.md and plots/.
pub(super) fn decide_and_report(
    valid: SplitScores,
    test: SplitScores,
    train_units: impl FnOnce() -> SplitScores,
    prepared: &Prepared,
    metrics: &mut TrialMetrics,
    dir: &Path,
    scoring: &Scoring,
) -> Result<ClipScoreSet, RunError> {
    let eval = scoring.eval;
    let to_clips = |s: &SplitScores| clip_scores(&s.scores, &s.clip, s.clips, eval.pooling());
    let valid_scores: Vec<f64> = to_clips(&valid).into_iter().flatten().collect();
    let test_scores = to_clips(&test);
    let labelled: Vec<(f64, bool)> = prepared
        .test_clips
        .iter()
        .zip(&test_scores)
        .filter_map(|((_, label), score)| score.map(|s| (s, *label == Label::Anomaly)))
        .collect();
    let train_scores = || to_clips(&train_units()).into_iter().flatten().collect();
    let (threshold, fitted_on, calibration) = choose_threshold(
        eval.threshold,
        &valid_scores,
        train_scores,
        &labelled,
        scoring.seed,
    );
    metrics.threshold = threshold;
    metrics.threshold_method = Some(eval.threshold.into());
    metrics.threshold_fitted_on = fitted_on.clone();
    metrics.clip_score = Some(eval.clip_score);
    if let Some(value) = threshold {
        let rule = Threshold {
            schema_version: crate::records::SCHEMA_VERSION,
            value,
            clip_score: eval.clip_score,
            top_k: eval.top_k,
            percentile: eval.percentile,
            rule: eval.threshold,
            fitted_on,
        };
        write(
            &dir.join("model").join("threshold.json"),
            &serde_json::to_vec_pretty(&rule).expect("json"),
        )?;
    }
    let rows = prepared
        .test_clips
        .iter()
        .zip(&test_scores)
        .filter_map(|((path, label), score)| {
            let relative = path.strip_prefix(&scoring.data.root).unwrap_or(path);
            score.map(|s| (relative, s, *label == Label::Anomaly))
        });
    // Paths relative to the root, the root once (portable) in metrics.json.
    metrics.data_root = Some(super::overrides::portable_root(&scoring.data.root));
    let csv = report::scores_csv(rows, threshold);
    let scored: Vec<(std::path::PathBuf, f64)> = prepared
        .test_clips
        .iter()
        .zip(&test_scores)
        .filter_map(|((path, _), score)| score.map(|s| (path.clone(), s)))
        .collect();
    metrics.dcase = super::dcase_outputs::dcase_outputs(scoring.data, dir, &scored, threshold)
        .map_err(RunError::io(dir.join("dcase")))?;
    if !labelled.is_empty() {
        write(&dir.join("scores.csv"), csv.as_bytes())?;
    }
    detection_metrics(metrics, &labelled, threshold, &calibration);
    report::write_report(
        dir,
        &report::ReportInput {
            title: scoring.title.clone(),
            metrics,
            scores: &labelled,
            threshold,
        },
    )?;
    Ok(ClipScoreSet {
        valid: valid_scores,
        test: test_scores,
    })
}

/// A scored trial's clip scores, for ensembles built on it.
#[derive(Debug, Clone, Default)]
pub(super) struct ClipScoreSet {
    /// Validation normal clips (those with a score).
    pub(super) valid: Vec<f64>,
    /// Test clips, in `Prepared::test_clips` order.
    pub(super) test: Vec<Option<f64>>,
}
