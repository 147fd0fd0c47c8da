//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod conv_cases;
pub mod http;
pub mod kernels;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A generated fixture under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests").join("fixtures").join(name)
}

/// The real recordings committed under tests/fixtures/real (see its README):
/// FSDD speech, a forest soundscape, Bird Audio Detection clips and labels.
pub fn real_data() -> PathBuf {
    repo().join("tests").join("fixtures").join("real")
}

/// A generated dataset of 1 s clips in `dir/data` (folders layout): `train`
/// normal training clips, `test` normal and `test` anomalous test clips.
pub fn synth_data(dir: &Path, train: usize, test: usize, seed: u64) {
    let counts = earshot::data::synth::SynthCounts {
        train,
        test_normal: test,
        test_anomaly: test,
        seconds: 1.0,
    };
    earshot::data::synth::write_dataset(&dir.join("data"), counts, seed).unwrap();
}

/// max |a - b| / max |b|, the parity measure of the issues.
pub fn relative_max_error(ours: &[f32], reference: &[f32]) -> f64 {
    assert_eq!(ours.len(), reference.len(), "lengths differ");
    let peak = reference.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let worst = ours
        .iter()
        .zip(reference)
        .fold(0.0f64, |m, (a, b)| m.max((*a as f64 - *b as f64).abs()));
    worst / peak.max(f64::MIN_POSITIVE)
}

/// Reads a float32 .npy file as (shape, data).
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    earshot::features::npy::read_f32(std::io::BufReader::new(file)).expect("valid npy")
}

/// A command's stdout and stderr together.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A command's stdout and stderr together, after asserting it succeeded.
pub fn ok(out: &std::process::Output) -> String {
    let text = text(out);
    assert!(out.status.success(), "{text}");
    text
}

/// The earshot binary, run in `dir` with its feature cache inside `dir`.
pub fn earshot(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_earshot"));
    cmd.current_dir(dir)
        .env("EARSHOT_CACHE_DIR", dir.join("cache"));
    cmd
}

/// A 16-bit mono 8 kHz WAV of 800 samples of `sin(step * i)` (amplitude 1,000), in memory.
pub fn sine_wav(step: f32) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..800 {
        w.write_sample(((i as f32 * step).sin() * 1000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

/// The one check of every test that needs a wgpu adapter: `true` (skip) when
/// `missing` says none was found on a developer's machine without a Vulkan
/// driver; under CI, which installs lavapipe, a missing adapter fails the
/// test. `what` is what said so (stderr, an error).
pub fn skip_without_wgpu(missing: bool, what: &str) -> bool {
    if !missing {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "no wgpu adapter under CI: {what}"
    );
    eprintln!("skipped: no wgpu adapter here (install mesa-vulkan-drivers to run it): {what}");
    true
}

/// [`skip_without_wgpu`] for an `earshot` command's stderr.
pub fn skip_without_wgpu_adapter(stderr: &str) -> bool {
    skip_without_wgpu(stderr.contains("no wgpu adapter found"), stderr)
}
