//! MFCC and log-mel features. [`cpu`] is the reference (rustfft + rayon) whose
//! numbers follow librosa's `feature.mfcc` / `feature.melspectrogram` +
//! `power_to_db`; every other path is held to it.

pub mod cache;
pub mod cpu;
pub mod deltas;
mod engine;
mod file;
pub mod gpu;
pub mod mel;
pub mod npy;

use serde::{Deserialize, Serialize};

pub use cpu::{CpuExtractor, FeatureStream};
pub use engine::{DeviceClip, FeatureEngine};
pub use file::{FileFeatures, extract_file};

/// Which features to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// `n_mfcc` cepstral coefficients (orthonormal DCT-II of the log-mel spectrum).
    #[default]
    Mfcc,
    /// `n_mels` log-mel energies in dB.
    Logmel,
}

/// Every setting of feature extraction; defaults follow librosa's conventions
/// with the DCASE-style frame (`n_fft` 1024, hop 512, 128 mels, 20 MFCC at 16 kHz).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureConfig {
    /// Rate audio is resampled to before analysis, in Hz.
    pub sample_rate: u32,
    /// FFT length in samples.
    pub n_fft: usize,
    /// Samples between frame starts.
    pub hop_length: usize,
    /// Window length (centred in the FFT frame); `None` means `n_fft`.
    pub win_length: Option<usize>,
    /// Mel bands.
    pub n_mels: usize,
    /// Cepstral coefficients kept (MFCC only).
    pub n_mfcc: usize,
    /// Lowest mel band edge in Hz.
    pub fmin: f32,
    /// Highest mel band edge in Hz; `None` means `sample_rate / 2`.
    pub fmax: Option<f32>,
    /// Centre frames on their time stamps by zero-padding `n_fft / 2` on both ends.
    pub center: bool,
    /// Exponent of the magnitude spectrum (2 = power).
    pub power: f32,
    /// Dynamic range kept below each clip's maximum, in dB; `None` keeps all.
    pub top_db: Option<f32>,
    /// MFCC or log-mel.
    pub kind: FeatureKind,
    /// Delta features appended to every frame: 0 (none), 1 (Δ) or 2 (Δ and Δ²),
    /// as librosa.feature.delta with width 9.
    #[serde(skip_serializing_if = "is_zero")]
    pub deltas: u8,
    /// `"frames"` (the default): the models see the frames. `"clip"`: each
    /// clip becomes one frame of the mean and the standard deviation of every
    /// value over its frames (a clip-level autoencoder; needs `[data] frames = 1`).
    #[serde(skip_serializing_if = "Summary::is_frames")]
    pub summary: Summary,
    /// Audio decoded per file at most, in seconds: `[data] max_duration` or
    /// `--max-duration`. Not part of the features (nor of the cache key).
    #[serde(skip)]
    pub max_duration_s: f64,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// What the models see of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Summary {
    /// Every frame.
    #[default]
    Frames,
    /// One frame: the mean, then the population standard deviation, of each value.
    Clip,
}

impl Summary {
    fn is_frames(&self) -> bool {
        *self == Summary::Frames
    }
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            n_fft: 1024,
            hop_length: 512,
            win_length: None,
            n_mels: 128,
            n_mfcc: 20,
            fmin: 0.0,
            fmax: None,
            center: true,
            power: 2.0,
            top_db: Some(80.0),
            kind: FeatureKind::Mfcc,
            deltas: 0,
            summary: Summary::Frames,
            max_duration_s: crate::audio::DEFAULT_MAX_DURATION_S,
        }
    }
}

/// `power_to_db`'s floor, as in librosa.
pub const AMIN: f32 = 1e-10;

impl FeatureConfig {
    /// Coefficients per frame of the output.
    pub fn coeffs(&self) -> usize {
        match self.kind {
            FeatureKind::Mfcc => self.n_mfcc,
            FeatureKind::Logmel => self.n_mels,
        }
    }

    /// Values per frame the models see: the coefficients and their deltas
    /// (twice that with `summary = "clip"`: means, then standard deviations).
    pub fn model_coeffs(&self) -> usize {
        let per_frame = self.coeffs() * (1 + self.deltas as usize);
        match self.summary {
            Summary::Frames => per_frame,
            Summary::Clip => 2 * per_frame,
        }
    }

    /// Extracted features as the models see them: deltas appended, then the
    /// clip summarised when `summary = "clip"`.
    pub fn finish(&self, features: Features) -> Features {
        let features = deltas::with_deltas(features, self.deltas);
        match self.summary {
            Summary::Frames => features,
            Summary::Clip => summarize(&features),
        }
    }

    /// The window length in use.
    pub fn window_length(&self) -> usize {
        self.win_length.unwrap_or(self.n_fft)
    }

    /// The upper mel edge in use.
    pub fn max_frequency(&self) -> f32 {
        self.fmax.unwrap_or(self.sample_rate as f32 / 2.0)
    }

    /// Frames a clip of `samples` samples yields (librosa's count), or `None` when
    /// it is too short (only possible with `center = false`).
    pub fn frame_count(&self, samples: usize) -> Option<usize> {
        let padded = if self.center {
            samples + 2 * (self.n_fft / 2)
        } else {
            samples
        };
        (padded >= self.n_fft).then(|| 1 + (padded - self.n_fft) / self.hop_length)
    }

    /// Frames a clip of `samples` samples yields, or why it is too short (an
    /// empty clip always is; with `center = false` one shorter than `n_fft`).
    pub fn frames_for(&self, samples: usize) -> Result<usize, FeatureError> {
        let needed = if self.center { 1 } else { self.n_fft };
        match self.frame_count(samples) {
            Some(f) if samples > 0 => Ok(f),
            _ => Err(FeatureError::TooShort { samples, needed }),
        }
    }

    /// Checks every field against its allowed range.
    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |field: &'static str, reason: String| Err(FeatureError::Config { field, reason });
        if self.deltas > 2 {
            return bad("deltas", format!("is {}, must be 0, 1 or 2", self.deltas));
        }
        if !(self.max_duration_s.is_finite() && self.max_duration_s > 0.0) {
            return bad(
                "max_duration",
                format!(
                    "is {}, must be a positive number of seconds",
                    self.max_duration_s
                ),
            );
        }
        if !crate::audio::SAMPLE_RATES.contains(&self.sample_rate) {
            return bad(
                "sample_rate",
                format!(
                    "is {} Hz, must be within 1000-768000 Hz (usually 16000, 22050 or 44100)",
                    self.sample_rate
                ),
            );
        }
        // Below 16 samples a frame holds no spectrum worth the name (n_fft = 2
        // trained to AUC 0.5 without a word).
        if self.n_fft < 16 {
            return bad(
                "n_fft",
                format!(
                    "is {}, must be >= 16 (usually 512, 1024 or 2048)",
                    self.n_fft
                ),
            );
        }
        if self.hop_length == 0 || self.hop_length > self.n_fft {
            return bad(
                "hop_length",
                format!(
                    "is {}, must be in 1..={} (n_fft: a larger hop skips audio between frames; usually n_fft/4 or n_fft/2)",
                    self.hop_length, self.n_fft
                ),
            );
        }
        if self.n_mels > self.n_fft / 2 + 1 {
            return bad(
                "n_mels",
                format!(
                    "is {}, must be in 1..={} (n_fft/2+1 frequency bins: more bands than bins leaves bands empty)",
                    self.n_mels,
                    self.n_fft / 2 + 1
                ),
            );
        }
        if self.window_length() == 0 || self.window_length() > self.n_fft {
            return bad(
                "win_length",
                format!("is {}, must be in 1..={}", self.window_length(), self.n_fft),
            );
        }
        if self.n_mels == 0 {
            return bad("n_mels", "must be >= 1".into());
        }
        if self.kind == FeatureKind::Mfcc && (self.n_mfcc == 0 || self.n_mfcc > self.n_mels) {
            return bad(
                "n_mfcc",
                format!(
                    "is {}, must be in 1..={} (n_mels)",
                    self.n_mfcc, self.n_mels
                ),
            );
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        if !(self.fmin >= 0.0 && self.fmin < self.max_frequency()) {
            return bad(
                "fmin",
                format!(
                    "is {}, must be in 0..fmax ({})",
                    self.fmin,
                    self.max_frequency()
                ),
            );
        }
        if self.max_frequency().is_nan() || self.max_frequency() > nyquist {
            return bad(
                "fmax",
                format!(
                    "is {}, must be <= sample_rate / 2 ({nyquist})",
                    self.max_frequency()
                ),
            );
        }
        if !(self.power > 0.0 && self.power.is_finite()) {
            return bad(
                "power",
                format!("is {}, must be > 0 (1 = magnitude, 2 = power)", self.power),
            );
        }
        if let Some(top) = self.top_db
            && (top.is_nan() || top < 0.0)
        {
            return bad("top_db", format!("is {top}, must be >= 0 or absent"));
        }
        Ok(())
    }
}

/// Why features could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// A setting is out of range.
    #[error("feature setting `{field}` {reason}")]
    Config {
        /// The offending field.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The clip is empty or too short for even one frame.
    #[error("clip of {samples} samples is too short: at least {needed} are needed")]
    TooShort {
        /// Its length.
        samples: usize,
        /// The minimum.
        needed: usize,
    },
    /// One clip of a batch could not be used.
    #[error("clip {clip} of the batch: {error}")]
    InClip {
        /// Its index in the batch.
        clip: usize,
        /// What is wrong with it.
        error: Box<FeatureError>,
    },
    /// A clip's features would not fit one GPU buffer.
    #[error(
        "clip {clip} of the batch has {frames} frames, more than one GPU buffer of {limit} bytes holds; \
         split the recording or use --device cpu"
    )]
    TooLong {
        /// Its index in the batch.
        clip: usize,
        /// Its frames.
        frames: usize,
        /// The buffer limit in bytes.
        limit: u64,
    },
    /// The batch has no clips.
    #[error("empty batch: at least one clip is needed")]
    EmptyBatch,
    /// No wgpu adapter, or the device failed.
    #[error("{0}")]
    Device(String),
}

impl FeatureError {
    /// This error, said of clip `clip` of a batch.
    pub fn in_clip(self, clip: usize) -> Self {
        FeatureError::InClip {
            clip,
            error: Box::new(self),
        }
    }
}

/// Features of one clip, row-major `[frames, coeffs]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Frame count.
    pub frames: usize,
    /// Coefficients per frame.
    pub coeffs: usize,
    /// `frames * coeffs` values.
    pub data: Vec<f32>,
}

impl Features {
    /// Frame `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.coeffs..(t + 1) * self.coeffs]
    }
}

/// Features of several clips, `[clips, max_frames, coeffs]`, zero past each clip's end.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBatch {
    /// Frames of each clip.
    pub frames: Vec<usize>,
    /// The longest clip's frame count.
    pub max_frames: usize,
    /// Coefficients per frame.
    pub coeffs: usize,
    /// `clips * max_frames * coeffs` values.
    pub data: Vec<f32>,
}

impl FeatureBatch {
    /// Packs per-clip features, padding with zeros to the longest.
    pub fn pack(clips: &[Features], coeffs: usize) -> Self {
        let max_frames = clips.iter().map(|c| c.frames).max().unwrap_or(0);
        let mut data = vec![0.0; clips.len() * max_frames * coeffs];
        for (c, feats) in clips.iter().enumerate() {
            let at = c * max_frames * coeffs;
            data[at..at + feats.data.len()].copy_from_slice(&feats.data);
        }
        Self {
            frames: clips.iter().map(|c| c.frames).collect(),
            max_frames,
            coeffs,
            data,
        }
    }

    /// Clip `c` as `[frames, coeffs]`.
    pub fn clip(&self, c: usize) -> &[f32] {
        let at = c * self.max_frames * self.coeffs;
        &self.data[at..at + self.frames[c] * self.coeffs]
    }
}

/// One frame holding the mean, then the population standard deviation, of
/// each value over the clip's frames (zeros for a clip without frames).
pub fn summarize(features: &Features) -> Features {
    let (t, c) = (features.frames, features.coeffs);
    let mut data = vec![0.0f32; 2 * c];
    if t > 0 {
        for j in 0..c {
            let column = (0..t).map(|i| features.data[i * c + j] as f64);
            let mean = column.clone().sum::<f64>() / t as f64;
            let var = column.map(|v| (v - mean).powi(2)).sum::<f64>() / t as f64;
            data[j] = mean as f32;
            data[c + j] = var.sqrt() as f32;
        }
    }
    Features {
        frames: 1,
        coeffs: 2 * c,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_summary_is_the_mean_then_the_population_std_of_each_value() {
        // Frames (1, 10), (3, 10), (5, 40): means (3, 20), stds (√(8/3), √200).
        let f = Features {
            frames: 3,
            coeffs: 2,
            data: vec![1.0, 10.0, 3.0, 10.0, 5.0, 40.0],
        };
        let s = summarize(&f);
        assert_eq!((s.frames, s.coeffs), (1, 4));
        let expected = [3.0, 20.0, (8.0f64 / 3.0).sqrt() as f32, 200f32.sqrt()];
        for (a, b) in s.data.iter().zip(expected) {
            assert!((a - b).abs() < 1e-5, "{:?}", s.data);
        }
        let empty = Features {
            frames: 0,
            coeffs: 2,
            data: Vec::new(),
        };
        assert_eq!(summarize(&empty).data, vec![0.0; 4]);
    }
}
