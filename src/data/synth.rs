//! A small deterministic dataset in the `folders` layout, generated rather than
//! downloaded: household-like normal sound (noise, mains hum, speech-like
//! formant bursts) and anomalies (bird-like chirps, cough-like bursts) on top
//! of the same background. Used by `earshot demo` and the tests.

use std::f32::consts::PI;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};

/// Sample rate of generated clips.
pub const SYNTH_RATE: u32 = 16_000;

/// How many clips of each role, and how long.
#[derive(Debug, Clone, Copy)]
pub struct SynthCounts {
    /// `train/normal` clips.
    pub train: usize,
    /// `test/normal` clips.
    pub test_normal: usize,
    /// `test/anomaly` clips.
    pub test_anomaly: usize,
    /// Seconds per clip.
    pub seconds: f32,
}

/// Household-like background: lowpassed noise, hum, and speech-like bursts.
pub fn normal_clip(rng: &mut StdRng, seconds: f32) -> Vec<f32> {
    let n = (seconds * SYNTH_RATE as f32) as usize;
    let normal = Normal::new(0.0f32, 1.0).expect("unit normal");
    let mut out = vec![0.0f32; n];
    let mut low = 0.0f32;
    let hum = rng.random_range(48.0f32..62.0);
    let level = rng.random_range(0.02f32..0.05);
    for (i, v) in out.iter_mut().enumerate() {
        low = 0.97 * low + 0.03 * normal.sample(rng);
        let t = i as f32 / SYNTH_RATE as f32;
        *v = level * 4.0 * low
            + 0.02 * (2.0 * PI * hum * t).sin()
            + 0.01 * (4.0 * PI * hum * t).sin();
    }
    // Two or three voiced bursts: a harmonic source shaped by two formants.
    for _ in 0..rng.random_range(2..4) {
        let start = rng.random_range(0..n.saturating_sub(SYNTH_RATE as usize / 2).max(1));
        let len = rng
            .random_range(SYNTH_RATE as usize / 6..SYNTH_RATE as usize / 2)
            .min(n - start);
        let f0 = rng.random_range(110.0f32..220.0);
        let formants = [
            rng.random_range(500.0f32..900.0),
            rng.random_range(1200.0f32..2200.0),
        ];
        for k in 0..len {
            let t = k as f32 / SYNTH_RATE as f32;
            let envelope = (PI * k as f32 / len as f32).sin().powi(2);
            let mut s = 0.0;
            for h in 1..20 {
                let f = f0 * h as f32;
                let gain: f32 = formants
                    .iter()
                    .map(|&fm| 1.0 / (1.0 + ((f - fm) / 150.0).powi(2)))
                    .sum();
                s += gain * (2.0 * PI * f * t).sin() / h as f32;
            }
            out[start + k] += 0.08 * envelope * s;
        }
    }
    out
}

/// The background with an anomaly on top: a chirp series or a cough-like burst.
pub fn anomalous_clip(rng: &mut StdRng, seconds: f32) -> Vec<f32> {
    let mut out = normal_clip(rng, seconds);
    let n = out.len();
    if rng.random_bool(0.5) {
        // Bird-like: a few fast downward-upward sweeps between 2 and 6 kHz.
        let mut at = rng.random_range(0..n / 3);
        while at + SYNTH_RATE as usize / 8 < n {
            let len = SYNTH_RATE as usize / 10;
            let (f_start, f_end) = (
                rng.random_range(3000.0f32..6000.0),
                rng.random_range(2000.0f32..4000.0),
            );
            let mut phase = 0.0f32;
            for k in 0..len {
                let f = f_start + (f_end - f_start) * k as f32 / len as f32;
                phase += 2.0 * PI * f / SYNTH_RATE as f32;
                out[at + k] += 0.15 * (PI * k as f32 / len as f32).sin() * phase.sin();
            }
            at += len + rng.random_range(SYNTH_RATE as usize / 20..SYNTH_RATE as usize / 4);
        }
    } else {
        // Cough-like: broadband noise with a sharp attack and a fast decay, twice.
        let normal = Normal::new(0.0f32, 1.0).expect("unit normal");
        for _ in 0..2 {
            let start = rng.random_range(0..n - SYNTH_RATE as usize / 3);
            for k in 0..SYNTH_RATE as usize / 3 {
                let t = k as f32 / SYNTH_RATE as f32;
                out[start + k] +=
                    0.4 * (-t / 0.06).exp() * (1.0 - (-t / 0.004).exp()) * normal.sample(rng);
            }
        }
    }
    out
}

/// Writes the dataset under `root` (16-bit PCM WAV) and returns the file count.
pub fn write_dataset(root: &Path, counts: SynthCounts, seed: u64) -> std::io::Result<usize> {
    // Only a folder earshot generated (or an empty one) is written into.
    crate::fsx::clear_generated(root)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut files = Vec::new();
    let roles: [(&str, usize, bool); 3] = [
        ("train/normal", counts.train, false),
        ("test/normal", counts.test_normal, false),
        ("test/anomaly", counts.test_anomaly, true),
    ];
    for (folder, count, anomalous) in roles {
        let dir = root.join(folder);
        std::fs::create_dir_all(&dir)?;
        for i in 0..count {
            let clip = if anomalous {
                anomalous_clip(&mut rng, counts.seconds)
            } else {
                normal_clip(&mut rng, counts.seconds)
            };
            let stem = if anomalous { "anomaly" } else { "normal" };
            let name = format!("{stem}_{i:04}.wav");
            write_wav(&dir.join(&name), &clip)?;
            files.push(Path::new(folder).join(name));
        }
    }
    crate::fsx::mark_generated(root, &files)?;
    Ok(files.len())
}

fn write_wav(path: &Path, samples: &[f32]) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SYNTH_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let to_io = |e: hound::Error| std::io::Error::other(e.to_string());
    let mut writer = hound::WavWriter::create(path, spec).map_err(to_io)?;
    for &s in samples {
        writer
            .write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .map_err(to_io)?;
    }
    writer.finalize().map_err(to_io)
}
