//! Ensembles (`[[ensemble]]`): a trial whose clip score combines its members'
//! clip scores, each first put on a common scale learnt from the member's
//! validation normal clips: a z-score (`zscore_mean`) or the share of those
//! clips scoring lower (`rank_mean`). It keeps the trial contract: metrics,
//! scores.csv, threshold, report, and `model/ensemble.json` for `detect`.

use serde::{Deserialize, Serialize};

use super::prepare::Prepared;
use super::score::{ClipScoreSet, Scoring, SplitScores, decide_and_report};
use super::trial::{ClaimedTrial, RunError, TrialMetrics, write};

/// How members' scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnsembleMethod {
    /// Mean of z-scores (mean and std of each member's validation normal clips).
    #[default]
    ZscoreMean,
    /// Mean of ranks: the share of each member's validation normal clips scoring lower.
    RankMean,
}

/// One `[[ensemble]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleConfig {
    /// Trial name (its folder).
    pub name: String,
    /// Trial names of the members (models of the same experiment).
    pub members: Vec<String>,
    /// How their scores combine.
    #[serde(default)]
    pub method: EnsembleMethod,
}

/// A member's scale, learnt from its validation normal clip scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberScale {
    /// The member trial (a sibling folder of the ensemble's).
    pub trial: String,
    /// Mean of its validation normal clip scores.
    pub mean: f64,
    /// Their standard deviation (population; 1 when they do not vary).
    pub std: f64,
    /// Those scores, sorted (for ranks).
    pub sorted: Vec<f64>,
}

impl MemberScale {
    fn fit(trial: &str, valid: &[f64]) -> Result<Self, String> {
        if valid.len() < 2 {
            return Err(format!(
                "member {trial} has {} validation clip score(s); an ensemble needs at least 2 to put its scores on a common scale (raise [data] valid_fraction)",
                valid.len()
            ));
        }
        let n = valid.len() as f64;
        let mean = valid.iter().sum::<f64>() / n;
        let std = (valid.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let mut sorted = valid.to_vec();
        sorted.sort_by(f64::total_cmp);
        Ok(Self {
            trial: trial.to_string(),
            mean,
            std: if std > 0.0 { std } else { 1.0 },
            sorted,
        })
    }

    /// `score` on this member's common scale.
    pub fn scale(&self, method: EnsembleMethod, score: f64) -> f64 {
        match method {
            EnsembleMethod::ZscoreMean => (score - self.mean) / self.std,
            EnsembleMethod::RankMean => {
                // Mid-rank among the validation scores, in [0, 1].
                let below = self.sorted.partition_point(|&v| v < score);
                let not_above = self.sorted.partition_point(|&v| v <= score);
                (below + not_above) as f64 / (2 * self.sorted.len()) as f64
            }
        }
    }
}

/// What `model/ensemble.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleModel {
    /// Run-record schema of this file.
    pub schema_version: u32,
    /// How scores combine.
    pub method: EnsembleMethod,
    /// Each member's scale.
    pub members: Vec<MemberScale>,
}

impl EnsembleModel {
    /// The ensemble's score from its members' scores, in member order.
    pub fn combine(&self, scores: &[f64]) -> f64 {
        let sum: f64 = self
            .members
            .iter()
            .zip(scores)
            .map(|(m, &s)| m.scale(self.method, s))
            .sum();
        sum / self.members.len() as f64
    }
}

fn combine_clips(model: &EnsembleModel, per_member: &[&[Option<f64>]]) -> Vec<f32> {
    let clips = per_member.first().map_or(0, |s| s.len());
    (0..clips)
        .map(|c| {
            let scores: Option<Vec<f64>> = per_member.iter().map(|s| s[c]).collect();
            scores.map_or(f32::NAN, |s| model.combine(&s) as f32)
        })
        .collect()
}

/// Scores the ensemble from its members' clip scores; a missing or failed
/// member marks the ensemble failed with the reason.
pub(super) fn score_ensemble(
    config: &EnsembleConfig,
    scored: &[(String, ClipScoreSet)],
    prepared: &Prepared,
    claimed: &ClaimedTrial,
    mut metrics: TrialMetrics,
    scoring: &Scoring,
) -> Result<TrialMetrics, RunError> {
    let mut members = Vec::new();
    for name in &config.members {
        match scored.iter().find(|(n, _)| n == name) {
            Some((_, set)) => members.push((name, set)),
            None => {
                metrics.status = crate::records::TrialStatus::Failed;
                metrics.reason = Some(format!(
                    "member {name} has no scores (it failed or was stopped before scoring)"
                ));
                return Ok(metrics);
            }
        }
    }
    let scales: Result<Vec<MemberScale>, String> = members
        .iter()
        .map(|(name, set)| MemberScale::fit(name, &set.valid))
        .collect();
    let model = match scales {
        Ok(members) => EnsembleModel {
            schema_version: 1,
            method: config.method,
            members,
        },
        Err(reason) => {
            metrics.status = crate::records::TrialStatus::Failed;
            metrics.reason = Some(reason);
            return Ok(metrics);
        }
    };
    write(
        &claimed.dir.join("model").join("ensemble.json"),
        &serde_json::to_vec_pretty(&model).expect("json"),
    )?;
    // Validation clips the members all scored, in order, as one unit each.
    let valid_len = members
        .iter()
        .map(|(_, s)| s.valid.len())
        .min()
        .unwrap_or(0);
    let valid: Vec<Vec<Option<f64>>> = members
        .iter()
        .map(|(_, s)| s.valid[..valid_len].iter().map(|&v| Some(v)).collect())
        .collect();
    let units = |scores: Vec<f32>| {
        let clip: Vec<usize> = (0..scores.len()).collect();
        let (scores, clip): (Vec<f32>, Vec<usize>) = scores
            .into_iter()
            .zip(clip)
            .filter(|(s, _)| s.is_finite())
            .unzip();
        SplitScores {
            clips: clip.last().map_or(0, |c| c + 1),
            scores,
            clip,
        }
    };
    let valid_refs: Vec<&[Option<f64>]> = valid.iter().map(Vec::as_slice).collect();
    let test_refs: Vec<&[Option<f64>]> = members.iter().map(|(_, s)| s.test.as_slice()).collect();
    let mut test = units(combine_clips(&model, &test_refs));
    test.clips = prepared.test_clips.len();
    metrics.held_out = "test/normal".into();
    metrics.windows = test.scores.len();
    let valid_units = || units(combine_clips(&model, &valid_refs));
    // The gamma rule reads training clip scores; an ensemble has its validation ones.
    decide_and_report(
        valid_units(),
        test,
        valid_units,
        prepared,
        &mut metrics,
        &claimed.dir,
        scoring,
    )?;
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_combinations_by_hand() {
        let a = MemberScale::fit("a", &[1.0, 2.0, 3.0, 4.0]).unwrap();
        // mean 2.5, population std sqrt(1.25).
        assert!((a.scale(EnsembleMethod::ZscoreMean, 5.0) - 2.5 / 1.25f64.sqrt()).abs() < 1e-12);
        // 2.5 lies above two of four: rank 0.5; a tie at 3 counts half.
        assert_eq!(a.scale(EnsembleMethod::RankMean, 2.5), 0.5);
        assert_eq!(a.scale(EnsembleMethod::RankMean, 3.0), 0.625);
        assert_eq!(a.scale(EnsembleMethod::RankMean, 9.0), 1.0);
        let b = MemberScale::fit("b", &[10.0, 10.0]).unwrap();
        assert_eq!(b.std, 1.0, "no spread: unit scale");
        let model = EnsembleModel {
            schema_version: 1,
            method: EnsembleMethod::ZscoreMean,
            members: vec![a, b],
        };
        let z = model.combine(&[2.5, 12.0]);
        assert!((z - (0.0 + 2.0) / 2.0).abs() < 1e-12);
        assert!(
            MemberScale::fit("c", &[1.0])
                .unwrap_err()
                .contains("valid_fraction")
        );
    }
}
