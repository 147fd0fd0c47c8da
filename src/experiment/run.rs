//! Running an experiment: claim every trial folder, prepare the data once,
//! then run each trial's plan ([`super::plan::TrialPlan`]) in
//! `runs/<experiment>/<trial>/`, each leaving its resolved config, events,
//! checkpoints, model and metrics.

use std::path::Path;

use super::Experiment;
use super::claim::{Claim, ClaimError};
use super::context::TrialContext;
use super::plan::TrialPlan;
use super::prepare::{Prepared, prepare};
use super::trial::{
    ClaimedTrial, Progress, RunError, RunOptions, RunSummary, TrialRecord, finish_trial, write,
};
use super::trial_dir::{self, Readied};
use crate::data::{DataError, Layout, machine_ids};
use crate::tensorboard::BoardWriter;

/// The run id a trial folder's `config.toml` records, if any.
fn recorded_run_id(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.toml")).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    value.get("run_id")?.as_str().map(str::to_string)
}

/// Claims every trial folder of the plans and readies it under `opts.reuse`
/// before any work starts, so a refusal costs nothing and two processes
/// never write one folder.
fn claim_trials(
    plans: &[TrialPlan],
    opts: &RunOptions,
    exp_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<ClaimedTrial>, RunError> {
    let mut claimed = Vec::new();
    for name in plans.iter().map(TrialPlan::name) {
        let dir = exp_dir.join(&name);
        let lock = exp_dir.join(".claims").join(format!("{name}.lock"));
        let claim = Claim::take(&lock, opts.stale_after).map_err(|e| match e {
            ClaimError::Held(holder) => RunError::Claimed {
                path: dir.clone(),
                holder,
            },
            ClaimError::Io { path, source } => RunError::Io { path, source },
        })?;
        let Readied { run_id, moved_to } =
            trial_dir::ready(&dir, opts.reuse, recorded_run_id(&dir))?;
        if let Some(to) = &moved_to {
            progress(Progress::MovedAside(&dir, to));
        }
        claimed.push(ClaimedTrial {
            name,
            dir,
            run_id,
            claim,
        });
    }
    Ok(claimed)
}

/// Runs every trial of `exp`.
pub fn run_experiment(
    exp: &Experiment,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    if exp.data.layout == Layout::Dcase && exp.data.per_machine_id {
        return run_per_machine(exp, opts, progress);
    }
    let exp_dir = opts.runs_dir.join(&exp.name);
    let plans = TrialPlan::all(exp);
    let claimed = claim_trials(&plans, opts, &exp_dir, progress)?;
    let prepared = prepare(exp, opts, progress)?;
    let mut trials = Vec::new();
    // Clip scores of every scored trial, for the ensembles.
    let mut scored = Vec::new();
    for (plan, claimed) in plans.iter().zip(&claimed) {
        progress(Progress::Trial(&claimed.name));
        write_trial_record(exp, opts, &prepared, claimed)?;
        let cx = TrialContext {
            exp,
            opts,
            prepared: &prepared,
            claimed,
            progress: &mut *progress,
        };
        let (metrics, clip_scores) = plan.run(cx, &scored)?;
        finish_trial(&metrics, claimed)?;
        scored.extend(clip_scores.map(|c| (claimed.name.clone(), c)));
        trials.push(metrics);
    }
    Ok(RunSummary {
        trials,
        failures: prepared.failures,
        dir: exp_dir,
    })
}

/// The resolved experiment, seed, device and run id, in the trial folder and
/// beside its model (so `detect` needs nothing else), with the normaliser.
fn write_trial_record(
    exp: &Experiment,
    opts: &RunOptions,
    prepared: &Prepared,
    claimed: &ClaimedTrial,
) -> Result<(), RunError> {
    let model_dir = claimed.dir.join("model");
    std::fs::create_dir_all(&model_dir).map_err(RunError::io(model_dir.clone()))?;
    let record = TrialRecord {
        earshot_version: crate::VERSION.to_string(),
        trial: claimed.name.clone(),
        run_id: Some(claimed.run_id.clone()),
        device: opts.device_name.clone(),
        features_device: prepared.features_device.clone(),
        seed: exp.seed,
        window: [exp.data.frames, exp.features.model_coeffs()],
        provenance: prepared.provenance.clone(),
        experiment: Experiment {
            data: crate::data::DataConfig {
                root: super::overrides::portable_root(&exp.data.root),
                ..exp.data.clone()
            },
            ..exp.clone()
        },
    };
    let record_text = toml::to_string_pretty(&record).expect("records serialise");
    write(&claimed.dir.join("config.toml"), record_text.as_bytes())?;
    write(&model_dir.join("config.toml"), record_text.as_bytes())?;
    write(
        &model_dir.join("normalizer.json"),
        &serde_json::to_vec_pretty(&prepared.normalizer).expect("json"),
    )?;
    // After config.toml, which holds the hyperparameters TensorBoard shows; a
    // resumed trial goes on in its live file.
    let io = RunError::io(claimed.dir.clone());
    if exp.train.tensorboard && BoardWriter::open_live(&claimed.dir).map_err(&io)?.is_none() {
        BoardWriter::start(&claimed.dir).map_err(&io)?;
    }
    Ok(())
}

/// One trial per (model, machine id), each on that id's files: `<model>_id_XX`.
fn run_per_machine(
    exp: &Experiment,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, RunError> {
    let ids: Vec<String> = machine_ids(&exp.data.root)
        .into_iter()
        .filter(|id| exp.data.machine_ids.is_empty() || exp.data.machine_ids.contains(id))
        .collect();
    if ids.is_empty() {
        return Err(DataError::Empty {
            what: "machine ids",
            detail: format!("no normal_id_XX_*.wav in {}/train", exp.data.root.display()),
        }
        .into());
    }
    let mut summary = RunSummary {
        trials: Vec::new(),
        failures: Vec::new(),
        dir: opts.runs_dir.join(&exp.name),
    };
    for id in ids {
        let mut one = exp.clone();
        one.data.per_machine_id = false;
        one.data.machine_ids = vec![id.clone()];
        for model in &mut one.model {
            model.set_name(format!("{}_{id}", model.name()));
        }
        let part = run_experiment(&one, opts, progress)?;
        summary.trials.extend(part.trials);
        summary.failures.extend(part.failures);
    }
    Ok(summary)
}
