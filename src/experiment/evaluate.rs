//! `earshot eval`: a trained trial scored again on its dataset's test split
//! (or the same layout under another root), with its stored threshold:
//! scores.csv, metrics.json (detection keys updated), report.md and plots/.

use std::path::{Path, PathBuf};

use burn::prelude::Device;

use super::{DetectError, Detector, TrialRecord};
use crate::data::{DataError, FileFailure, Label};
use crate::eval::{calibration_mask, detection_metrics};
use crate::records::TrialMetrics;
use crate::report;

/// What one trial's evaluation found.
#[derive(Debug, Clone)]
pub struct TrialEvaluation {
    /// The trial folder.
    pub dir: PathBuf,
    /// The updated metrics.json.
    pub metrics: TrialMetrics,
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

/// Test files scored by a trial, and the reconstruction sums of its normal ones.
struct ScoredFiles {
    /// (file, clip score, is an anomaly).
    scored: Vec<(PathBuf, f64, bool)>,
    sq_sum: f64,
    abs_sum: f64,
    normal_windows: usize,
}

/// Scores every test file; a file that cannot be scored joins `failures`.
fn score_files(
    detector: &Detector,
    test: &[(PathBuf, Label)],
    failures: &mut Vec<FileFailure>,
    on_file: &mut dyn FnMut(usize, usize),
) -> ScoredFiles {
    let mut out = ScoredFiles {
        scored: Vec::new(),
        sq_sum: 0.0,
        abs_sum: 0.0,
        normal_windows: 0,
    };
    for (i, (path, label)) in test.iter().enumerate() {
        on_file(i + 1, test.len());
        match detector.score_file(path) {
            Ok(d) if d.score.is_finite() => {
                // Reference detectors reconstruct nothing: their NaN sums stay out.
                if *label == Label::Normal && d.mse.is_finite() {
                    out.sq_sum += d.mse * d.windows as f64;
                    out.abs_sum += d.mae * d.windows as f64;
                    out.normal_windows += d.windows;
                }
                out.scored
                    .push((path.clone(), d.score, *label == Label::Anomaly));
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
    match data_root {
        Some(root) => data.root = root.to_path_buf(),
        // Records keep a root under the data folder relative to it.
        None => {
            let config = TrialRecord::model_dir(trial).join("config.toml");
            data.root = super::overrides::resolve_root(
                &data.root,
                &config,
                crate::datasets::data_dir_of(None).as_deref(),
            )
            .map_err(|e| EvalError::NoTest(format!("{e} (or pass --data ROOT)")))?;
        }
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
    let ScoredFiles {
        scored,
        sq_sum,
        abs_sum,
        normal_windows,
    } = score_files(&detector, &files.test, &mut failures, on_file);
    if scored.is_empty() {
        return Err(EvalError::NoTest(format!(
            "{}: none of the {} test files could be scored",
            data.root.display(),
            files.test.len()
        )));
    }
    let labelled: Vec<(f64, bool)> = scored.iter().map(|(_, s, a)| (*s, *a)).collect();
    let metrics_path = trial.join("metrics.json");
    let mut metrics = TrialMetrics::read(&metrics_path)
        .unwrap_or_else(|| TrialMetrics::new(&record.trial, record.run_id.clone(), ""));
    // The same computation as training: a max_f1 threshold's calibration clips
    // (same rule, same seed, same clip order) are left out of its figures.
    let calibration = detector
        .threshold()
        .map(|t| calibration_mask(t.rule, &labelled, record.seed))
        .unwrap_or_default();
    detection_metrics(&mut metrics, &labelled, threshold, &calibration);
    let mse = (normal_windows > 0).then(|| sq_sum / normal_windows as f64);
    metrics.mse = mse.unwrap_or(f64::NAN);
    metrics.rmse = mse.map_or(f64::NAN, f64::sqrt);
    metrics.mae = if normal_windows > 0 {
        abs_sum / normal_windows as f64
    } else {
        f64::NAN
    };
    metrics.held_out = "test/normal".into();
    metrics.windows = normal_windows;
    let pairs: Vec<(PathBuf, f64)> = scored.iter().map(|(p, s, _)| (p.clone(), *s)).collect();
    metrics.dcase =
        super::dcase_outputs::dcase_outputs(&data, trial, &pairs, threshold).map_err(|source| {
            EvalError::Io {
                path: trial.join("dcase"),
                source,
            }
        })?;
    metrics.evaluated_on = Some(super::overrides::portable_root(&data.root));
    metrics.data_root = Some(super::overrides::portable_root(&data.root));
    metrics.evaluated_files = Some(labelled.len());
    metrics.failed_files = Some(failures.len());
    let csv = report::scores_csv(
        scored
            .iter()
            .map(|(p, s, a)| (p.strip_prefix(&data.root).unwrap_or(p), *s, *a)),
        threshold,
    );
    let write = |path: PathBuf, bytes: &[u8]| {
        crate::fsx::write_atomic(&path, bytes).map_err(|source| EvalError::Io { path, source })
    };
    write(trial.join("scores.csv"), csv.as_bytes())?;
    metrics
        .write(&metrics_path)
        .map_err(|source| EvalError::Io {
            path: metrics_path.clone(),
            source,
        })?;
    report::write_report(
        trial,
        &report::ReportInput {
            title: format!("{}/{}", record.experiment.name, record.trial),
            metrics: &metrics,
            scores: &labelled,
            threshold,
        },
    )?;
    Ok(TrialEvaluation {
        dir: trial.to_path_buf(),
        metrics,
        failures,
    })
}
