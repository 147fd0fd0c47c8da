//! The WGSL feature kernels against the CPU reference, on lavapipe in CI and
//! on the real adapter on a GPU machine: max |gpu - cpu| / max |cpu| <= 1e-4
//! per clip. Without an adapter the tests skip locally and fail under CI=true.
use crate::common;

use earshot::audio;
use earshot::features::gpu::GpuExtractor;
use earshot::features::{CpuExtractor, FeatureConfig, FeatureError, FeatureKind};

const SR: u32 = 22_050;

fn gpu(config: &FeatureConfig) -> Option<GpuExtractor> {
    match GpuExtractor::new(config) {
        Ok(g) => Some(g),
        Err(FeatureError::Device(msg)) => {
            assert!(crate::common::skip_without_wgpu(true, &msg));
            None
        }
        Err(e) => panic!("GPU extractor: {e}"),
    }
}

/// Real recordings (tests/fixtures/real) and generated signals of mixed
/// lengths, one shorter than any n_fft tested.
fn clips() -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    let load = |p: std::path::PathBuf| audio::load(&p, Some(SR)).unwrap().samples;
    let shared = common::real_data();
    out.push((
        "fsdd".into(),
        load(shared.join("fsdd/train/normal/0_george_0.wav")),
    ));
    out.push((
        "birds".into(),
        load(shared.join("birds/fd79e55d-d3a3-4083-aba1-4f00b545c3d6.wav")),
    ));
    let mut soundscape = load(shared.join("soundscape/S4A03895_20190522_000000.wav"));
    soundscape.truncate(20 * SR as usize);
    out.push(("soundscape".into(), soundscape));
    out.push(("chirp".into(), load(common::fixture("chirp_16k_float.wav"))));
    out.push((
        "short_300".into(),
        load(common::fixture("short_16k_pcm16.wav")),
    ));
    // Deterministic noise with a loud burst: exercises the top_db floor.
    let mut state = 7u32;
    let noise: Vec<f32> = (0..31_111)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let x = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            if (10_000..12_000).contains(&i) {
                x
            } else {
                1e-4 * x
            }
        })
        .collect();
    out.push(("noise_burst".into(), noise));
    out.push(("tiny_7".into(), vec![0.25, -0.5, 0.75, 1.0, -1.0, 0.5, 0.1]));
    out
}

#[test]
fn gpu_features_match_the_cpu_reference_within_1e4() {
    let clips = clips();
    assert!(
        clips.iter().any(|(_, c)| c.len() < 512),
        "a clip shorter than n_fft"
    );
    for n_fft in [512, 1024, 2048] {
        for kind in [FeatureKind::Logmel, FeatureKind::Mfcc] {
            let config = FeatureConfig {
                sample_rate: SR,
                n_fft,
                hop_length: n_fft / 4,
                n_mels: 64,
                n_mfcc: 20,
                kind,
                ..FeatureConfig::default()
            };
            let Some(gpu) = gpu(&config) else { return };
            let cpu = CpuExtractor::new(&config).unwrap();
            let refs: Vec<&[f32]> = clips.iter().map(|(_, c)| c.as_slice()).collect();
            let batch = gpu.extract_batch(&refs).unwrap();
            for (c, (name, clip)) in clips.iter().enumerate() {
                let want = cpu.extract(clip).unwrap();
                assert_eq!(batch.frames[c], want.frames, "{name} n_fft {n_fft}");
                let err = common::relative_max_error(batch.clip(c), &want.data);
                assert!(
                    err <= 1e-4,
                    "{name} n_fft {n_fft} {kind:?}: relative error {err:.2e}"
                );
            }
            // Padding past each clip's end is zero.
            let last = batch.frames[0] * batch.coeffs;
            let row = &batch.data[..batch.max_frames * batch.coeffs];
            assert!(row[last..].iter().all(|&v| v == 0.0));
        }
    }
}

#[test]
fn other_settings_match_too_win_length_fmin_fmax_power_and_no_top_db() {
    let clips = clips();
    let refs: Vec<&[f32]> = clips.iter().map(|(_, c)| c.as_slice()).collect();
    let configs = [
        FeatureConfig {
            sample_rate: SR,
            n_fft: 256,
            hop_length: 100,
            win_length: Some(200),
            n_mels: 40,
            fmin: 300.0,
            fmax: Some(8_000.0),
            ..FeatureConfig::default()
        },
        FeatureConfig {
            sample_rate: SR,
            n_fft: 4096,
            hop_length: 1024,
            n_mels: 128,
            kind: FeatureKind::Logmel,
            ..FeatureConfig::default()
        },
        // Magnitude (power 1) halves the dB scale, so top_db 80 would reach 160 dB
        // below the peak in power: under f32 FFT round-off on either path.
        FeatureConfig {
            sample_rate: SR,
            n_fft: 1024,
            hop_length: 256,
            n_mels: 64,
            power: 1.0,
            top_db: Some(40.0),
            kind: FeatureKind::Logmel,
            ..FeatureConfig::default()
        },
        FeatureConfig {
            sample_rate: SR,
            n_fft: 1024,
            hop_length: 512,
            n_mels: 32,
            n_mfcc: 13,
            center: false,
            top_db: None,
            ..FeatureConfig::default()
        },
    ];
    for config in configs {
        let Some(gpu) = gpu(&config) else { return };
        let cpu = CpuExtractor::new(&config).unwrap();
        // center = false cannot frame a clip shorter than n_fft: leave those out.
        let usable: Vec<&[f32]> = refs
            .iter()
            .copied()
            .filter(|c| cpu.extract(c).is_ok())
            .collect();
        let batch = gpu.extract_batch(&usable).unwrap();
        for (c, clip) in usable.iter().enumerate() {
            let want = cpu.extract(clip).unwrap();
            let err = common::relative_max_error(batch.clip(c), &want.data);
            assert!(err <= 1e-4, "clip {c} {config:?}: relative error {err:.2e}");
        }
    }
}

#[test]
fn a_small_buffer_limit_splits_launches_with_the_same_numbers_and_dispatches_do_not_grow_with_clips()
 {
    let config = FeatureConfig {
        sample_rate: SR,
        n_fft: 512,
        hop_length: 128,
        n_mels: 40,
        ..FeatureConfig::default()
    };
    let Some(gpu) = gpu(&config) else { return };
    let clips = clips();
    let refs: Vec<&[f32]> = clips.iter().map(|(_, c)| c.as_slice()).collect();
    let (whole, stats) = gpu.extract_batch_with_stats(&refs).unwrap();
    assert_eq!(stats.dispatches, 4, "one launch: stft, mel, max, finish");
    let many: Vec<&[f32]> = refs.iter().copied().cycle().take(refs.len() * 6).collect();
    let (_, many_stats) = gpu.extract_batch_with_stats(&many).unwrap();
    assert_eq!(
        many_stats.dispatches, 4,
        "six times the clips, same dispatches"
    );

    let small = GpuExtractor::new(&config)
        .unwrap()
        .with_buffer_limit(300_000);
    let (split, split_stats) = small.extract_batch_with_stats(&refs).unwrap();
    assert!(split_stats.dispatches > 4, "{split_stats:?}");
    assert_eq!(split.frames, whole.frames);
    let err = common::relative_max_error(&split.data, &whole.data);
    assert!(err <= 1e-6, "split vs whole: {err:.2e}");
}

/// lavapipe ends every loop of a shader invocation after 65,535 iterations
/// in all (src/models/gpu/limits.rs), so a kernel whose loop grows with a
/// clip would stop part-way through a long one, silently. Here a clip of
/// 137,500 frames x 128 mels (17.6 M values, more than 65,535 per thread of
/// a 256-thread workgroup) is quiet for 2.1 M samples and loud only at its
/// end: its top_db floor must still come from the loud end.
#[test]
fn a_long_clip_keeps_its_top_db_floor_past_the_loop_budget() {
    let config = FeatureConfig {
        sample_rate: 16_000,
        n_fft: 256,
        hop_length: 16,
        n_mels: 128,
        n_mfcc: 20,
        ..FeatureConfig::default()
    };
    let Some(gpu) = gpu(&config) else { return };
    let samples = 2_200_000;
    let mut state = 11u32;
    let clip: Vec<f32> = (0..samples)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let x = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            if i >= samples - 4_000 { x } else { 1e-6 * x }
        })
        .collect();
    let want = CpuExtractor::new(&config).unwrap().extract(&clip).unwrap();
    assert!(want.frames * config.n_mels > 65_535 * 256);
    let got = gpu.extract_batch(&[&clip]).unwrap();
    let err = common::relative_max_error(got.clip(0), &want.data);
    assert!(err <= 1e-4, "relative error {err:.2e}");
}

#[test]
fn bad_batches_are_errors_not_panics() {
    let config = FeatureConfig {
        n_fft: 1000,
        ..FeatureConfig::default()
    };
    let err = GpuExtractor::new(&config).unwrap_err().to_string();
    assert!(
        err.contains("n_fft") && err.contains("1024") && err.contains("--device cpu"),
        "{err}"
    );

    let config = FeatureConfig::default();
    let Some(gpu) = gpu(&config) else { return };
    assert!(matches!(
        gpu.extract_batch(&[]),
        Err(FeatureError::EmptyBatch)
    ));
    let ok = vec![0.1f32; 4_000];
    let err = gpu.extract_batch(&[&ok, &[]]).unwrap_err().to_string();
    assert!(err.contains("clip 1") && err.contains("too short"), "{err}");
    let nan = vec![f32::NAN; 100];
    let err = gpu.extract_batch(&[&nan]).unwrap_err().to_string();
    assert!(
        err.contains("clip 0") && err.contains("non-finite"),
        "{err}"
    );
    // A clip too long for the buffer limit is named, not a validation panic.
    let long = vec![0.1f32; 200_000];
    let err = GpuExtractor::new(&config)
        .unwrap()
        .with_buffer_limit(100_000)
        .extract_batch(&[&long])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("clip 0") && err.contains("--device cpu"),
        "{err}"
    );
}

#[test]
fn features_come_back_as_a_tensor_on_the_wgpu_device() {
    let config = FeatureConfig {
        n_fft: 512,
        hop_length: 256,
        n_mels: 40,
        ..FeatureConfig::default()
    };
    let Some(gpu) = gpu(&config) else { return };
    let a = vec![0.3f32; 8_000];
    let b: Vec<f32> = (0..3_000).map(|i| (i as f32 * 0.05).sin()).collect();
    let out = gpu.extract_tensor(&[&a, &b]).unwrap();
    assert_eq!(out.tensor.dims(), [2, 32, 20]);
    // The very first burn op on the tensor sees the kernels' values (ordering
    // between our launches and burn's stream; a slice read once saw zeros).
    let first_frame = out
        .tensor
        .clone()
        .slice([1..2, 0..1, 0..20])
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(out.frames, vec![32, 12]);
    // A second batch must get its own buffer, not alias the first.
    let again = gpu.extract_tensor(&[&b]).unwrap();
    let cpu = CpuExtractor::new(&config).unwrap();
    let (cpu_a, cpu_b) = (cpu.extract(&a).unwrap(), cpu.extract(&b).unwrap());
    // burn ops see the kernel's values: the sum on the device matches the host's.
    let device_sum = out.tensor.clone().sum().into_scalar::<f32>();
    let host = out.tensor.into_data().try_to_vec::<f32>().unwrap();
    let host_sum: f32 = host.iter().sum();
    assert!(
        (device_sum - host_sum).abs() <= 1e-3 * host_sum.abs(),
        "{device_sum} vs {host_sum}"
    );
    let err = common::relative_max_error(&first_frame, &cpu_b.data[..20]);
    assert!(err <= 1e-4, "first read: {err:.2e}");
    let err = common::relative_max_error(&host[..32 * 20], &cpu_a.data);
    assert!(err <= 1e-4, "clip a: {err:.2e}");
    let err = common::relative_max_error(&host[32 * 20..32 * 20 + 12 * 20], &cpu_b.data);
    assert!(err <= 1e-4, "clip b: {err:.2e}");
    assert!(
        host[32 * 20 + 12 * 20..].iter().all(|&v| v == 0.0),
        "zero past clip b's end"
    );
    let again = again.tensor.into_data().try_to_vec::<f32>().unwrap();
    let err = common::relative_max_error(&again, &cpu_b.data);
    assert!(err <= 1e-4, "second call: {err:.2e}");
}

#[test]
fn a_large_batch_read_back_through_burn_right_away_holds_the_kernels_values() {
    let config = FeatureConfig::default();
    let Some(gpu) = gpu(&config) else { return };
    let clip: Vec<f32> = (0..160_000)
        .map(|i| (i as f32 * 0.031).sin() * 0.3)
        .collect();
    let clips: Vec<&[f32]> = vec![clip.as_slice(); 48];
    let out = gpu.extract_tensor(&clips).unwrap();
    let first = out
        .tensor
        .slice([0..1, 0..1, 0..20])
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let cpu = CpuExtractor::new(&config).unwrap().extract(&clip).unwrap();
    let err = common::relative_max_error(&first, &cpu.data[..20]);
    assert!(err <= 1e-4, "{err:.2e}: {first:?}");
}
