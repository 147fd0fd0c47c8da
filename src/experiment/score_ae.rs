//! The units an autoencoder trial is judged by under `score = "mahalanobis"`
//! or `"latent_gmm"`: the scorer fitted on the training windows (saved as
//! `model/scorer.json`), then window (or clip) scores of every split.

use burn::prelude::Device;

use super::prepare::Prepared;
use super::trial::{RunError, write};
use crate::data::WindowSet;
use crate::models::Autoencoder;
use crate::models::ae_score::{
    FittedScorer, ResidualMoments, ScoreMethod, fit_latent_gmm, fit_latent_knn, pool_codes,
};
use crate::train::outputs::{codes, residual_batches};

/// Clips of a window set (its highest clip index + 1).
fn clips_of(set: &WindowSet) -> usize {
    set.clip.iter().max().map_or(0, |m| m + 1)
}

/// Fits the scorer of `method` on the training windows; `Err` is the reason
/// the trial fails (it is not an error of the run).
pub(super) fn fit_scorer(
    model: &Autoencoder,
    method: ScoreMethod,
    prepared: &Prepared,
    device: &Device,
    seed: u64,
) -> Result<FittedScorer, String> {
    let train = &prepared.train;
    match method {
        ScoreMethod::Windows => Err("window errors need no fitted scorer".into()),
        ScoreMethod::Mahalanobis => {
            let mut moments = ResidualMoments::new(train.frames * train.coeffs);
            residual_batches(model, train, device, |b| moments.add(b));
            moments.finish()
        }
        ScoreMethod::LatentGmm { components } => {
            let (codes, width) = codes(model, train, device);
            let pooled = pool_codes(&codes, width, &train.clip, clips_of(train));
            fit_latent_gmm(&pooled, 2 * width, components, seed)
        }
        ScoreMethod::LatentKnn { neighbors } => {
            let (codes, width) = codes(model, train, device);
            let pooled = pool_codes(&codes, width, &train.clip, clips_of(train));
            fit_latent_knn(&pooled, 2 * width, neighbors)
        }
    }
}

/// The scores `fitted` gives `set`'s windows, or its clips (then each clip
/// is one unit, and pooling leaves its score as it is).
pub(super) fn fitted_units(
    model: &Autoencoder,
    fitted: &FittedScorer,
    set: &WindowSet,
    clips: usize,
    device: &Device,
) -> SplitScores {
    match fitted {
        FittedScorer::Mahalanobis { .. } => {
            let mut scores = Vec::with_capacity(set.len());
            residual_batches(model, set, device, |b| scores.extend(fitted.score(b)));
            SplitScores {
                scores,
                clip: set.clip.clone(),
                clips,
            }
        }
        FittedScorer::LatentGmm { .. } | FittedScorer::LatentKnn { .. } => {
            per_clip_units(model, fitted, set, clips, device, false)
        }
    }
}

/// The clip scores of a per-clip scorer; `training`: `set` is the split the
/// scorer was fitted on (nearest neighbours then leave each clip out).
fn per_clip_units(
    model: &Autoencoder,
    fitted: &FittedScorer,
    set: &WindowSet,
    clips: usize,
    device: &Device,
    training: bool,
) -> SplitScores {
    let (codes, width) = codes(model, set, device);
    let pooled = pool_codes(&codes, width, &set.clip, clips);
    // A clip without windows has no code: it stays unscored.
    let mut has_window = vec![false; clips];
    set.clip.iter().for_each(|&c| has_window[c] = true);
    let all = if training {
        fitted.score_training(&pooled)
    } else {
        fitted.score_f64(&pooled)
    };
    let (clip, scores) = (0..clips)
        .filter(|&c| has_window[c])
        .map(|c| (c, all[c]))
        .unzip();
    SplitScores {
        scores,
        clip,
        clips,
    }
}

/// Saves the fitted scorer beside the model.
pub(super) fn save_scorer(fitted: &FittedScorer, dir: &std::path::Path) -> Result<(), RunError> {
    write(
        &dir.join("model").join("scorer.json"),
        &serde_json::to_vec(fitted).expect("json"),
    )
}

/// The training split's units, for thresholds fitted on training clips.
pub(super) fn train_units(
    model: &Autoencoder,
    fitted: &FittedScorer,
    prepared: &Prepared,
    device: &Device,
) -> SplitScores {
    let train = &prepared.train;
    if fitted.per_clip() {
        return per_clip_units(model, fitted, train, clips_of(train), device, true);
    }
    fitted_units(model, fitted, train, clips_of(train), device)
}

/// Scores of a split's units (windows, frames or clips) and the clip of each.
pub(super) struct SplitScores {
    /// One score per unit, higher is more anomalous.
    pub(super) scores: Vec<f32>,
    /// The clip of each unit.
    pub(super) clip: Vec<usize>,
    /// Clips in the split.
    pub(super) clips: usize,
}
