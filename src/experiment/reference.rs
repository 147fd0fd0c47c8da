//! A reference-detector trial (`kind = "gmm"` / `"knn"`): fitted on the
//! training clips' features instead of trained, then scored, thresholded and
//! reported exactly as the autoencoders are, in the same run-folder contract.

use super::prepare::Prepared;
use super::score::{ClipScoreSet, Scoring, SplitScores, decide_and_report};
use super::trial::{ClaimedTrial, RunError, TrialMetrics, write};
use crate::features::Features;
use crate::models::reference::{ReferenceConfig, ReferenceModel};
use crate::records::{Event, Start};
use crate::train::events::EventLog;

/// Every unit score of a split's clips, with the clip of each. Clips that were
/// part of the fit start at training row `fitted_from` (`None`: not fitted on).
fn split_scores(
    model: &ReferenceModel,
    clips: &[Features],
    fitted_from: Option<usize>,
) -> SplitScores {
    let mut out = SplitScores {
        scores: Vec::new(),
        clip: Vec::new(),
        clips: clips.len(),
    };
    let mut row = fitted_from.unwrap_or(0);
    for (i, features) in clips.iter().enumerate() {
        let rows = model.rows_of(features.frames);
        let s = match fitted_from {
            Some(_) => model.score_in_sample(features, row..row + rows),
            None => model.score(features),
        };
        row += rows;
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
    let io = RunError::io(events_path.clone());
    let mut events = EventLog::open(&events_path, &claimed.name, &claimed.run_id).map_err(&io)?;
    let [train, valid, test] = &prepared.clip_features;
    events
        .write(Event::Start(Start {
            schema_version: Some(crate::records::SCHEMA_VERSION),
            train_clips: Some(train.len()),
            valid_clips: Some(valid.len()),
            ..Start::default()
        }))
        .map_err(&io)?;
    // Nearest neighbours fit every training file, validation ones included, and
    // score those leave-one-out; a mixture fits the training split only.
    let loo = matches!(reference, ReferenceConfig::Knn(_));
    let fit_clips: Vec<&Features> = if loo {
        train.iter().chain(valid.iter()).collect()
    } else {
        train.iter().collect()
    };
    let model = match reference.fit(&fit_clips, scoring.seed) {
        Ok(m) => m,
        Err(reason) => {
            events.status(false, Some(&reason)).map_err(&io)?;
            metrics.status = crate::records::TrialStatus::Failed;
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
            .write(Event::Fitted {
                iterations: g.iterations,
                converged: g.converged,
            })
            .map_err(&io)?;
    }
    metrics.held_out = "test/normal".into();
    let train_rows: usize = train.iter().map(|f| model.rows_of(f.frames)).sum();
    let valid_units = split_scores(&model, valid, loo.then_some(train_rows));
    let test_units = split_scores(&model, test, None);
    metrics.windows = test_units.scores.len();
    let clip_scores = decide_and_report(
        valid_units,
        test_units,
        || split_scores(&model, train, loo.then_some(0)),
        prepared,
        &mut metrics,
        &claimed.dir,
        scoring,
    )?;
    Ok((metrics, Some(clip_scores)))
}
