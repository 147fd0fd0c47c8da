//! A reference-detector trial (`kind = "gmm"` / `"knn"`): fitted on the
//! training clips' features instead of trained, then scored, thresholded and
//! reported exactly as the autoencoders are, in the same run-folder contract.

use super::prepare::Prepared;
use super::run::{ClaimedTrial, RunError, TrialMetrics, write};
use super::score::{ClipScoreSet, Scoring, SplitScores, decide_and_report};
use crate::features::Features;
use crate::models::reference::{ReferenceConfig, ReferenceModel};
use crate::train::events::EventLog;

/// Every unit score of a split's clips, with the clip of each.
fn split_scores(model: &ReferenceModel, clips: &[Features]) -> SplitScores {
    let mut out = SplitScores {
        scores: Vec::new(),
        clip: Vec::new(),
        clips: clips.len(),
    };
    for (i, features) in clips.iter().enumerate() {
        let s = model.score(features);
        out.clip.extend(std::iter::repeat_n(i, s.len()));
        out.scores.extend(s);
    }
    out
}

/// Fits, saves `model/reference.json`, scores; a fit that fails marks the trial failed.
pub(super) fn fit_reference_trial(
    reference: ReferenceConfig,
    prepared: &Prepared,
    claimed: &ClaimedTrial,
    mut metrics: TrialMetrics,
    scoring: &Scoring,
) -> Result<(TrialMetrics, Option<ClipScoreSet>), RunError> {
    let events_path = claimed.dir.join("events.jsonl");
    let io = |source| RunError::Io {
        path: events_path.clone(),
        source,
    };
    let mut events = EventLog::open(&events_path, &claimed.name, &claimed.run_id).map_err(io)?;
    let [train, valid, test] = &prepared.clip_features;
    events
        .write(serde_json::json!({"event": "start", "train_clips": train.len(), "valid_clips": valid.len()}))
        .map_err(io)?;
    let train_refs: Vec<&Features> = train.iter().collect();
    let model = match reference.fit(&train_refs, scoring.seed) {
        Ok(m) => m,
        Err(reason) => {
            events.status(false, Some(&reason)).map_err(io)?;
            metrics.status = "failed".into();
            metrics.reason = Some(reason);
            return Ok((metrics, None));
        }
    };
    write(
        &claimed.dir.join("model").join("reference.json"),
        &serde_json::to_vec(&model).expect("json"),
    )?;
    if let crate::models::reference::Fitted::Gmm(g) = &model.fitted {
        events
            .write(serde_json::json!({"event": "fitted", "iterations": g.iterations, "converged": g.converged}))
            .map_err(io)?;
    }
    metrics.held_out = "test/normal".into();
    let valid_units = split_scores(&model, valid);
    let test_units = split_scores(&model, test);
    metrics.windows = test_units.scores.len();
    let clip_scores = decide_and_report(
        valid_units,
        test_units,
        || split_scores(&model, train),
        prepared,
        &mut metrics,
        &claimed.dir,
        scoring,
    )?;
    Ok((metrics, Some(clip_scores)))
}
