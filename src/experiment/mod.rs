//! Experiment files: one TOML holding every setting of a run, parsed strictly
//! (unknown keys fail with their line) and written back, resolved, into each
//! run directory. This module drives the stages; it computes nothing itself.

mod autoencoder;
pub mod claim;
mod context;
mod dcase_outputs;
mod detect;
mod ensemble;
mod evaluate;
pub mod export;
pub mod overrides;
mod plan;
mod prepare;
pub mod provenance;
mod reference;
mod run;
mod score;
mod score_ae;
pub mod starter;
pub mod sweep;
mod trial;
pub mod trial_dir;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::eval::EvalConfig;
use crate::features::FeatureConfig;
use crate::models::ModelConfig;
use crate::train::TrainConfig;

pub use detect::{DetectError, Detector, FileDetection, Segment};
pub use ensemble::{EnsembleConfig, EnsembleMethod, EnsembleModel};
pub use evaluate::{EvalError, TrialEvaluation, evaluate_trial, trial_dirs};
pub use run::run_experiment;
pub use trial::{
    Progress, RunError, RunOptions, RunSummary, TrialMetrics, TrialPruner, TrialRecord,
};
pub use trial_dir::Reuse;

/// A whole experiment: data, features, the models to compare and how to train them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Names the run folder `runs/<name>/`.
    pub name: String,
    /// Seeds model initialisation, the split and the shuffles.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Where the audio is and how it is cut into windows.
    pub data: DataConfig,
    /// Feature extraction.
    #[serde(default)]
    pub features: FeatureConfig,
    /// The models to train on the same data, each in its own trial.
    pub model: Vec<ModelConfig>,
    /// The optimiser and the loop.
    #[serde(default)]
    pub train: TrainConfig,
    /// Clip scores and the decision threshold.
    #[serde(default)]
    pub eval: EvalConfig,
    /// Ensembles of this experiment's models, each a trial of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ensemble: Vec<EnsembleConfig>,
    /// A hyperparameter sweep over this experiment (`earshot sweep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<sweep::SweepConfig>,
}

fn default_seed() -> u64 {
    42
}

/// Why an experiment file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The file could not be read.
    #[error("cannot read experiment {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or holds an unknown key or a bad value.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong and, for a key, the allowed ones.
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Self, ExperimentError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Reads an experiment file (or a trial's resolved `config.toml`, which
    /// reruns that trial), then applies `--set` overrides and `--seed`.
    pub fn load_with(
        path: &Path,
        overrides: &[overrides::Override],
        seed: Option<u64>,
        data_dir: Option<&Path>,
    ) -> Result<Self, ExperimentError> {
        let text = crate::records::from_trial_record(&read_text(path)?);
        // Errors of the file itself keep their lines; then the overrides are checked.
        Self::parse(&text, path)?;
        let changed = overrides::apply(&text, path, overrides, seed)?;
        let mut exp = Self::parse(&changed, path)
            .map_err(|e| overrides::explain(e, &changed, overrides, seed))?;
        exp.data.root = overrides::resolve_root(&exp.data.root, path, data_dir)?;
        Ok(exp)
    }

    /// Parses experiment text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ExperimentError> {
        let mut experiment: Experiment = toml::from_str(text).map_err(|e| {
            let start = e.span().map_or(0, |s| s.start);
            let (line, column) = line_column(text, refine_offset(text, start, e.message()));
            ExperimentError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        experiment
            .validate()
            .map_err(|message| ExperimentError::Invalid {
                path: path.to_path_buf(),
                message,
            })?;
        experiment.features.max_duration_s = experiment.data.max_duration;
        for model in &mut experiment.model {
            if let crate::models::ModelConfig::Cae(cae) = model {
                cae.resolve_default_latent();
            }
        }
        Ok(experiment)
    }

    /// Checks ranges the types cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.contains(['/', '\\']) || self.name.starts_with('.') {
            return Err(format!("name {:?} must be a plain folder name", self.name));
        }
        if self.model.is_empty() {
            return Err("at least one [[model]] table is needed".into());
        }
        self.features
            .validate()
            .map_err(|e| format!("[features] {e}"))?;
        self.data.validate().map_err(|e| format!("[data] {e}"))?;
        if self.features.summary == crate::features::Summary::Clip && self.data.frames != 1 {
            return Err(format!(
                "[data] frames is {}, but [features] summary = \"clip\" makes each clip one frame: set frames = 1 and hop = 1",
                self.data.frames
            ));
        }
        self.train.validate().map_err(|e| format!("[train] {e}"))?;
        self.eval.validate().map_err(|e| format!("[eval] {e}"))?;
        let mut names = std::collections::HashSet::new();
        let model_names: Vec<String> = self.model.iter().map(|m| m.name()).collect();
        for (i, e) in self.ensemble.iter().enumerate() {
            let at = format!("[[ensemble]] #{} ({})", i + 1, e.name);
            if e.name.is_empty() || e.name.contains(['/', '\\']) || e.name.starts_with('.') {
                return Err(format!("{at}: name must be a plain folder name"));
            }
            if e.members.is_empty() {
                return Err(format!(
                    "{at}: members is empty; list trial names, e.g. members = [{:?}]",
                    model_names.first().cloned().unwrap_or_default()
                ));
            }
            if let Some(missing) = e.members.iter().find(|m| !model_names.contains(m)) {
                return Err(format!(
                    "{at}: members names {missing:?}, which is not a model of this experiment (models: {})",
                    model_names.join(", ")
                ));
            }
            if !names.insert(e.name.clone()) {
                return Err(format!("{at}: two ensembles are named {:?}", e.name));
            }
        }
        for (i, model) in self.model.iter().enumerate() {
            model
                .validate()
                .map_err(|e| format!("[[model]] #{} ({}): {e}", i + 1, model.name()))?;
            if !names.insert(model.name()) {
                return Err(format!(
                    "two models are named {:?}; give one a distinct `name = \"...\"`",
                    model.name()
                ));
            }
        }
        Ok(())
    }

    /// The resolved experiment as TOML (every default written out).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("an experiment always serialises")
    }
}

/// An experiment file's text.
pub(crate) fn read_text(path: &Path) -> Result<String, ExperimentError> {
    std::fs::read_to_string(path).map_err(|source| ExperimentError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Inside a `[[model]]` table toml points at the table, not the key (serde
/// buffers internally tagged enums): find the first line from there that holds
/// the key or value the message names in backticks.
fn refine_offset(text: &str, start: usize, message: &str) -> usize {
    let Some(token) = message.split('`').nth(1).filter(|t| !t.is_empty()) else {
        return start;
    };
    let mut offset = start.min(text.len());
    for line in text[offset..].split_inclusive('\n') {
        let trimmed = line.trim_start();
        let is_key = trimmed
            .strip_prefix(token)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        let is_value = trimmed.contains(&format!("\"{token}\""));
        if is_key || is_value {
            return offset + (line.len() - trimmed.len());
        }
        offset += line.len();
    }
    start
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
