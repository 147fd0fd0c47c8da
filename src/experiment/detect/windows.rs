//! A file's windows, a block at a time, and what the detector makes of them:
//! errors, fitted scores, the clip score of a per-clip scorer, segments.

use super::{Detector, Segment};
use crate::data::WindowSet;
use crate::models::Autoencoder;
use crate::models::ae_score::{FittedScorer, pool_codes};
use crate::train;
use crate::train::outputs::{codes, residual_batches};

impl Detector {
    /// The windows of `features` (hop `self.hop`), a block at a time so a
    /// long recording never holds all its windows at once.
    pub(super) fn for_each_block(
        &self,
        features: &crate::features::Features,
        mut each: impl FnMut(&WindowSet),
    ) {
        const BLOCK: usize = 4096; // windows per block
        if features.frames < self.frames {
            each(&WindowSet::cut(
                std::iter::once(features),
                self.frames,
                self.hop,
            ));
            return;
        }
        let count = (features.frames - self.frames) / self.hop + 1;
        for first in (0..count).step_by(BLOCK) {
            let last = (first + BLOCK).min(count) - 1;
            let (from, to) = (first * self.hop, last * self.hop + self.frames);
            let block = crate::features::Features {
                frames: to - from,
                coeffs: features.coeffs,
                data: features.data[from * features.coeffs..to * features.coeffs].to_vec(),
            };
            each(&WindowSet::cut(
                std::iter::once(&block),
                self.frames,
                self.hop,
            ));
        }
    }

    /// Errors of every window.
    pub(super) fn window_errors(
        &self,
        model: &Autoencoder,
        features: &crate::features::Features,
    ) -> train::WindowErrors {
        let mut all = train::WindowErrors::default();
        self.for_each_block(features, |windows| {
            let e = train::evaluate(model, windows, &self.device);
            all.squared.extend(e.squared);
            all.absolute.extend(e.absolute);
            all.kl.extend(e.kl);
        });
        all
    }

    /// Scores of every window by a fitted window scorer (Mahalanobis), and
    /// the windows' squared and absolute errors from the same residuals.
    pub(super) fn fitted_window_scores(
        &self,
        model: &Autoencoder,
        fitted: &FittedScorer,
        features: &crate::features::Features,
    ) -> (Vec<f32>, train::WindowErrors) {
        let mut scores = Vec::new();
        let mut errors = train::WindowErrors::default();
        let dims = self.frames * features.coeffs;
        self.for_each_block(features, |windows| {
            residual_batches(model, windows, &self.device, |b| {
                scores.extend(fitted.score(b));
                for row in b.chunks_exact(dims) {
                    let n = dims as f32;
                    errors
                        .squared
                        .push(row.iter().map(|r| r * r).sum::<f32>() / n);
                    errors
                        .absolute
                        .push(row.iter().map(|r| r.abs()).sum::<f32>() / n);
                }
            });
        });
        (scores, errors)
    }

    /// The one score of a per-clip scorer (the latent mixture).
    pub(super) fn clip_score(
        &self,
        model: &Autoencoder,
        fitted: &FittedScorer,
        features: &crate::features::Features,
    ) -> Vec<f32> {
        let (mut all, mut width) = (Vec::new(), 0);
        self.for_each_block(features, |windows| {
            let (c, w) = codes(model, windows, &self.device);
            all.extend(c);
            width = w;
        });
        if width == 0 {
            return Vec::new();
        }
        let clip_of = vec![0; all.len() / width];
        fitted.score_f64(&pool_codes(&all, width, &clip_of, 1))
    }
}

/// Runs of units (windows of `span.0` frames, `span.1` apart) above
/// `threshold`, merged, in seconds.
pub(super) fn segments(
    errors: &[f32],
    threshold: f64,
    frame_s: f64,
    span: (usize, usize),
) -> Vec<Segment> {
    let (frames, hop) = span;
    let mut out: Vec<Segment> = Vec::new();
    for (w, &e) in errors.iter().enumerate() {
        if (e as f64) <= threshold {
            continue;
        }
        let start_s = (w * hop) as f64 * frame_s;
        let end_s = (w * hop + frames) as f64 * frame_s;
        match out.last_mut() {
            Some(last) if start_s <= last.end_s => {
                last.end_s = end_s;
                last.score = last.score.max(e as f64);
            }
            _ => out.push(Segment {
                start_s,
                end_s,
                score: e as f64,
            }),
        }
    }
    out
}
