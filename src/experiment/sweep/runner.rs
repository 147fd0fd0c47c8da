//! Running a sweep: this shard's trials, `parallel` at a time, each claimed,
//! skipped when finished, resumed when interrupted; the median rule stops
//! trials early; the leaderboard is rewritten at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::prelude::Device;

use super::leaderboard::{self, Row};
use super::{EarlyTerminate, Sweep, SweepTrial};
use crate::eval::percentile;
use crate::experiment::claim::{self, Claim, ClaimError};
use crate::experiment::{Progress, RunOptions, TrialPruner, run_experiment};
use crate::features::cache::FeatureCache;
use crate::records::{SweepMarker, TrialMetrics};

/// `--shard i/N`: this process takes trials whose index is i modulo N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "--shard {s:?}: expected i/N with 0 <= i < N, e.g. 0/4 (Slurm: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

/// How a sweep runs.
pub struct SweepOptions {
    /// Parent of the experiment's run folder.
    pub runs_dir: PathBuf,
    /// Where to train, with each device in words: parallel trials take them
    /// round robin (worker `w` trains on `devices[w % len]`).
    pub devices: Vec<(Device, String)>,
    /// Feature cache (shared by trials: features are computed once).
    pub cache: Option<FeatureCache>,
    /// Trials at once in this process.
    pub parallel: usize,
    /// Features with the WGSL kernels (training on wgpu).
    pub gpu_features: bool,
    /// This process's share.
    pub shard: Shard,
    /// A trial locked by another host whose heartbeat (one per epoch) is older
    /// than this is taken over.
    pub stale_after: std::time::Duration,
    /// Retrain a finished trial whose resolved config changed since it ran
    /// (its old folders are moved aside); without it such a trial is refused.
    pub rerun_changed: bool,
}

/// What this process did.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// Trials trained (or resumed) here.
    pub ran: Vec<String>,
    /// Trials already finished, skipped.
    pub finished_before: usize,
    /// Trials another process holds, skipped.
    pub held_elsewhere: Vec<String>,
    /// Finished trials whose config changed since, refused (no `--rerun-changed`).
    pub changed: Vec<String>,
    /// Trial folders that failed in this process's runs.
    pub failed: Vec<String>,
    /// The leaderboard after this run, best first.
    pub rows: Vec<Row>,
    /// leaderboard.csv and leaderboard.md.
    pub files: (PathBuf, PathBuf),
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A run folder could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A lock file could not be written.
    #[error(transparent)]
    Claim(#[from] ClaimError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn finished(dirs: &[PathBuf]) -> bool {
    dirs.iter().all(|d| d.join("metrics.json").is_file())
}

/// Best validation loss so far at each epoch, from an events.jsonl.
fn best_so_far(events: &Path) -> Vec<f64> {
    let (_, valid) = crate::report::loss_curves(events);
    let mut best = f64::INFINITY;
    valid
        .iter()
        .map(|&(_, v)| {
            best = best.min(v);
            best
        })
        .collect()
}

/// The median stopping rule over the finished trials of `exp_dir`. A finished
/// trial's curve no longer changes, so each is read once, not at every epoch.
fn median_rule(exp_dir: PathBuf, rule: EarlyTerminate) -> Arc<TrialPruner> {
    let curves = std::sync::Mutex::new(std::collections::HashMap::<PathBuf, Vec<f64>>::new());
    Arc::new(move |trial: &str, epoch: usize, best: f64| {
        if epoch < rule.min_iter {
            return None;
        }
        let entries = std::fs::read_dir(&exp_dir).ok()?;
        let mut curves = curves.lock().expect("curves lock");
        let peers: Vec<f64> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|d| d.file_name().is_some_and(|n| n != trial))
            .filter(|d| !crate::fsx::is_set_aside(d))
            .filter(|d| d.join("sweep.json").is_file() && d.join("metrics.json").is_file())
            .filter_map(|d| {
                let curve = curves
                    .entry(d.clone())
                    .or_insert_with(|| best_so_far(&d.join("events.jsonl")));
                curve.get(epoch - 1).copied()
            })
            .collect();
        if peers.len() < rule.min_trials {
            return None;
        }
        let median = percentile(&peers, 50.0)?;
        (best > median).then(|| {
            format!(
                "median rule: best validation loss {best:.5} at epoch {epoch} is worse than the median {median:.5} of {} finished trials",
                peers.len()
            )
        })
    })
}

/// Runs this shard's trials of `sweep`, `log` receiving one line per event.
pub fn run_sweep(
    sweep: &Sweep,
    opts: &SweepOptions,
    log: &(dyn Fn(String) + Sync),
) -> Result<SweepOutcome, SweepError> {
    let exp_dir = opts.runs_dir.join(&sweep.base.name);
    std::fs::create_dir_all(&exp_dir).map_err(io(&exp_dir))?;
    let mine: Vec<&SweepTrial> = sweep
        .trials
        .iter()
        .filter(|t| t.index % opts.shard.count == opts.shard.index)
        .collect();
    let pruner = sweep
        .config
        .early_terminate
        .clone()
        .map(|rule| median_rule(exp_dir.clone(), rule));
    let next = AtomicUsize::new(0);
    let finished_before = AtomicUsize::new(0);
    let ran = std::sync::Mutex::new(Vec::new());
    let held = std::sync::Mutex::new(Vec::new());
    let changed = std::sync::Mutex::new(Vec::new());
    let first_error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for worker in 0..opts.parallel.max(1) {
            let (next, mine, exp_dir, pruner) = (&next, &mine, &exp_dir, &pruner);
            let (finished_before, held, changed, ran, first_error) =
                (&finished_before, &held, &changed, &ran, &first_error);
            scope.spawn(move || {
                let device = &opts.devices[worker % opts.devices.len()];
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(trial) = mine.get(i) else { break };
                    match run_one(sweep, trial, exp_dir, opts, device, pruner.clone(), log) {
                        Ok(TrialFate::Finished) => {
                            finished_before.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(TrialFate::Held(by)) => {
                            log(format!("{}: held by {by}; skipped", trial.id));
                            held.lock().expect("lock").push(trial.id.clone());
                        }
                        Ok(TrialFate::Changed(why)) => {
                            log(format!("{}: {why}", trial.id));
                            changed.lock().expect("lock").push(trial.id.clone());
                        }
                        Ok(TrialFate::Ran) => ran.lock().expect("lock").push(trial.id.clone()),
                        Err(e) => {
                            log(format!("{}: {e}", trial.id));
                            first_error.lock().expect("lock").get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("lock") {
        return Err(e);
    }
    let rows = leaderboard::collect(&exp_dir, &sweep.config.metric);
    let files = leaderboard::write(&exp_dir, &sweep.config.metric, &rows).map_err(io(&exp_dir))?;
    let mut ran = ran.into_inner().expect("lock");
    ran.sort();
    let failed = rows
        .iter()
        .filter(|r| r.status == "failed" && ran.contains(&r.trial))
        .map(|r| r.folder.clone())
        .collect();
    Ok(SweepOutcome {
        ran,
        finished_before: finished_before.into_inner(),
        held_elsewhere: held.into_inner().expect("lock"),
        changed: changed.into_inner().expect("lock"),
        failed,
        rows,
        files,
    })
}

enum TrialFate {
    Finished,
    Held(String),
    /// Finished under another config; the reason says what to do.
    Changed(String),
    Ran,
}

/// A short fingerprint of a trial's resolved experiment (FNV-1a over its TOML):
/// equal configs give equal hashes on every machine and release of earshot
/// that writes the same TOML.
pub fn config_hash(exp: &crate::experiment::Experiment) -> String {
    let text = toml::to_string(exp).expect("experiments serialise");
    format!("{:016x}", crate::fsx::fnv1a(text.as_bytes()))
}

/// The config hash a finished trial recorded in its sweep.json, if any.
fn recorded_hash(dirs: &[PathBuf]) -> Option<String> {
    SweepMarker::read(&dirs.first()?.join("sweep.json"))?.config_hash
}

/// For a finished trial: whether it stands, is refused (config changed) or,
/// with `rerun_changed`, moved aside to be trained again.
fn finished_fate(
    dirs: &[PathBuf],
    hash: &str,
    rerun_changed: bool,
) -> Result<Option<TrialFate>, SweepError> {
    match recorded_hash(dirs) {
        // Trials written before hashes were recorded are taken as they are.
        None => Ok(Some(TrialFate::Finished)),
        Some(old) if old == hash => Ok(Some(TrialFate::Finished)),
        Some(old) if !rerun_changed => Ok(Some(TrialFate::Changed(format!(
            "finished under another config (hash {old}, now {hash}); refused: pass --rerun-changed to retrain it (the old run is moved aside), or use another --runs-dir"
        )))),
        Some(_) => {
            for d in dirs.iter().filter(|d| d.exists()) {
                crate::experiment::trial_dir::move_aside(d).map_err(|e| SweepError::Io {
                    path: d.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            }
            Ok(None)
        }
    }
}

/// `sweep.json` in each of the trial's folders: which sweep trial, its
/// parameters and the hash of its resolved config.
fn write_markers(
    sweep: &Sweep,
    trial: &SweepTrial,
    dirs: &[PathBuf],
    hash: &str,
) -> Result<(), SweepError> {
    let params = trial
        .params
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    let marker = SweepMarker {
        schema_version: crate::records::SCHEMA_VERSION,
        sweep: sweep.base.name.clone(),
        trial: trial.id.clone(),
        index: trial.index,
        params,
        config_hash: Some(hash.to_string()),
    };
    for d in dirs {
        std::fs::create_dir_all(d).map_err(io(d))?;
        let path = d.join("sweep.json");
        marker.write(&path).map_err(io(&path))?;
    }
    Ok(())
}

/// A failed trial's metrics.json in each of `dirs`.
fn mark_failed(dirs: &[PathBuf], trial: &str, reason: &str) -> Result<(), SweepError> {
    for d in dirs {
        let path = d.join("metrics.json");
        TrialMetrics::failed(trial, reason.to_string())
            .write(&path)
            .map_err(io(&path))?;
    }
    Ok(())
}

fn run_one(
    sweep: &Sweep,
    trial: &SweepTrial,
    exp_dir: &Path,
    opts: &SweepOptions,
    (device, device_name): &(Device, String),
    pruner: Option<Arc<TrialPruner>>,
    log: &(dyn Fn(String) + Sync),
) -> Result<TrialFate, SweepError> {
    let dirs = sweep.trial_dirs(&opts.runs_dir, trial);
    let resolved = sweep.trial_experiment(trial);
    let hash = match &resolved {
        Ok(exp) => config_hash(exp),
        Err(reason) => format!("invalid: {reason}"),
    };
    // Finished as configured: skip without claiming. Anything else is decided under the claim.
    if finished(&dirs) && recorded_hash(&dirs).is_none_or(|h| h == hash) {
        return Ok(TrialFate::Finished);
    }
    let claim = match Claim::take(
        &exp_dir.join(".claims").join(format!("{}.lock", trial.id)),
        opts.stale_after,
    ) {
        Ok(c) => c,
        Err(ClaimError::Held(by)) => return Ok(TrialFate::Held(by)),
        Err(e) => return Err(e.into()),
    };
    if finished(&dirs)
        && let Some(fate) = finished_fate(&dirs, &hash, opts.rerun_changed)?
    {
        return Ok(fate);
    }
    write_markers(sweep, trial, &dirs, &hash)?;
    let described = trial
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let exp = match resolved {
        Ok(exp) => exp,
        Err(reason) => {
            log(format!(
                "{}: invalid combination ({described}): {reason}",
                trial.id
            ));
            mark_failed(&dirs, &trial.id, &reason)?;
            return Ok(TrialFate::Ran);
        }
    };
    log(format!("{}: start ({described})", trial.id));
    // After every epoch: renew the claim's heartbeat, then ask the stopping rule.
    let lock = claim.path().to_path_buf();
    let pruner: Arc<TrialPruner> = Arc::new(move |name: &str, epoch: usize, best: f64| {
        claim::touch(&lock);
        pruner.as_ref().and_then(|p| p(name, epoch, best))
    });
    let run_opts = RunOptions {
        experiment_file: Some(sweep.path.clone()),
        runs_dir: opts.runs_dir.clone(),
        device: device.clone(),
        device_name: device_name.clone(),
        // An interrupted trial continues its own run; a finished one never gets here.
        reuse: crate::experiment::Reuse::Resume,
        stale_after: opts.stale_after,
        cache: opts.cache.clone(),
        gpu_features: opts.gpu_features,
        pruner: Some(pruner),
    };
    let mut progress = |p: Progress| {
        if let Progress::Epoch(name, r) = p {
            log(format!(
                "{name:>14} epoch {:>3}/{}  train {:.4}  valid {:.4}{}",
                r.epoch,
                r.epochs,
                r.train_loss,
                r.valid_loss,
                if r.improved { "  *" } else { "" }
            ));
        }
    };
    match run_experiment(&exp, &run_opts, &mut progress) {
        Ok(summary) => {
            for t in summary.trials {
                log(format!(
                    "{}: {} {}",
                    t.trial,
                    t.status,
                    t.reason.unwrap_or_default()
                ));
            }
        }
        Err(e) => {
            let reason = e.to_string();
            log(format!("{}: failed: {reason}", trial.id));
            let unfinished: Vec<PathBuf> = dirs
                .into_iter()
                .filter(|d| !d.join("metrics.json").exists())
                .collect();
            mark_failed(&unfinished, &trial.id, &reason)?;
        }
    }
    drop(claim);
    Ok(TrialFate::Ran)
}
