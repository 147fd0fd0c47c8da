//! Detection on new audio with a trained trial: the model, its normaliser and
//! its threshold, read back from the trial's run directory (`model/`).

mod windows;
use std::path::{Path, PathBuf};
use windows::segments;

use burn::prelude::Device;
use serde::Serialize;

use super::TrialRecord;
use super::ensemble::EnsembleModel;
use crate::data::Normalizer;
use crate::eval::{Pooling, Threshold, clip_scores};
use crate::features::{CpuExtractor, extract_file};
use crate::models::Autoencoder;
use crate::models::ae_score::{FittedScorer, ScoreMethod};
use crate::models::reference::ReferenceModel;
use crate::train;

/// A stretch of a recording whose windows all exceed the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Seconds from the start.
    pub start_s: f64,
    /// Seconds from the start.
    pub end_s: f64,
    /// The worst window error inside.
    pub score: f64,
}

/// The verdict on one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileDetection {
    /// The file.
    pub path: PathBuf,
    /// Its clip score (mean window reconstruction error).
    pub score: f64,
    /// Whether it exceeds the threshold.
    pub flagged: bool,
    /// Its length.
    pub duration_s: f64,
    /// Windows scored.
    pub windows: usize,
    /// Mean squared reconstruction error of its windows (normalised features).
    pub mse: f64,
    /// Mean absolute reconstruction error of its windows.
    pub mae: f64,
    /// Anomalous stretches (for files longer than one window).
    pub segments: Vec<Segment>,
    /// Something the user should know (e.g. padded because shorter than a window).
    pub note: Option<String>,
}

/// Why a model folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A file the model needs is missing or unreadable.
    #[error("{path}: {reason}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// What scores a trial's windows: a trained autoencoder or a fitted reference detector.
// One scorer per loaded trial: the size gap between variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Scorer {
    Autoencoder {
        model: Autoencoder,
        /// Weight of the KL term in scores (a VAE scoring by negative ELBO).
        kl_weight: f64,
        /// The scorer of `score = "mahalanobis" | "latent_gmm"` (`model/scorer.json`).
        fitted: Option<FittedScorer>,
    },
    Reference(ReferenceModel),
    /// Members (sibling trial folders) and how their scores combine.
    Ensemble {
        model: EnsembleModel,
        members: Vec<Detector>,
    },
}

/// A loaded trial, ready to score audio.
pub struct Detector {
    extractor: CpuExtractor,
    normalizer: Normalizer,
    scorer: Scorer,
    frames: usize,
    hop: usize,
    threshold: Option<Threshold>,
    device: Device,
    record: TrialRecord,
}

fn read(path: &Path, hint: &str) -> Result<String, DetectError> {
    std::fs::read_to_string(path).map_err(|e| DetectError::Model {
        path: path.to_path_buf(),
        reason: format!("{e}; {hint}"),
    })
}

/// The stored decision rule: `None` only where the trial had none (its
/// metrics record no threshold, or the model folder travels alone). A file
/// that is there but unreadable, or missing where the metrics say one was
/// fitted, is an error: detection must never be silently switched off.
fn read_threshold(model_dir: &Path) -> Result<Option<Threshold>, DetectError> {
    let path = model_dir.join("threshold.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| DetectError::Model {
            path: path.clone(),
            reason: format!(
                "unreadable ({e}); detection needs it: restore it from a copy of the run, or retrain the trial (earshot train EXPERIMENT --overwrite)"
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let metrics = model_dir.parent().map(|d| d.join("metrics.json"));
            let fitted = metrics
                .as_deref()
                .and_then(crate::records::TrialMetrics::read)
                .and_then(|m| m.threshold);
            match fitted {
                Some(value) => Err(DetectError::Model {
                    path,
                    reason: format!(
                        "missing, though metrics.json records a threshold of {value} fitted in training; \
                         restore it from a copy of the run, or retrain the trial (earshot train EXPERIMENT --overwrite)"
                    ),
                }),
                None => Ok(None),
            }
        }
        Err(e) => Err(DetectError::Model {
            path,
            reason: e.to_string(),
        }),
    }
}

impl Detector {
    /// Loads `dir` (a trial folder `runs/<experiment>/<model>` or its `model/`).
    pub fn load(dir: &Path, device: Device) -> Result<Self, DetectError> {
        // A trial folder (it has events) whose model/ is gone: say so, not a file inside it.
        if !dir.join("model").is_dir() && dir.join("events.jsonl").is_file() {
            return Err(DetectError::Model {
                path: dir.join("model"),
                reason: "missing: this trial folder has no trained model (deleted, or training never finished); \
                         train it again (earshot train EXPERIMENT --resume)"
                    .into(),
            });
        }
        let model_dir = TrialRecord::model_dir(dir);
        let config_path = model_dir.join("config.toml");
        let record = TrialRecord::read(&model_dir)
            .map_err(|(path, reason)| DetectError::Model { path, reason })?;
        if record.earshot_version != crate::VERSION {
            eprintln!(
                "note: {} was trained with earshot {}; this is {}",
                model_dir.display(),
                record.earshot_version,
                crate::VERSION
            );
        }
        let ensemble_path = model_dir.join("ensemble.json");
        let ensemble =
            if ensemble_path.is_file() {
                let model: EnsembleModel = serde_json::from_str(&read(&ensemble_path, "")?)
                    .map_err(|e| DetectError::Model {
                        path: ensemble_path.clone(),
                        reason: format!("unreadable ({e}); retrain"),
                    })?;
                // Members are siblings of the ensemble's trial folder.
                let trial_dir = model_dir.parent().unwrap_or(&model_dir);
                let siblings = trial_dir.parent().unwrap_or(trial_dir);
                let members = model
                    .members
                    .iter()
                    .map(|m| Detector::load(&siblings.join(&m.trial), device.clone()))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Scorer::Ensemble { model, members })
            } else {
                None
            };
        let norm_path = model_dir.join("normalizer.json");
        let normalizer: Normalizer = serde_json::from_str(&read(
            &norm_path,
            "the normalisation statistics are missing; retrain",
        )?)
        .map_err(|e| DetectError::Model {
            path: norm_path.clone(),
            reason: e.to_string(),
        })?;
        let model_config = record
            .experiment
            .model
            .iter()
            .find(|m| m.name() == record.trial);
        let extractor =
            CpuExtractor::new(&record.experiment.features).map_err(|e| DetectError::Model {
                path: config_path.clone(),
                reason: e.to_string(),
            })?;
        let [frames, coeffs] = record.window;
        if normalizer.mean.len() != coeffs {
            return Err(DetectError::Model {
                path: norm_path,
                reason: format!(
                    "{} coefficients, the model expects {coeffs}",
                    normalizer.mean.len()
                ),
            });
        }
        let scorer = match (ensemble, model_config) {
            (Some(ensemble), _) => ensemble,
            (None, Some(config)) if config.reference().is_some() => {
                let path = model_dir.join("reference.json");
                let text = read(&path, "the fitted detector is missing; retrain")?;
                Scorer::Reference(serde_json::from_str(&text).map_err(|e| DetectError::Model {
                    path: path.clone(),
                    reason: format!("unreadable ({e}); retrain"),
                })?)
            }
            (None, Some(config)) => {
                let weights = model_dir.join("model.bin");
                let model =
                    train::load_model(config, frames, coeffs, &weights, &device).map_err(|e| {
                        DetectError::Model {
                            path: weights,
                            reason: e.to_string(),
                        }
                    })?;
                let fitted = match config.score_method() {
                    ScoreMethod::Windows => None,
                    _ => {
                        let path = model_dir.join("scorer.json");
                        let text = read(&path, "the fitted scorer is missing; retrain")?;
                        Some(serde_json::from_str(&text).map_err(|e| DetectError::Model {
                            path: path.clone(),
                            reason: format!("unreadable ({e}); retrain"),
                        })?)
                    }
                };
                Scorer::Autoencoder {
                    model,
                    kl_weight: config.score_kl_weight(),
                    fitted,
                }
            }
            (None, None) => {
                return Err(DetectError::Model {
                    path: config_path.clone(),
                    reason: format!("no model named {}", record.trial),
                });
            }
        };
        let threshold = read_threshold(&model_dir)?;
        Ok(Self {
            extractor,
            normalizer,
            scorer,
            frames,
            hop: record.experiment.data.hop,
            threshold,
            device,
            record,
        })
    }

    /// The trial's resolved experiment (data, features, models).
    pub fn record(&self) -> &TrialRecord {
        &self.record
    }

    /// The stored threshold, if training had validation data.
    pub fn threshold(&self) -> Option<&Threshold> {
        self.threshold.as_ref()
    }

    /// Scores one file (resampled to the model's rate as it streams).
    pub fn score_file(&self, path: &Path) -> Result<FileDetection, String> {
        if let Scorer::Ensemble { model, members } = &self.scorer {
            return self.score_ensemble(model, members, path);
        }
        let extracted = extract_file(path, &self.extractor, None)?;
        let mut features = self.extractor.config().finish(extracted.features);
        self.normalizer.apply(&mut features.data);
        let config = self.extractor.config();
        let frame_s = config.hop_length as f64 / config.sample_rate as f64;
        let duration_s = extracted
            .source
            .and_then(|s| s.frames.map(|f| f as f64 / s.sample_rate as f64));
        let duration_s = duration_s.unwrap_or(features.frames as f64 * frame_s);
        let is_reference = matches!(self.scorer, Scorer::Reference(_));
        let short = (features.frames < self.frames && !is_reference).then(|| {
            format!(
                "shorter than one window ({} of {} frames): repeated to fill it",
                features.frames, self.frames
            )
        });
        let resampled = extracted.source.filter(|_| extracted.resampled).map(|s| {
            format!(
                "resampled from {} Hz to the model's {} Hz",
                s.sample_rate, config.sample_rate
            )
        });
        let note = match (short.clone(), resampled) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        let (errors, mse, mae, span) = match &self.scorer {
            Scorer::Autoencoder {
                model,
                kl_weight,
                fitted,
            } => {
                // A window scorer reads the residuals, which also give the
                // errors: one pass over the windows either way.
                let (scores, window_errors, span) = match fitted {
                    Some(f) if !f.per_clip() => {
                        let (scores, errors) = self.fitted_window_scores(model, f, &features);
                        (scores, errors, Some((self.frames, self.hop)))
                    }
                    Some(f) => (
                        self.clip_score(model, f, &features),
                        self.window_errors(model, &features),
                        None,
                    ),
                    None => {
                        let errors = self.window_errors(model, &features);
                        (
                            errors.scores(*kl_weight),
                            errors,
                            Some((self.frames, self.hop)),
                        )
                    }
                };
                (
                    scores,
                    train::mean(&window_errors.squared),
                    train::mean(&window_errors.absolute),
                    span,
                )
            }
            Scorer::Reference(r) => (r.score(&features), f64::NAN, f64::NAN, r.unit_span()),
            Scorer::Ensemble { .. } => unreachable!("ensembles are scored above"),
        };
        let clip_of = vec![0; errors.len()];
        let pooling = self
            .threshold
            .as_ref()
            .map_or(Pooling::MEAN, Threshold::pooling);
        let score = clip_scores(&errors, &clip_of, 1, pooling)[0].unwrap_or(f64::NAN);
        let flagged = self.threshold.as_ref().is_some_and(|t| score > t.value);
        let segments = match (&self.threshold, short.is_none(), span) {
            (Some(t), true, Some(span)) => segments(&errors, t.value, frame_s, span),
            _ => Vec::new(),
        };
        Ok(FileDetection {
            path: path.to_path_buf(),
            score,
            flagged,
            duration_s,
            windows: errors.len(),
            mse,
            mae,
            segments,
            note,
        })
    }

    /// Every member's verdict, combined on the members' common scale.
    fn score_ensemble(
        &self,
        model: &EnsembleModel,
        members: &[Detector],
        path: &Path,
    ) -> Result<FileDetection, String> {
        let verdicts = members
            .iter()
            .map(|m| m.score_file(path))
            .collect::<Result<Vec<_>, _>>()?;
        let scores: Vec<f64> = verdicts.iter().map(|v| v.score).collect();
        let score = model.combine(&scores);
        let first = &verdicts[0];
        Ok(FileDetection {
            path: path.to_path_buf(),
            score,
            flagged: self.threshold.as_ref().is_some_and(|t| score > t.value),
            duration_s: first.duration_s,
            windows: 1,
            mse: f64::NAN,
            mae: f64::NAN,
            segments: Vec::new(),
            note: first.note.clone(),
        })
    }

    /// Scores windows `hop` frames apart instead of the training hop: fewer
    /// windows, faster, coarser segments (the threshold was fitted at the training hop).
    pub fn with_hop(mut self, hop: usize) -> Self {
        self.hop = hop.max(1);
        self
    }
}
