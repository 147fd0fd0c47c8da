//! The Slaney mel scale and area-normalised triangular filterbank (librosa's
//! `filters.mel` with `htk=False, norm="slaney"`), computed in f64 and stored sparse.

/// Hz to mel on the Slaney scale: linear below 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let log_step = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / log_step
    } else {
        hz / F_SP
    }
}

/// Mel to Hz on the Slaney scale (inverse of [`hz_to_mel`]).
pub fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let log_step = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (log_step * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// One band: weights for the contiguous FFT bins starting at `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBand {
    /// First bin with a non-zero weight.
    pub start: usize,
    /// Weights of bins `start..start + weights.len()`.
    pub weights: Vec<f32>,
}

/// A mel filterbank over `n_fft / 2 + 1` bins.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    /// One entry per mel band, low to high.
    pub bands: Vec<MelBand>,
    /// FFT bins the bank reads.
    pub bins: usize,
}

impl MelFilterbank {
    /// The bank `config` asks for.
    pub fn for_config(config: &super::FeatureConfig) -> Self {
        Self::new(
            config.sample_rate,
            config.n_fft,
            config.n_mels,
            config.fmin as f64,
            config.max_frequency() as f64,
        )
    }

    /// The bank librosa builds for these settings.
    pub fn new(sample_rate: u32, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let bins = n_fft / 2 + 1;
        let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
        let edges: Vec<f64> = (0..n_mels + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
            .collect();
        let bin_hz = |k: usize| k as f64 * sample_rate as f64 / n_fft as f64;
        let bands = (0..n_mels)
            .map(|m| {
                let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
                let norm = 2.0 / (right - left);
                let weight = |k: usize| {
                    let f = bin_hz(k);
                    let rising = (f - left) / (centre - left);
                    let falling = (right - f) / (right - centre);
                    rising.min(falling).max(0.0) * norm
                };
                let nonzero: Vec<usize> = (0..bins).filter(|&k| weight(k) > 0.0).collect();
                match (nonzero.first(), nonzero.last()) {
                    (Some(&a), Some(&b)) => MelBand {
                        start: a,
                        weights: (a..=b).map(|k| weight(k) as f32).collect(),
                    },
                    // Too narrow to catch a bin: librosa warns and keeps an empty band.
                    _ => MelBand {
                        start: 0,
                        weights: Vec::new(),
                    },
                }
            })
            .collect();
        Self { bands, bins }
    }

    /// Applies the bank to one power spectrum.
    #[inline]
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        for (band, o) in self.bands.iter().zip(out.iter_mut()) {
            let bins = &power[band.start..band.start + band.weights.len()];
            *o = bins.iter().zip(&band.weights).map(|(p, w)| p * w).sum();
        }
    }

    /// Non-zero weights in the bank (work per frame).
    pub fn nonzeros(&self) -> usize {
        self.bands.iter().map(|b| b.weights.len()).sum()
    }
}

/// The orthonormal DCT-II matrix `[n_out, n_in]` (scipy's `dct(type=2, norm="ortho")`).
pub fn dct_ortho(n_out: usize, n_in: usize) -> Vec<f32> {
    let n = n_in as f64;
    let mut m = Vec::with_capacity(n_out * n_in);
    for k in 0..n_out {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..n_in {
            let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
            m.push((scale * angle.cos()) as f32);
        }
    }
    m
}
