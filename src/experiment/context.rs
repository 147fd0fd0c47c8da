//! What a trial runs with: the experiment, the options, the prepared data and
//! its claimed folder (between the shared trial types and the trial kinds).

use super::Experiment;
use super::prepare::Prepared;
use super::trial::{ClaimedTrial, Progress, RunOptions};

/// What a trial runs with.
pub(super) struct TrialContext<'a> {
    pub(super) exp: &'a Experiment,
    pub(super) opts: &'a RunOptions,
    pub(super) prepared: &'a Prepared,
    pub(super) claimed: &'a ClaimedTrial,
    pub(super) progress: &'a mut dyn FnMut(Progress),
}
