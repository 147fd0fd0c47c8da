//! `[sweep]` of an experiment file, with the keys of wandb sweeps: `method`,
//! `metric = { name, goal }`, `run_cap`, `early_terminate`, and
//! `[sweep.parameters]` addressing experiment keys by dotted path.

use serde::{Deserialize, Serialize};

/// Grid (every combination) or random (run_cap draws).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepMethod {
    /// Every combination of `values`, in order.
    Grid,
    /// `run_cap` seeded draws.
    Random,
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    /// Higher is better (auc, pauc, f1).
    Maximize,
    /// Lower is better (mse, valid_loss).
    Minimize,
}

/// The metric trials are ranked by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepMetric {
    /// A key of metrics.json (`auc`, `pauc`, `mse`, `f1`, ...) or `valid_loss`.
    pub name: String,
    /// Which way is better.
    pub goal: Goal,
}

/// Early termination: the median stopping rule on validation loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyTerminate {
    /// Only `"median"`: stop a trial whose best validation loss at epoch k is
    /// worse than the median of the finished trials' at epoch k.
    #[serde(rename = "type")]
    pub kind: EarlyKind,
    /// First epoch the rule is applied at.
    #[serde(default = "default_min_iter")]
    pub min_iter: usize,
    /// Finished trials needed before the rule stops anything.
    #[serde(default = "default_min_trials")]
    pub min_trials: usize,
}

/// The early-termination rules there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EarlyKind {
    /// Median stopping.
    Median,
}

fn default_min_iter() -> usize {
    3
}
fn default_min_trials() -> usize {
    2
}

/// The `[sweep]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Grid or random.
    pub method: SweepMethod,
    /// What ranks trials.
    pub metric: SweepMetric,
    /// At most this many trials (required for random).
    #[serde(default)]
    pub run_cap: Option<usize>,
    /// Stop unpromising trials early.
    #[serde(default)]
    pub early_terminate: Option<EarlyTerminate>,
    /// Dotted experiment key to `{ values = [...] }` or `{ min, max, distribution }`.
    pub parameters: toml::Table,
}

/// How a range is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Uniform between min and max.
    Uniform,
    /// Uniform in log space between the values min and max (min > 0): wandb's
    /// `log_uniform_values`. (wandb's `log_uniform` takes exponents; earshot
    /// refuses that name rather than guess which is meant.)
    LogUniformValues,
    /// An integer in min..=max.
    IntUniform,
    /// Uniform, rounded to a multiple of `q` (default 1), as wandb's `q_uniform`.
    QUniform,
}

/// One swept parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamSpec {
    /// Listed values.
    Values(Vec<toml::Value>),
    /// A range.
    Range {
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
        /// How it is drawn.
        distribution: Distribution,
        /// The step of `q_uniform`.
        q: f64,
    },
}

/// Flattens `[sweep.parameters]` (quoted dotted keys or nested tables) into
/// (dotted path, spec), sorted by path.
pub fn flatten_parameters(table: &toml::Table) -> Result<Vec<(String, ParamSpec)>, String> {
    fn walk(
        prefix: &str,
        table: &toml::Table,
        out: &mut Vec<(String, ParamSpec)>,
    ) -> Result<(), String> {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let Some(inner) = value.as_table() else {
                return Err(format!(
                    "sweep parameter `{path}` must be a table like {{ values = [...] }} or {{ min = .., max = .., distribution = \"uniform\" }}"
                ));
            };
            let is_spec = ["values", "min", "max", "distribution"]
                .iter()
                .any(|k| inner.contains_key(*k));
            if is_spec {
                out.push((path.clone(), spec(&path, inner)?));
            } else {
                walk(&path, inner, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk("", table, &mut out)?;
    if out.is_empty() {
        return Err("[sweep.parameters] is empty: name at least one key to sweep".into());
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn spec(path: &str, t: &toml::Table) -> Result<ParamSpec, String> {
    for key in t.keys() {
        if !["values", "min", "max", "distribution", "q"].contains(&key.as_str()) {
            return Err(format!(
                "sweep parameter `{path}`: unknown key `{key}` (allowed: values, min, max, distribution, q)"
            ));
        }
    }
    if let Some(values) = t.get("values") {
        let values = values.as_array().filter(|v| !v.is_empty()).ok_or_else(|| {
            format!("sweep parameter `{path}`: `values` must be a non-empty list")
        })?;
        return Ok(ParamSpec::Values(values.clone()));
    }
    let num = |k: &str| {
        t.get(k)
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
            .ok_or_else(|| {
                format!("sweep parameter `{path}`: `{k}` (a number) is needed with a range")
            })
    };
    let (min, max) = (num("min")?, num("max")?);
    let distribution: Distribution = match t.get("distribution") {
        None => Distribution::Uniform,
        Some(v) if v.as_str() == Some("log_uniform") => {
            return Err(format!(
                "sweep parameter `{path}`: in wandb `log_uniform` takes exponents (values e^min..e^max); for min and max given as values write distribution = \"log_uniform_values\""
            ));
        }
        Some(v) => v.clone().try_into().map_err(|_| {
            format!("sweep parameter `{path}`: distribution must be \"uniform\", \"log_uniform_values\", \"int_uniform\" or \"q_uniform\"")
        })?,
    };
    let q = match t.get("q") {
        None => 1.0,
        Some(v) => v
            .as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .filter(|q| *q > 0.0)
            .ok_or_else(|| format!("sweep parameter `{path}`: q must be a number > 0"))?,
    };
    if min.is_nan() || max.is_nan() || min > max {
        return Err(format!("sweep parameter `{path}`: min {min} > max {max}"));
    }
    if distribution == Distribution::LogUniformValues && min <= 0.0 {
        return Err(format!(
            "sweep parameter `{path}`: log_uniform_values needs min > 0"
        ));
    }
    if distribution == Distribution::IntUniform && (min.fract() != 0.0 || max.fract() != 0.0) {
        return Err(format!(
            "sweep parameter `{path}`: int_uniform needs whole-number min and max"
        ));
    }
    Ok(ParamSpec::Range {
        min,
        max,
        distribution,
        q,
    })
}
