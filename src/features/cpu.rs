//! The CPU reference: framing, periodic Hann window, real FFT (rustfft via
//! realfft), power spectrum, Slaney mel bank, `power_to_db` and orthonormal DCT-II.
//! Clips run in parallel with rayon; a single long clip splits across frames.

use std::sync::Arc;

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::mel::{MelFilterbank, dct_ortho};
use super::{AMIN, FeatureBatch, FeatureConfig, FeatureError, FeatureKind, Features};

/// Frames per parallel task when one clip is split across threads.
const FRAMES_PER_TASK: usize = 128;

/// A feature extractor for one [`FeatureConfig`]; cheap to share across threads.
pub struct CpuExtractor {
    config: FeatureConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    mel: MelFilterbank,
    dct: Vec<f32>,
}

/// Per-thread buffers for one frame.
struct Scratch {
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
    power: Vec<f32>,
}

impl CpuExtractor {
    /// Validates `config` and plans the FFT, window, mel bank and DCT.
    pub fn new(config: &FeatureConfig) -> Result<Self, FeatureError> {
        config.validate()?;
        let n_fft = config.n_fft;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let mel = MelFilterbank::for_config(config);
        let dct = match config.kind {
            // Stored transposed and padded, [n_mels, lanes]: the DCT becomes a sum of scaled
            // rows in fixed 8-wide blocks, which vectorises (a dot product per coefficient
            // does not, in strict f32).
            FeatureKind::Mfcc => dct_lanes(
                &dct_ortho(config.n_mfcc, config.n_mels),
                config.n_mfcc,
                config.n_mels,
            ),
            FeatureKind::Logmel => Vec::new(),
        };
        Ok(Self {
            config: config.clone(),
            fft,
            window: hann_window(n_fft, config.window_length()),
            mel,
            dct,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Features of one clip, `[frames, coeffs]`.
    pub fn extract(&self, signal: &[f32]) -> Result<Features, FeatureError> {
        let frames = self.config.frames_for(signal.len())?;
        let n_mels = self.config.n_mels;
        let mut mel = vec![0.0f32; frames * n_mels];
        let pad = self.pad();
        mel.par_chunks_mut(FRAMES_PER_TASK * n_mels)
            .enumerate()
            .for_each(|(task, rows)| {
                let mut scratch = self.scratch();
                for (i, row) in rows.chunks_exact_mut(n_mels).enumerate() {
                    let t = task * FRAMES_PER_TASK + i;
                    let start = (t * self.config.hop_length) as isize - pad;
                    self.mel_frame(signal, start, &mut scratch, row);
                }
            });
        Ok(self.finish(mel, frames))
    }

    /// Features of many clips (any lengths), one clip per task.
    pub fn extract_batch(&self, clips: &[&[f32]]) -> Result<FeatureBatch, FeatureError> {
        let features: Vec<Features> = clips
            .par_iter()
            .map(|clip| self.extract_serial(clip))
            .collect::<Result<_, _>>()?;
        Ok(FeatureBatch::pack(&features, self.config.coeffs()))
    }

    /// Features of one clip on the calling thread only (for batches, where clips are the parallel unit).
    pub fn extract_serial(&self, signal: &[f32]) -> Result<Features, FeatureError> {
        let frames = self.config.frames_for(signal.len())?;
        let n_mels = self.config.n_mels;
        let mut mel = vec![0.0f32; frames * n_mels];
        let mut scratch = self.scratch();
        let pad = self.pad();
        for (t, row) in mel.chunks_exact_mut(n_mels).enumerate() {
            self.mel_frame(
                signal,
                (t * self.config.hop_length) as isize - pad,
                &mut scratch,
                row,
            );
        }
        Ok(self.finish(mel, frames))
    }

    /// A stream that takes a clip chunk by chunk and holds at most a frame of audio.
    pub fn stream(&self) -> FeatureStream<'_> {
        FeatureStream {
            extractor: self,
            buffer: Vec::new(),
            buffer_start: 0,
            total: 0,
            next_frame: 0,
            mel: Vec::new(),
            scratch: self.scratch(),
        }
    }

    fn pad(&self) -> isize {
        if self.config.center {
            (self.config.n_fft / 2) as isize
        } else {
            0
        }
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            frame: self.fft.make_input_vec(),
            spectrum: self.fft.make_output_vec(),
            fft: self.fft.make_scratch_vec(),
            power: vec![0.0; self.config.n_fft / 2 + 1],
        }
    }

    /// Mel power of the frame whose first sample is `signal[start]`; samples
    /// outside `signal` are zero (librosa's constant padding).
    fn mel_frame(&self, signal: &[f32], start: isize, s: &mut Scratch, out: &mut [f32]) {
        let n = self.config.n_fft;
        let lo = start.max(0) as usize;
        let hi = ((start + n as isize).max(0) as usize).min(signal.len());
        if hi - lo.min(hi) < n {
            s.frame.fill(0.0);
        }
        if lo < hi {
            let offset = (lo as isize - start) as usize;
            let dst = &mut s.frame[offset..offset + (hi - lo)];
            let win = &self.window[offset..offset + (hi - lo)];
            for ((d, &x), &w) in dst.iter_mut().zip(&signal[lo..hi]).zip(win) {
                *d = x * w;
            }
        }
        self.fft
            .process_with_scratch(&mut s.frame, &mut s.spectrum, &mut s.fft)
            .expect("buffers are sized by the planner");
        let power = self.config.power;
        for (p, c) in s.power.iter_mut().zip(&s.spectrum) {
            let sq = c.re * c.re + c.im * c.im;
            *p = if power == 2.0 {
                sq
            } else if power == 1.0 {
                sq.sqrt()
            } else {
                sq.powf(power / 2.0)
            };
        }
        self.mel.apply(&s.power, out);
    }

    /// Mel power `[frames, n_mels]` to dB with the clip's `top_db` floor, then DCT for MFCC.
    fn finish(&self, mut mel: Vec<f32>, frames: usize) -> Features {
        // 10 * log10(x) as a multiply of ln: the same value, one libm call.
        let db_per_ln = 10.0 / std::f32::consts::LN_10;
        let mut peak = f32::NEG_INFINITY;
        for v in mel.iter_mut() {
            *v = db_per_ln * v.max(AMIN).ln();
            peak = peak.max(*v);
        }
        if let Some(top_db) = self.config.top_db {
            let floor = peak - top_db;
            mel.iter_mut().for_each(|v| *v = v.max(floor));
        }
        let n_mels = self.config.n_mels;
        match self.config.kind {
            FeatureKind::Logmel => Features {
                frames,
                coeffs: n_mels,
                data: mel,
            },
            FeatureKind::Mfcc => {
                let n_mfcc = self.config.n_mfcc;
                let lanes = n_mfcc.next_multiple_of(LANES);
                let mut data = vec![0.0f32; frames * n_mfcc];
                let mut acc = vec![0.0f32; lanes];
                for (row, out) in mel.chunks_exact(n_mels).zip(data.chunks_exact_mut(n_mfcc)) {
                    acc.fill(0.0);
                    for (&x, basis) in row.iter().zip(self.dct.chunks_exact(lanes)) {
                        for (a, b) in acc.chunks_exact_mut(LANES).zip(basis.chunks_exact(LANES)) {
                            for i in 0..LANES {
                                a[i] += x * b[i];
                            }
                        }
                    }
                    out.copy_from_slice(&acc[..n_mfcc]);
                }
                Features {
                    frames,
                    coeffs: n_mfcc,
                    data,
                }
            }
        }
    }
}

/// Streaming extraction: [`push`](Self::push) chunks in order, then [`finish`](Self::finish).
/// Holds at most `n_fft` samples plus one chunk, and the mel rows of frames done.
pub struct FeatureStream<'a> {
    extractor: &'a CpuExtractor,
    buffer: Vec<f32>,
    buffer_start: usize,
    total: usize,
    next_frame: usize,
    mel: Vec<f32>,
    scratch: Scratch,
}

impl FeatureStream<'_> {
    /// Adds the next samples of the clip.
    pub fn push(&mut self, chunk: &[f32]) {
        self.buffer.extend_from_slice(chunk);
        self.total += chunk.len();
        self.drain_frames(false);
    }

    /// Samples pushed so far.
    pub fn samples(&self) -> usize {
        self.total
    }

    /// Computes the last frames (zero-padded at the end) and returns the features.
    pub fn finish(mut self) -> Result<Features, FeatureError> {
        let frames = self.extractor.config.frames_for(self.total)?;
        self.drain_frames(true);
        debug_assert_eq!(self.next_frame, frames);
        Ok(self.extractor.finish(self.mel, frames))
    }

    fn drain_frames(&mut self, at_end: bool) {
        let cfg = &self.extractor.config;
        let (n, hop, pad) = (cfg.n_fft as isize, cfg.hop_length, self.extractor.pad());
        let n_mels = cfg.n_mels;
        let limit = if at_end {
            cfg.frame_count(self.total).unwrap_or(0)
        } else {
            usize::MAX
        };
        while self.next_frame < limit {
            let start = (self.next_frame * hop) as isize - pad;
            if !at_end && start + n > self.total as isize {
                break;
            }
            let row = self.mel.len();
            self.mel.resize(row + n_mels, 0.0);
            // `buffer` holds samples from `buffer_start`, so frame offsets shift by it.
            let local = start - self.buffer_start as isize;
            self.extractor
                .mel_frame(&self.buffer, local, &mut self.scratch, &mut self.mel[row..]);
            self.next_frame += 1;
        }
        let keep_from = ((self.next_frame * hop) as isize - pad).max(0) as usize;
        if keep_from > self.buffer_start {
            let drop = (keep_from - self.buffer_start).min(self.buffer.len());
            self.buffer.drain(..drop);
            self.buffer_start += drop;
        }
    }
}

/// SIMD width the DCT is blocked by (8 f32 = one AVX register).
const LANES: usize = 8;

/// `[n_out, n_in]` to `[n_in, lanes]` with `lanes = n_out` rounded up to [`LANES`], zero-padded.
fn dct_lanes(m: &[f32], n_out: usize, n_in: usize) -> Vec<f32> {
    let lanes = n_out.next_multiple_of(LANES);
    let mut t = vec![0.0; n_in * lanes];
    for k in 0..n_out {
        for i in 0..n_in {
            t[i * lanes + k] = m[k * n_in + i];
        }
    }
    t
}

/// Periodic Hann window of `win_length`, zero-padded to `n_fft` and centred (librosa's `pad_center`).
pub fn hann_window(n_fft: usize, win_length: usize) -> Vec<f32> {
    let mut window = vec![0.0f32; n_fft];
    let offset = (n_fft - win_length) / 2;
    for i in 0..win_length {
        let phase = 2.0 * std::f64::consts::PI * i as f64 / win_length as f64;
        window[offset + i] = (0.5 - 0.5 * phase.cos()) as f32;
    }
    window
}
