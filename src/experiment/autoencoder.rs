//! An autoencoder trial: trained (renewing its claim every epoch), then its
//! best model scored on the test clips.

use super::claim;
use super::context::TrialContext;
use super::score::{ClipScoreSet, Scoring, score_trial};
use super::trial::{ClaimedTrial, Progress, RunError, RunOptions, TrialMetrics};
use super::trial_dir::Reuse;
use super::{Experiment, prepare::Prepared};
use crate::models::ModelConfig;
use crate::records::TrialStatus;
use crate::train::{self, Trial};

/// Trains `model` in its claimed folder and scores what it kept.
pub(super) fn train_and_score(
    cx: TrialContext<'_>,
    model: &ModelConfig,
    scoring: &Scoring,
) -> Result<(TrialMetrics, Option<ClipScoreSet>), RunError> {
    let claimed = cx.claimed;
    let result = train_one(cx.exp, cx.opts, cx.prepared, model, claimed, cx.progress)?;
    let mut metrics = TrialMetrics::from_training(&claimed.name, &claimed.run_id, model, &result);
    let mut clip_scores = None;
    if let (Some(m), TrialStatus::Done | TrialStatus::Stopped) = (&result.model, metrics.status) {
        // A trial stopped by a sweep's rule still has its best model: score it too.
        metrics.parameters = burn::module::Module::num_params(m);
        clip_scores = score_trial(
            m,
            cx.prepared,
            &cx.opts.device,
            &mut metrics,
            &claimed.dir,
            scoring,
        )?;
    }
    Ok((metrics, clip_scores))
}

/// Trains one claimed trial, renewing its claim's heartbeat every epoch.
fn train_one(
    exp: &Experiment,
    opts: &RunOptions,
    prepared: &Prepared,
    model: &ModelConfig,
    claimed: &ClaimedTrial,
    progress: &mut dyn FnMut(Progress),
) -> Result<train::TrialResult, RunError> {
    let name = &claimed.name;
    let pruner: Option<Box<train::Pruner>> = opts.pruner.clone().map(|p| {
        let name = name.clone();
        Box::new(move |epoch: usize, best: f64| p(&name, epoch, best)) as Box<train::Pruner>
    });
    let trial = Trial {
        name,
        model,
        train: &exp.train,
        seed: exp.seed,
        dir: &claimed.dir,
        device: opts.device.clone(),
        resume: opts.reuse == Reuse::Resume,
        run_id: &claimed.run_id,
        pruner: pruner.as_deref(),
    };
    let lock = claimed.claim.path();
    Ok(train::train_trial(
        &trial,
        train::TrialData {
            train: &prepared.train,
            valid: &prepared.valid,
            on_device: [
                prepared.device_rows[0].as_ref(),
                prepared.device_rows[1].as_ref(),
            ],
        },
        &mut |report| {
            claim::touch(lock);
            progress(Progress::Epoch(name, report))
        },
    )?)
}
