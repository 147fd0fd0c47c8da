//! `earshot init`: a commented starter experiment for a dataset, with the
//! recipe that measured best on real recordings (README, "Results on real
//! recordings"): reference detectors on clip statistics of log-mel bands, a
//! frame-level mixture, two autoencoders with a bottleneck, and an ensemble.

use crate::data::Layout;
use crate::data::inspect::DatasetSummary;

/// Frames per window for the autoencoders: about half the median clip, 4 to 32.
fn window_frames(summary: &DatasetSummary, rate: u32, hop_length: usize) -> usize {
    let clip_frames = summary.median_seconds * rate as f64 / hop_length as f64;
    if !clip_frames.is_finite() {
        return 16;
    }
    ((clip_frames / 2.0) as usize).clamp(4, 32)
}

/// The share of training clips held out for validation.
const VALID_FRACTION: f64 = 0.1;

/// The ensemble of the clip-level references.
const ENSEMBLE: &str = r#"# Both clip-level references on a common scale (z-scores of validation clips).
[[ensemble]]
name = "knn_gmm"
members = ["knn", "gmm_clip"]
method = "zscore_mean"

"#;

/// The experiment text for `summary`, named `name`, to be saved as `file`.
pub fn starter_experiment(summary: &DatasetSummary, name: &str, file: &str) -> String {
    let rate = summary
        .common_rate()
        .filter(|r| (8_000..=48_000).contains(r))
        .unwrap_or(16_000);
    let hop_length = 256;
    let frames = window_frames(summary, rate, hop_length);
    let layout = match summary.layout {
        Layout::Dcase => "dcase",
        _ => "folders",
    };
    // The clips the references are fitted on, after the validation share
    // (as `data::split_by_file` takes it): k and components must not exceed them.
    let valid = ((summary.train as f64 * VALID_FRACTION).round() as usize)
        .min(summary.train.saturating_sub(1));
    let fit = (summary.train - valid).max(1);
    let k = fit.min(3);
    let components = fit.min(4);
    // An ensemble puts scores on a common scale with at least 2 validation clips.
    let ensemble = if valid >= 2 { ENSEMBLE } else { "" };
    let rates: Vec<String> = summary
        .rates
        .iter()
        .map(|(r, n)| format!("{r} Hz x {n}"))
        .collect();
    format!(
        r#"# Starter experiment written by `earshot init` for {root}
# measured: {train} training clips, {normal} normal and {anomaly} anomalous test clips;
# sample rates {rates}; clips {min:.2}-{median:.2} s (shortest, median).
#   earshot train {file}
name = "{name}"
seed = 42

[data]
layout = "{layout}"
root = {root:?}
# Autoencoder windows: about half a median clip.
frames = {frames}
hop = {hop}
normalization = "zscore"
valid_fraction = {VALID_FRACTION}

# Log-mel bands at the data's own rate (no resampling), 64 bands as the
# references of peer_detect.py use.
[features]
kind = "logmel"
sample_rate = {rate}
n_fft = 1024
hop_length = {hop_length}
n_mels = 64

# Frame and window scores become a clip score by their 90th percentile:
# robust to a stray frame, sharper than the mean for short events.
[eval]
clip_score = "percentile"
percentile = 90

# Reference detectors: fitted in seconds, and often the ones to beat.
# Mean distance to the {k} nearest training clips (standardised mean + std per band).
[[model]]
kind = "knn"
k = {k}

# A Gaussian mixture on the same clip vectors ({components} components; diagonal covariance above 40 dimensions).
[[model]]
kind = "gmm"
name = "gmm_clip"
components = {components}

# A mixture of frames; clip score = 90th percentile of the frames' -log p.
[[model]]
kind = "gmm"
name = "gmm_frame"
level = "frame"
components = 8

# Autoencoders, each with a bottleneck (without one a model can copy its input).
[[model]]
kind = "dense"
hidden = [128, 64]
bottleneck = 8

[[model]]
kind = "cae"
channels = [16, 32]
latent = 16

{ensemble}[train]
epochs = 30
batch_size = 64
learning_rate = 1e-3
patience = 5
"#,
        root = summary.root.display().to_string(),
        train = summary.train,
        normal = summary.test_normal,
        anomaly = summary.test_anomaly,
        rates = if rates.is_empty() {
            "unknown".to_string()
        } else {
            rates.join(", ")
        },
        min = summary.min_seconds,
        median = summary.median_seconds,
        hop = (frames / 2).max(1),
    )
}
