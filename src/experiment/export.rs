//! A trained autoencoder as a safetensors file: every float tensor of the
//! burn module under its module path, and in the metadata what a user needs
//! to score with it elsewhere (model settings, features, window, normaliser,
//! clip scoring, threshold). `docs/pytorch_models.py` rebuilds each kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

use super::TrialRecord;
use crate::safetensors::{NamedTensor, serialize};

/// What was exported.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// The model kind.
    pub kind: String,
    /// Tensors written.
    pub tensors: usize,
    /// Values in them.
    pub parameters: usize,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file of the trial is missing or unreadable.
    #[error("{path}: {reason}")]
    Trial {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Writing the output failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Collects float tensors with their module path.
struct Collector {
    path: Vec<String>,
    tensors: Vec<NamedTensor>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        // The zoo's enum is a choice of model, not a level of the model.
        if container_type != "Enum:Autoencoder" {
            self.path.push(name.to_string());
        }
    }
    fn exit_module(&mut self, _name: &str, container_type: &str) {
        if container_type != "Enum:Autoencoder" {
            self.path.pop();
        }
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let data = tensor
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("f32 after convert");
        self.tensors.push(NamedTensor {
            name: self.path.join("."),
            shape,
            data,
        });
    }
}

/// The named tensors of `model`.
pub fn named_tensors<M: Module>(model: &M) -> Vec<NamedTensor> {
    let mut collector = Collector {
        path: Vec::new(),
        tensors: Vec::new(),
    };
    model.visit(&mut collector);
    collector.tensors
}

/// How the trial's run ended, for the export's metadata: `done`, `stopped`,
/// `failed` or `unfinished`. Failed and unfinished runs are refused unless
/// `allow_unfinished` (their weights are whatever the last checkpoint held).
fn run_status(trial_dir: &Path, allow_unfinished: bool) -> Result<String, ExportError> {
    use crate::records::{EventRecord, TrialStatus};
    let (word, reason) = match EventRecord::final_status(trial_dir) {
        Some((TrialStatus::Failed, reason)) => ("failed", reason),
        Some((status, _)) => return Ok(status.word().to_string()),
        None => ("unfinished", None),
    };
    if allow_unfinished {
        return Ok(word.to_string());
    }
    Err(ExportError::Trial {
        path: trial_dir.join("events.jsonl"),
        reason: format!(
            "the trial's run is {word}{}; its weights are not a finished model. \
             Train it to the end, or pass --allow-unfinished (the export then records status = {word:?})",
            reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ),
    })
}

/// Refuses an output inside the trial folder other than the export's own
/// default file: a path there could replace the trial's model or records.
fn refuse_inside_trial(trial_dir: &Path, out: &Path) -> Result<(), ExportError> {
    let resolve = |p: &Path| -> PathBuf {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // The deepest existing ancestor is canonicalised (links resolved), the rest appended.
        let mut head = absolute.clone();
        let mut tail = Vec::new();
        while !head.exists() {
            match (head.file_name().map(|n| n.to_owned()), head.parent()) {
                (Some(name), Some(parent)) => {
                    tail.push(name);
                    head = parent.to_path_buf();
                }
                _ => break,
            }
        }
        let mut resolved = head.canonicalize().unwrap_or(head);
        resolved.extend(tail.iter().rev());
        resolved
    };
    let (trial, target) = (resolve(trial_dir), resolve(out));
    let own = trial.join("model").join(DEFAULT_EXPORT);
    if target.starts_with(&trial) && target != own {
        return Err(ExportError::Write {
            path: out.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "is inside the trial folder {}, whose files are the trial's own; write the export elsewhere \
                     (or leave out --out for model/{DEFAULT_EXPORT})",
                    trial_dir.display()
                ),
            ),
        });
    }
    Ok(())
}

/// The file name an export gets in the trial's `model/` when no output is given.
pub const DEFAULT_EXPORT: &str = "model.safetensors";

/// Exports the trial in `run_dir` (or its `model/`) to `out`.
pub fn export_safetensors(
    run_dir: &Path,
    out: &Path,
    allow_unfinished: bool,
) -> Result<ExportSummary, ExportError> {
    let model_dir = TrialRecord::model_dir(run_dir);
    let config_path = model_dir.join("config.toml");
    let trial_dir = if model_dir.file_name().is_some_and(|n| n == "model") {
        model_dir.parent().unwrap_or(&model_dir).to_path_buf()
    } else {
        model_dir.clone()
    };
    refuse_inside_trial(&trial_dir, out)?;
    let record = TrialRecord::read(&model_dir)
        .map_err(|(path, reason)| ExportError::Trial { path, reason })?;
    let status = run_status(&trial_dir, allow_unfinished)?;
    let trial_err = |reason: String| ExportError::Trial {
        path: config_path.clone(),
        reason,
    };
    let model_config = record
        .experiment
        .model
        .iter()
        .find(|m| m.name() == record.trial)
        .ok_or_else(|| trial_err(format!("no model named {}", record.trial)))?;
    if model_config.reference().is_some() {
        return Err(trial_err(format!(
            "{} is a fitted reference detector, not a network: its model is model/reference.json",
            record.trial
        )));
    }
    let [frames, coeffs] = record.window;
    let weights = model_dir.join("model.bin");
    let model = crate::train::load_model(model_config, frames, coeffs, &weights, &Device::flex())
        .map_err(|e| ExportError::Trial {
        path: weights.clone(),
        reason: e.to_string(),
    })?;
    let tensors = named_tensors(&model);
    let json = |v: serde_json::Value| v.to_string();
    let mut metadata = BTreeMap::from([
        ("format".to_string(), "earshot".to_string()),
        ("earshot_version".into(), crate::VERSION.into()),
        ("trial".into(), record.trial.clone()),
        ("status".into(), status),
        ("kind".into(), model_config.kind().to_string()),
        (
            "model".into(),
            json(serde_json::to_value(model_config).expect("json")),
        ),
        (
            "features".into(),
            json(serde_json::to_value(&record.experiment.features).expect("json")),
        ),
        (
            "window".into(),
            json(
                serde_json::json!({"frames": frames, "coeffs": coeffs, "hop": record.experiment.data.hop}),
            ),
        ),
        (
            "eval".into(),
            json(serde_json::to_value(record.experiment.eval).expect("json")),
        ),
        (
            "score_kl_weight".into(),
            model_config.score_kl_weight().to_string(),
        ),
    ]);
    for (key, file) in [
        ("normalizer", "normalizer.json"),
        ("threshold", "threshold.json"),
    ] {
        // A threshold may be absent (no validation clips); the normaliser may not.
        match std::fs::read_to_string(model_dir.join(file)) {
            Ok(text) => {
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| ExportError::Trial {
                        path: model_dir.join(file),
                        reason: format!("unreadable ({e}); retrain"),
                    })?;
                metadata.insert(key.to_string(), json(value));
            }
            Err(e) if key == "normalizer" => {
                return Err(ExportError::Trial {
                    path: model_dir.join(file),
                    reason: format!("{e}; the normalisation statistics are missing; retrain"),
                });
            }
            Err(_) => {}
        }
    }
    let bytes = serialize(&tensors, &metadata);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ExportError::Write {
            path: out.to_path_buf(),
            source,
        })?;
    }
    crate::fsx::write_atomic(out, &bytes).map_err(|source| ExportError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(ExportSummary {
        kind: model_config.kind().to_string(),
        tensors: tensors.len(),
        parameters: tensors.iter().map(|t| t.data.len()).sum(),
    })
}
