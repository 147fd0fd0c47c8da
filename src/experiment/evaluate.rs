//! `earshot eval`: a trained trial scored again on its dataset's test split
//! (or the same layout under another root), with its stored threshold:
//! scores.csv, metrics.json (detection keys updated), report.md and plots/.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use serde_json::json;

use super::{DetectError, Detector};
use crate::data::{DataError, FileFailure, Label};
use crate::eval::{Confusion, partial_auc, roc_auc};
use crate::report;

/// What one trial's evaluation found.
#[derive(Debug, Clone)]
pub struct TrialEvaluation {
    /// The trial folder.
    pub dir: PathBuf,
    /// The updated metrics.json.
    pub metrics: serde_json::Value,
    /// Test files that could not be scored.
    pub failures: Vec<FileFailure>,
}

/// Why a trial could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The model folder.
    #[error(transparent)]
    Model(#[from] DetectError),
    /// The dataset.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The report.
    #[error(transparent)]
    Report(#[from] report::ReportError),
    /// Writing a result.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The dataset has no test files.
    #[error("{0}")]
    NoTest(String),
}

/// The trial folders under `dir`: itself when it holds `model/`, else its children that do.
pub fn trial_dirs(dir: &Path) -> Vec<PathBuf> {
    if dir.join("model").join("config.toml").is_file() {
        return vec![dir.to_path_buf()];
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("model").join("config.toml").is_file())
                .filter(|p| !crate::fsx::is_set_aside(p))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Scores `trial`'s test split (under `data_root` instead of the recorded root
/// when given) and rewrites its evaluation files.
pub fn evaluate_trial(
    trial: &Path,
    data_root: Option<&Path>,
    device: Device,
    on_file: &mut dyn FnMut(usize, usize),
) -> Result<TrialEvaluation, EvalError> {
    let detector = Detector::load(trial, device)?;
    let record = detector.record().clone();
    let mut data = record.experiment.data.clone();
    if let Some(root) = data_root {
        data.root = root.to_path_buf();
    }
    let (files, mut failures) = data.list()?;
    if files.test.is_empty() {
        return Err(EvalError::NoTest(format!(
            "{}: the dataset has no test files (layout {:?}); nothing to evaluate",
            data.root.display(),
            data.layout
        )));
    }
    let threshold = detector.threshold().map(|t| t.value);
    let mut scored: Vec<(PathBuf, f64, bool)> = Vec::new();
    let (mut sq_sum, mut abs_sum, mut normal_windows) = (0.0, 0.0, 0usize);
    for (i, (path, label)) in files.test.iter().enumerate() {
        on_file(i + 1, files.test.len());
        match detector.score_file(path) {
            Ok(d) if d.score.is_finite() => {
                if *label == Label::Normal {
                    sq_sum += d.mse * d.windows as f64;
                    abs_sum += d.mae * d.windows as f64;
                    normal_windows += d.windows;
                }
                scored.push((path.clone(), d.score, *label == Label::Anomaly));
            }
            Ok(_) => failures.push(FileFailure {
                path: path.clone(),
                reason: "no window could be scored".into(),
            }),
            Err(reason) => failures.push(FileFailure {
                path: path.clone(),
                reason,
            }),
        }
    }
    if scored.is_empty() {
        return Err(EvalError::NoTest(format!(
            "{}: none of the {} test files could be scored",
            data.root.display(),
            files.test.len()
        )));
    }
    let (scores, anomalous): (Vec<f64>, Vec<bool>) =
        scored.iter().map(|(_, s, a)| (*s, *a)).unzip();
    let auc = roc_auc(&scores, &anomalous);
    let confusion = threshold.map(|t| Confusion::at(&scores, &anomalous, t));
    let with_both = |v: f64| auc.map(|_| v);
    let metrics_path = trial.join("metrics.json");
    let mut metrics: serde_json::Value = std::fs::read_to_string(&metrics_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({"trial": record.trial}));
    let mse = (normal_windows > 0).then(|| sq_sum / normal_windows as f64);
    let update = json!({
        "mse": mse,
        "rmse": mse.map(f64::sqrt),
        "mae": (normal_windows > 0).then(|| abs_sum / normal_windows as f64),
        "held_out": "test/normal",
        "windows": normal_windows,
        "auc": auc,
        "pauc": partial_auc(&scores, &anomalous, 0.1),
        "threshold": threshold,
        "precision": confusion.and_then(|c| with_both(c.precision())),
        "recall": confusion.and_then(|c| with_both(c.recall())),
        "f1": confusion.and_then(|c| with_both(c.f1())),
        "confusion": confusion,
        "decision_clips": scores.len(),
        "note": auc.is_none().then_some("AUC and pAUC are undefined: the test split has only one class"),
        "evaluated_on": data.root,
        "evaluated_files": scores.len(),
        "failed_files": failures.len(),
    });
    if let (Some(map), Some(new)) = (metrics.as_object_mut(), update.as_object()) {
        for (k, v) in new {
            map.insert(k.clone(), v.clone());
        }
    }
    let csv = report::scores_csv(
        scored.iter().map(|(p, s, a)| (p.as_path(), *s, *a)),
        threshold,
    );
    let write = |path: PathBuf, bytes: &[u8]| {
        crate::fsx::write_atomic(&path, bytes).map_err(|source| EvalError::Io { path, source })
    };
    write(trial.join("scores.csv"), csv.as_bytes())?;
    write(
        metrics_path,
        &serde_json::to_vec_pretty(&metrics).expect("json"),
    )?;
    let pairs: Vec<(f64, bool)> = scores
        .iter()
        .copied()
        .zip(anomalous.iter().copied())
        .collect();
    report::write_report(
        trial,
        &report::ReportInput {
            title: format!("{}/{}", record.experiment.name, record.trial),
            metrics: &metrics,
            scores: &pairs,
            threshold,
        },
    )?;
    Ok(TrialEvaluation {
        dir: trial.to_path_buf(),
        metrics,
        failures,
    })
}
