//! Decoding every format and bit depth, mixing down, resampling, and bad input.
use crate::common;

use std::io::Write;
use std::path::Path;

use earshot::audio::{self, AudioErrorKind};

fn test_signal(n: usize, channels: usize) -> Vec<f32> {
    // Distinct per channel so a wrong mixdown shows.
    (0..n * channels)
        .map(|i| {
            let (t, ch) = ((i / channels) as f32, (i % channels) as f32);
            0.8 * (t * 0.013 * (ch + 1.0)).sin()
                * if (ch as usize).is_multiple_of(2) {
                    1.0
                } else {
                    -0.5
                }
        })
        .collect()
}

fn write_wav(path: &Path, spec: hound::WavSpec, interleaved: &[f32]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in interleaved {
        match spec.sample_format {
            hound::SampleFormat::Float => w.write_sample(s).unwrap(),
            hound::SampleFormat::Int => {
                let full = (1i64 << (spec.bits_per_sample - 1)) as f32;
                let q = (s * full).round().clamp(-full, full - 1.0) as i32;
                match spec.bits_per_sample {
                    8 => w.write_sample(q as i8).unwrap(),
                    16 => w.write_sample(q as i16).unwrap(),
                    _ => w.write_sample(q).unwrap(),
                }
            }
        }
    }
    w.finalize().unwrap();
}

#[test]
fn every_wav_depth_and_channel_count_decodes_to_the_mono_mean() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40_000; // more than one read chunk
    for (bits, format) in [
        (8, hound::SampleFormat::Int),
        (16, hound::SampleFormat::Int),
        (24, hound::SampleFormat::Int),
        (32, hound::SampleFormat::Int),
        (32, hound::SampleFormat::Float),
    ] {
        for channels in [1u16, 2, 5] {
            let path = dir
                .path()
                .join(format!("s{bits}_{format:?}_{channels}.wav"));
            let signal = test_signal(n, channels as usize);
            let spec = hound::WavSpec {
                channels,
                sample_rate: 11_025,
                bits_per_sample: bits,
                sample_format: format,
            };
            write_wav(&path, spec, &signal);
            let clip = audio::load(&path, None).unwrap();
            assert_eq!(clip.sample_rate, 11_025);
            assert_eq!(clip.source.channels, channels);
            assert_eq!(clip.samples.len(), n);
            // One quantisation step, but never below f32's own resolution near 1.
            let step = if format == hound::SampleFormat::Float {
                1e-7
            } else {
                1.0 / (1u64 << (bits - 1)) as f32
            };
            let step = step.max(2e-7);
            for (t, got) in clip.samples.iter().enumerate() {
                let frame = &signal[t * channels as usize..(t + 1) * channels as usize];
                let mean = frame.iter().sum::<f32>() / channels as f32;
                assert!(
                    (got - mean).abs() <= step,
                    "{bits}-bit {format:?} x{channels} sample {t}: {got} vs {mean}"
                );
            }
        }
    }
}

#[test]
fn flac_is_lossless_and_lossy_codecs_keep_level_and_length() {
    let reference = audio::load(&common::fixture("chirp_16k_float.wav"), None).unwrap();
    let flac = audio::load(&common::fixture("chirp_16k.flac"), None).unwrap();
    assert_eq!(flac.samples.len(), reference.samples.len());
    let worst = flac
        .samples
        .iter()
        .zip(&reference.samples)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst <= 1.0 / 32768.0 + 1e-6, "FLAC differs by {worst}");

    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    for name in ["chirp_16k.ogg", "chirp_16k.mp3"] {
        let lossy = audio::load(&common::fixture(name), None).unwrap();
        assert_eq!(lossy.sample_rate, 16_000, "{name}");
        let extra = lossy.samples.len() as f64 / reference.samples.len() as f64;
        assert!(
            (0.95..1.15).contains(&extra),
            "{name}: {} samples vs {}",
            lossy.samples.len(),
            reference.samples.len()
        );
        let level_db = 20.0 * (rms(&lossy.samples) / rms(&reference.samples)).log10();
        assert!(
            level_db.abs() < 1.0,
            "{name}: level off by {level_db:.2} dB"
        );
    }
}

/// Frequency of a pure tone from its zero crossings, and its level in dBFS RMS.
fn tone_stats(x: &[f32], rate: f64) -> (f64, f64) {
    let crossings: Vec<f64> = x
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[0] < 0.0 && w[1] >= 0.0)
        .map(|(i, w)| i as f64 + (-w[0] / (w[1] - w[0])) as f64)
        .collect();
    let periods = (crossings.len() - 1) as f64;
    let freq = periods * rate / (crossings[crossings.len() - 1] - crossings[0]);
    let rms = (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    (freq, 20.0 * rms.log10())
}

#[test]
fn resampling_a_1khz_sine_keeps_frequency_and_level() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sine_44k.wav");
    let n = 44_100 * 2 + 123;
    let sine: Vec<f32> = (0..n)
        .map(|i| 0.5 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() as f32)
        .collect();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    write_wav(&path, spec, &sine);

    let clip = audio::load(&path, Some(16_000)).unwrap();
    assert_eq!(clip.sample_rate, 16_000);
    assert_eq!(
        clip.samples.len(),
        (n as u64 * 16_000).div_ceil(44_100) as usize
    );
    // Away from the edges, where the filter sees zeros beyond the signal.
    let (_, in_db) = tone_stats(&sine[4410..n - 4410], 44_100.0);
    let body = &clip.samples[1600..clip.samples.len() - 1600];
    let (freq, out_db) = tone_stats(body, 16_000.0);
    assert!((freq - 1000.0).abs() < 0.1, "frequency {freq}");
    assert!(
        (out_db - in_db).abs() < 0.1,
        "level {out_db:.3} dB vs {in_db:.3} dB"
    );
    // The resampler's delay is trimmed: the tone stays in phase with the original
    // (0.06 of the amplitude 0.5 is 0.12 rad, a fifth of an output sample at 1 kHz).
    for n in [5000usize, 5004, 9001] {
        let expected =
            0.5 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / 16_000.0).sin() as f32;
        assert!(
            (clip.samples[n] - expected).abs() < 0.06,
            "sample {n}: {} vs {expected}",
            clip.samples[n]
        );
    }
}

fn error_of(path: &Path) -> AudioErrorKind {
    match audio::load(path, Some(16_000)) {
        Ok(clip) => panic!(
            "{} decoded to {} samples",
            path.display(),
            clip.samples.len()
        ),
        Err(e) => {
            assert_eq!(e.path, path);
            assert!(
                e.to_string().starts_with(&path.display().to_string()),
                "{e}"
            );
            e.kind
        }
    }
}

/// A canonical 44-byte PCM WAV header.
fn wav_header(channels: u16, format_tag: u16, bits: u16, data_bytes: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format_tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&16_000u32.to_le_bytes());
    let block = channels.max(1) * bits / 8;
    h.extend_from_slice(&(16_000 * block as u32).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_bytes.to_le_bytes());
    h
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

#[test]
fn bad_files_give_a_reason_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let full = wav_header(1, 1, 16, 2000);

    let truncated_header = write_bytes(d, "truncated_header.wav", &full[..20]);
    let kind = error_of(&truncated_header);
    assert!(matches!(kind, AudioErrorKind::NotAudio { .. }), "{kind:?}");

    let mut short_data = full.clone();
    short_data.extend(std::iter::repeat_n(0u8, 600)); // declares 2000 bytes, holds 600
    let long_chunk = write_bytes(d, "data_chunk_too_long.wav", &short_data);
    match error_of(&long_chunk) {
        AudioErrorKind::Truncated { declared, read } => assert_eq!((declared, read), (1000, 300)),
        other => panic!("{other}"),
    }

    let zero = write_bytes(d, "zero_samples.wav", &wav_header(1, 1, 16, 0));
    assert!(matches!(error_of(&zero), AudioErrorKind::Empty));

    let text = write_bytes(d, "notes.wav", b"this is a text file, not audio\n");
    let message = error_of(&text).to_string();
    assert!(message.contains("not a valid WAV"), "{message}");

    let mut adpcm = wav_header(1, 0x1234, 16, 4);
    adpcm.extend_from_slice(&[0; 4]);
    let unsupported = write_bytes(d, "odd_codec.wav", &adpcm);
    assert!(matches!(
        error_of(&unsupported),
        AudioErrorKind::Unsupported(_)
    ));

    let mut no_channels = wav_header(0, 1, 16, 4);
    no_channels.extend_from_slice(&[0; 4]);
    let no_channels = write_bytes(d, "no_channels.wav", &no_channels);
    assert!(matches!(error_of(&no_channels), AudioErrorKind::NoChannels));

    for (name, bad) in [("nan.wav", f32::NAN), ("inf.wav", f32::INFINITY)] {
        let path = d.join(name);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut samples = vec![0.1f32; 20_000];
        samples[17_000] = bad;
        write_wav(&path, spec, &samples);
        assert!(
            matches!(error_of(&path), AudioErrorKind::NonFinite { index: 17_000 }),
            "{name}"
        );
    }

    let garbage = write_bytes(d, "garbage.flac", &[0x42; 500]);
    assert!(matches!(error_of(&garbage), AudioErrorKind::Unsupported(_)));
    let missing = d.join("missing.mp3");
    assert!(matches!(error_of(&missing), AudioErrorKind::Io(_)));
}
