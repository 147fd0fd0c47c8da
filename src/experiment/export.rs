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

/// Exports the trial in `run_dir` (or its `model/`) to `out`.
pub fn export_safetensors(run_dir: &Path, out: &Path) -> Result<ExportSummary, ExportError> {
    let model_dir = TrialRecord::model_dir(run_dir);
    let config_path = model_dir.join("config.toml");
    let record = TrialRecord::read(&model_dir)
        .map_err(|(path, reason)| ExportError::Trial { path, reason })?;
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
        ("kind".into(), super::run::kind_of(model_config)),
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
        kind: super::run::kind_of(model_config),
        tensors: tensors.len(),
        parameters: tensors.iter().map(|t| t.data.len()).sum(),
    })
}
