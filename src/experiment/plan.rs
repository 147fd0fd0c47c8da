//! What each trial of an experiment is, and how it runs: one variant per kind
//! of trial, so a new kind is one variant here and one file beside it.

use super::Experiment;
use super::context::TrialContext;
use super::ensemble::EnsembleConfig;
use super::score::ClipScoreSet;
use super::score::Scoring;
use super::trial::{RunError, TrialMetrics};
use crate::models::ModelConfig;
use crate::models::ae_score::ScoreMethod;
use crate::models::reference::ReferenceConfig;

/// One trial of an experiment.
pub(super) enum TrialPlan<'a> {
    /// An autoencoder: trained, then scored on the test clips.
    Autoencoder(&'a ModelConfig),
    /// A reference detector (GMM, k-NN): fitted, then scored.
    Reference(&'a ModelConfig, ReferenceConfig<'a>),
    /// An ensemble of trials scored before it in the same experiment.
    Ensemble(&'a EnsembleConfig),
}

impl<'a> TrialPlan<'a> {
    /// Every trial of `exp`, models first, in the experiment's order.
    pub(super) fn all(exp: &'a Experiment) -> Vec<Self> {
        let models = exp.model.iter().map(|m| match m.reference() {
            Some(reference) => TrialPlan::Reference(m, reference),
            None => TrialPlan::Autoencoder(m),
        });
        models
            .chain(exp.ensemble.iter().map(TrialPlan::Ensemble))
            .collect()
    }

    /// The trial's name (its folder).
    pub(super) fn name(&self) -> String {
        match self {
            TrialPlan::Autoencoder(m) | TrialPlan::Reference(m, _) => m.name(),
            TrialPlan::Ensemble(e) => e.name.clone(),
        }
    }

    /// How the trial's windows become scores.
    fn scoring(&self, exp: &'a Experiment, name: &str) -> Scoring<'a> {
        let (kl_weight, method) = match self {
            TrialPlan::Autoencoder(m) | TrialPlan::Reference(m, _) => {
                (m.score_kl_weight(), m.score_method())
            }
            TrialPlan::Ensemble(_) => (0.0, ScoreMethod::Windows),
        };
        Scoring {
            eval: &exp.eval,
            kl_weight,
            method,
            data: &exp.data,
            seed: exp.seed,
            title: format!("{}/{name}", exp.name),
        }
    }

    /// Runs the trial; its metrics, and its clip scores when it scored any
    /// (for the ensembles after it). `scored` holds the earlier trials'.
    pub(super) fn run(
        &self,
        cx: TrialContext<'_>,
        scored: &[(String, ClipScoreSet)],
    ) -> Result<(TrialMetrics, Option<ClipScoreSet>), RunError> {
        let claimed = cx.claimed;
        let scoring = self.scoring(cx.exp, &claimed.name);
        match self {
            TrialPlan::Autoencoder(model) => {
                super::autoencoder::train_and_score(cx, model, &scoring)
            }
            TrialPlan::Reference(model, reference) => {
                let metrics = TrialMetrics::fresh(&claimed.name, &claimed.run_id, model);
                super::reference::fit_reference_trial(
                    *reference,
                    cx.prepared,
                    claimed,
                    metrics,
                    &scoring,
                )
            }
            TrialPlan::Ensemble(ensemble) => {
                let metrics = TrialMetrics::fresh_ensemble(&claimed.name, &claimed.run_id);
                let metrics = super::ensemble::score_ensemble(
                    ensemble,
                    scored,
                    cx.prepared,
                    claimed,
                    metrics,
                    &scoring,
                )?;
                Ok((metrics, None))
            }
        }
    }
}
