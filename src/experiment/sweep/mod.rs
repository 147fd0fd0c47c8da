//! Hyperparameter sweeps: an experiment's `[sweep]` expanded into trials
//! (grid or seeded random), each an experiment of its own written into
//! `runs/<experiment>/<model>-tNNN/`; run N at a time, sharded over machines
//! by `--shard i/N`, claimed with lock files, resumed on re-run, stopped early
//! by the median rule, and ranked in a leaderboard.

mod config;
pub mod leaderboard;
mod runner;

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub use super::claim::{Claim, ClaimError, STALE_AFTER};
pub use config::{
    Distribution, EarlyKind, EarlyTerminate, Goal, ParamSpec, SweepConfig, SweepMethod,
    SweepMetric, flatten_parameters,
};
pub use runner::{Shard, SweepOptions, SweepOutcome, run_sweep};

use crate::experiment::overrides::set_path;
use crate::experiment::{Experiment, ExperimentError};

/// How errors name a swept key.
const NOUN: &str = "sweep parameter";

/// One expanded trial: its index, name and parameter values.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepTrial {
    /// 0-based index in the expansion.
    pub index: usize,
    /// `tNNN`.
    pub id: String,
    /// (dotted path, value).
    pub params: Vec<(String, toml::Value)>,
}

/// A sweep ready to run: the base experiment text and its trials.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The experiment file.
    pub path: PathBuf,
    /// The experiment (with `[sweep]`).
    pub base: Experiment,
    /// The parsed `[sweep]`.
    pub config: SweepConfig,
    /// Every trial, in order.
    pub trials: Vec<SweepTrial>,
    table: toml::Table,
}

fn invalid(path: &Path, text: &str, key: &str, message: String) -> ExperimentError {
    // The line of the parameter after the [sweep] header, else of the header.
    let last = key.rsplit('.').next().unwrap_or(key);
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("[sweep"));
    let line = header
        .and_then(|h| {
            lines[h..]
                .iter()
                .position(|l| {
                    let t = l.trim_start();
                    t.starts_with(&format!("\"{key}\""))
                        || t.starts_with(key)
                        || t.starts_with(&format!("{last} ="))
                })
                .map(|i| h + i)
        })
        .or(header)
        .map_or(1, |i| i + 1);
    ExperimentError::Parse {
        path: path.to_path_buf(),
        line,
        column: 1,
        message,
    }
}

impl Sweep {
    /// Reads an experiment file with a `[sweep]` table and expands its trials;
    /// invalid paths and values fail here with their line.
    pub fn load(path: &Path) -> Result<Self, ExperimentError> {
        Self::load_with(path, &[], None, None)
    }

    /// [`Sweep::load`] with `--set` overrides and `--seed` applied to the base experiment.
    pub fn load_with(
        path: &Path,
        overrides: &[super::overrides::Override],
        seed: Option<u64>,
        data_dir: Option<&Path>,
    ) -> Result<Self, ExperimentError> {
        let text = super::read_text(path)?;
        Experiment::parse(&text, path)?;
        let text = super::overrides::apply(&text, path, overrides, seed)?;
        let mut base = Experiment::parse(&text, path)
            .map_err(|e| super::overrides::explain(e, &text, overrides, seed))?;
        base.data.root = super::overrides::resolve_root(&base.data.root, path, data_dir)?;
        let Some(config) = base.sweep.clone() else {
            return Err(ExperimentError::Invalid {
                path: path.to_path_buf(),
                message: "no [sweep] table: add one (method, metric, [sweep.parameters]) or use `earshot train`".into(),
            });
        };
        let mut table: toml::Table = toml::from_str(&text).expect("parsed above");
        // Trials are parsed from this table: they get the resolved root too.
        let root = toml::Value::String(base.data.root.display().to_string());
        set_path(&mut table, "data.root", &root, NOUN).expect("data is a section");
        let params =
            flatten_parameters(&config.parameters).map_err(|m| invalid(path, &text, "sweep", m))?;
        // Every value (or range end) must make a valid experiment on its own.
        for (key, spec) in &params {
            let probes: Vec<toml::Value> = match spec {
                ParamSpec::Values(v) => v.clone(),
                ParamSpec::Range {
                    min,
                    max,
                    distribution,
                    ..
                } => [*min, *max]
                    .iter()
                    .map(|&x| range_value(x, *distribution))
                    .collect(),
            };
            for value in probes {
                let mut t = table.clone();
                set_path(&mut t, key, &value, NOUN).map_err(|m| invalid(path, &text, key, m))?;
                t.remove("sweep");
                let probe_text = toml::to_string(&t).expect("tables serialise");
                Experiment::parse(&probe_text, path).map_err(|e| {
                    let detail = match e {
                        ExperimentError::Parse { message, .. }
                        | ExperimentError::Invalid { message, .. } => message,
                        other => other.to_string(),
                    };
                    invalid(
                        path,
                        &text,
                        key,
                        format!("sweep parameter `{key}` = {value}: {detail}"),
                    )
                })?;
            }
        }
        let trials =
            expand(&config, &params, base.seed).map_err(|m| invalid(path, &text, "sweep", m))?;
        Ok(Self {
            path: path.to_path_buf(),
            base,
            config,
            trials,
            table,
        })
    }

    /// The experiment of one trial: parameters applied, `[sweep]` removed,
    /// every model renamed `<model>-tNNN`. A bad combination is an error for that trial only.
    pub fn trial_experiment(&self, trial: &SweepTrial) -> Result<Experiment, String> {
        let mut t = self.table.clone();
        t.remove("sweep");
        // model.kind first: a new kind starts its model tables afresh.
        let mut params = trial.params.clone();
        params.sort_by_key(|(k, _)| k != "model.kind");
        for (key, value) in &params {
            set_path(&mut t, key, value, NOUN)?;
        }
        let text = toml::to_string(&t).expect("tables serialise");
        let mut exp = Experiment::parse(&text, &self.path).map_err(|e| match e {
            ExperimentError::Parse { message, .. } | ExperimentError::Invalid { message, .. } => {
                message
            }
            other => other.to_string(),
        })?;
        for model in &mut exp.model {
            model.set_name(format!("{}-{}", model.name(), trial.id));
        }
        Ok(exp)
    }

    /// The trial folders of `trial` under `runs_dir`.
    pub fn trial_dirs(&self, runs_dir: &Path, trial: &SweepTrial) -> Vec<PathBuf> {
        let exp_dir = runs_dir.join(&self.base.name);
        match self.trial_experiment(trial) {
            Ok(exp) => exp.model.iter().map(|m| exp_dir.join(m.name())).collect(),
            Err(_) => vec![exp_dir.join(format!("invalid-{}", trial.id))],
        }
    }
}

fn range_value(x: f64, distribution: Distribution) -> toml::Value {
    match distribution {
        Distribution::IntUniform => toml::Value::Integer(x.round() as i64),
        _ => toml::Value::Float(x),
    }
}

/// Grid: every combination, last parameter fastest; random: `run_cap` seeded draws.
fn expand(
    config: &SweepConfig,
    params: &[(String, ParamSpec)],
    seed: u64,
) -> Result<Vec<SweepTrial>, String> {
    let mut combos: Vec<Vec<(String, toml::Value)>> = Vec::new();
    match config.method {
        SweepMethod::Grid => {
            combos.push(Vec::new());
            for (key, spec) in params {
                let ParamSpec::Values(values) = spec else {
                    return Err(format!(
                        "method = \"grid\" needs `values` for every parameter; `{key}` is a range (use method = \"random\")"
                    ));
                };
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        values.iter().map(move |v| {
                            let mut c = c.clone();
                            c.push((key.clone(), v.clone()));
                            c
                        })
                    })
                    .collect();
            }
            if let Some(cap) = config.run_cap {
                combos.truncate(cap);
            }
        }
        SweepMethod::Random => {
            let cap = config
                .run_cap
                .ok_or("method = \"random\" needs run_cap (how many trials to draw)")?;
            let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED_5EED);
            for _ in 0..cap {
                let combo = params
                    .iter()
                    .map(|(key, spec)| {
                        let v = match spec {
                            ParamSpec::Values(values) => {
                                values[rng.random_range(0..values.len())].clone()
                            }
                            ParamSpec::Range {
                                min,
                                max,
                                distribution,
                                q,
                            } => {
                                let u: f64 = rng.random();
                                match distribution {
                                    Distribution::Uniform => {
                                        toml::Value::Float(min + u * (max - min))
                                    }
                                    Distribution::QUniform => toml::Value::Float(
                                        ((min + u * (max - min)) / q).round() * q,
                                    ),
                                    Distribution::LogUniformValues => toml::Value::Float(
                                        (min.ln() + u * (max.ln() - min.ln())).exp(),
                                    ),
                                    Distribution::IntUniform => toml::Value::Integer(
                                        rng.random_range(*min as i64..=*max as i64),
                                    ),
                                }
                            }
                        };
                        (key.clone(), v)
                    })
                    .collect();
                combos.push(combo);
            }
        }
    }
    if combos.is_empty() {
        return Err("the sweep expands to no trial (run_cap = 0?)".into());
    }
    Ok(combos
        .into_iter()
        .enumerate()
        .map(|(index, params)| SweepTrial {
            index,
            id: format!("t{index:03}"),
            params,
        })
        .collect())
}
