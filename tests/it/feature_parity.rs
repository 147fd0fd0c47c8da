//! The CPU reference against librosa 0.11 (numbers from tests/reference/make_librosa_fixtures.py).
use crate::common;

use earshot::audio;
use earshot::features::{CpuExtractor, FeatureConfig, FeatureKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    audio: String,
    sample_rate: u32,
    n_fft: usize,
    hop_length: usize,
    n_mels: usize,
    n_mfcc: usize,
    win_length: Option<usize>,
    fmin: Option<f32>,
    fmax: Option<f32>,
}

impl Case {
    fn config(&self, kind: FeatureKind) -> FeatureConfig {
        FeatureConfig {
            sample_rate: self.sample_rate,
            n_fft: self.n_fft,
            hop_length: self.hop_length,
            win_length: self.win_length,
            n_mels: self.n_mels,
            n_mfcc: self.n_mfcc,
            fmin: self.fmin.unwrap_or(0.0),
            fmax: self.fmax,
            kind,
            ..FeatureConfig::default()
        }
    }
}

fn manifest() -> Manifest {
    let path = common::repo().join("tests/reference/librosa/cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("cases.json"))
        .expect("valid manifest")
}

#[test]
fn cpu_features_match_librosa_within_1e3() {
    let real = common::real_data();
    let mut checked = 0;
    for case in manifest().cases {
        let (root, rel) = case.audio.split_once('/').expect("prefixed path");
        let path = match root {
            "fixtures" => common::fixture(rel),
            // "shared/..." cases: the real recordings committed under tests/fixtures/real.
            _ => real.join(rel),
        };
        // Native rate: the reference was computed without resampling.
        let clip = audio::load(&path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(clip.sample_rate, case.sample_rate, "{}", case.name);
        for (kind, suffix) in [(FeatureKind::Mfcc, "mfcc"), (FeatureKind::Logmel, "logmel")] {
            let extractor = CpuExtractor::new(&case.config(kind)).expect("valid config");
            let ours = extractor.extract(&clip.samples).expect("features");
            let reference = common::repo().join(format!(
                "tests/reference/librosa/{}_{suffix}.npy",
                case.name
            ));
            let (shape, expected) = common::read_npy(&reference);
            assert_eq!(
                [ours.frames, ours.coeffs],
                [shape[0], shape[1]],
                "{} {suffix} shape",
                case.name
            );
            let err = common::relative_max_error(&ours.data, &expected);
            assert!(
                err <= 1e-3,
                "{} {suffix}: max |ours - librosa| / max |librosa| = {err:.2e}",
                case.name
            );
            checked += 1;
        }
    }
    // Every case, MFCC and log-mel: none may be left out.
    assert_eq!(checked, 2 * manifest().cases.len(), "comparisons run");
}

#[test]
fn streaming_batch_and_whole_clip_agree() {
    let clip = audio::load(&common::fixture("chirp_16k_float.wav"), None).unwrap();
    for kind in [FeatureKind::Mfcc, FeatureKind::Logmel] {
        let config = FeatureConfig {
            n_fft: 512,
            hop_length: 160,
            kind,
            ..FeatureConfig::default()
        };
        let extractor = CpuExtractor::new(&config).unwrap();
        let whole = extractor.extract(&clip.samples).unwrap();
        // Odd chunk sizes cross frame boundaries at every offset.
        for chunk in [1usize, 77, 160, 1000, 100_000] {
            let mut stream = extractor.stream();
            clip.samples.chunks(chunk).for_each(|c| stream.push(c));
            assert_eq!(stream.finish().unwrap(), whole, "chunk {chunk}");
        }
        let short = &clip.samples[..3000];
        let batch = extractor.extract_batch(&[&clip.samples, short]).unwrap();
        assert_eq!(batch.clip(0), &whole.data[..]);
        assert_eq!(batch.clip(1), &extractor.extract(short).unwrap().data[..]);
        assert_eq!(batch.frames, vec![whole.frames, 1 + 3000 / 160]);
        // Padding past the short clip's end is zero.
        assert!(
            batch.data[batch.max_frames * batch.coeffs + batch.clip(1).len()..]
                .iter()
                .all(|&v| v == 0.0)
        );
    }
}

#[test]
fn frame_counts_follow_librosa() {
    let c = FeatureConfig::default();
    assert_eq!(c.frame_count(16_000), Some(1 + 16_000 / 512));
    assert_eq!(c.frame_count(1), Some(1));
    let uncentred = FeatureConfig { center: false, ..c };
    assert_eq!(uncentred.frame_count(1023), None);
    assert_eq!(uncentred.frame_count(1024 + 512 * 3), Some(4));
}

#[test]
fn invalid_settings_name_the_field() {
    let cases = [
        (
            FeatureConfig {
                n_mfcc: 200,
                ..Default::default()
            },
            "n_mfcc",
        ),
        (
            FeatureConfig {
                hop_length: 0,
                ..Default::default()
            },
            "hop_length",
        ),
        (
            FeatureConfig {
                fmax: Some(9000.0),
                ..Default::default()
            },
            "fmax",
        ),
        (
            FeatureConfig {
                win_length: Some(4096),
                ..Default::default()
            },
            "win_length",
        ),
        // Settings that make a feature meaningless name the range.
        (
            FeatureConfig {
                n_fft: 2,
                ..Default::default()
            },
            "`n_fft` is 2, must be >= 16",
        ),
        (
            FeatureConfig {
                hop_length: 2048,
                ..Default::default()
            },
            "must be in 1..=1024 (n_fft",
        ),
        (
            FeatureConfig {
                n_fft: 64,
                hop_length: 32,
                n_mels: 40,
                n_mfcc: 13,
                ..Default::default()
            },
            "must be in 1..=33 (n_fft/2+1",
        ),
    ];
    for (config, field) in cases {
        let message = CpuExtractor::new(&config)
            .err()
            .expect("rejected")
            .to_string();
        assert!(message.contains(field), "{message}");
    }
    let empty = CpuExtractor::new(&FeatureConfig::default())
        .unwrap()
        .extract(&[]);
    assert!(empty.unwrap_err().to_string().contains("too short"));
}
