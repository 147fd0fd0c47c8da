//! `earshot bench`: the same work as the peers in shared/bench, timed.

use std::time::Instant;

use clap::{Args, Subcommand};
use earshot::features::gpu::{GpuExtractor, GpuStats};
use earshot::features::{FeatureBatch, FeatureConfig, FeatureEngine, FeatureKind};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

use super::DeviceChoice;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// MFCC throughput on generated 16 kHz clips (the work of shared/bench/peer_mfcc.py).
    Features(FeatureBenchArgs),
    /// Training samples/s of dense, rnn and cae (the shapes of shared/bench/peer_train.py).
    Train(super::bench_train::TrainBenchArgs),
    /// Fitting the reference Gaussian mixture (the work of tests/reference/peer_gmm.py).
    Gmm(super::bench_detectors::GmmBenchArgs),
}

#[derive(Debug, Args)]
pub struct FeatureBenchArgs {
    /// Hours of audio to process (10 s clips).
    #[arg(long, default_value_t = 1.0)]
    hours: f64,
    /// Seconds per clip.
    #[arg(long, default_value_t = 10.0)]
    clip_s: f64,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
    /// Where to compute.
    #[arg(long, default_value_t = DeviceChoice::Cpu, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
    /// Timed passes over the clips; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

#[derive(Debug, Serialize)]
struct FeatureBenchResult {
    device: &'static str,
    hours: f64,
    clips: usize,
    clip_s: f64,
    seconds: f64,
    repeats: usize,
    audio_s_per_s: f64,
    threads: usize,
    /// GPU only: compute dispatches for the whole batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    dispatches_per_batch: Option<usize>,
    /// GPU only: bytes written to the device per clip (audio, frame table).
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_up_per_clip: Option<f64>,
    /// GPU only: bytes read back per clip.
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_down_per_clip: Option<f64>,
    /// GPU only: the same batch returned as a burn tensor on the device
    /// (written in place by the last kernel, no host round trip).
    #[serde(skip_serializing_if = "Option::is_none")]
    tensor_seconds: Option<f64>,
    config: FeatureConfig,
}

fn time_tensor(gpu: &GpuExtractor, clips: &[&[f32]]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = gpu.extract_tensor(clips)?;
    // Wait for the kernels: read one value back.
    let _ = out.tensor.slice([0..1, 0..1, 0..1]).into_data();
    Ok(started.elapsed().as_secs_f64())
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        BenchCommand::Features(args) => bench_features(args)?,
        BenchCommand::Train(args) => super::bench_train::run(args)?,
        BenchCommand::Gmm(args) => super::bench_detectors::run(args)?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn bench_features(args: FeatureBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.hours > 0.0 && args.clip_s > 0.0,
        "--hours and --clip-s must be > 0"
    );
    // peer_mfcc.py: n_fft 1024, hop 512, 128 mels, 20 MFCC at 16 kHz.
    let config = FeatureConfig {
        kind: FeatureKind::Mfcc,
        ..FeatureConfig::default()
    };
    let engine = args.device.feature_engine(&config)?;
    let device = engine.name();
    let clip_len = (args.clip_s * config.sample_rate as f64).round() as usize;
    let clips = ((args.hours * 3600.0 / args.clip_s).round() as usize).max(1);
    let signals = peer_signals(clips, clip_len, config.sample_rate);
    let views: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();

    let extract = |clips: &[&[f32]]| -> anyhow::Result<(FeatureBatch, Option<GpuStats>)> {
        Ok(match &engine {
            FeatureEngine::Cpu(cpu) => (cpu.extract_batch(clips)?, None),
            FeatureEngine::Gpu(gpu) => {
                let (batch, stats) = gpu.extract_batch_with_stats(clips)?;
                (batch, Some(stats))
            }
        })
    };
    extract(&views[..views.len().min(2)])?; // warm-up (and kernel compilation), as the peer does
    let mut times = Vec::new();
    let mut gpu_stats = None;
    for _ in 0..args.repeat.max(1) {
        let started = Instant::now();
        let (batch, stats) = extract(&views)?;
        times.push(started.elapsed().as_secs_f64());
        gpu_stats = stats;
        anyhow::ensure!(
            batch.frames.len() == clips,
            "bench produced {} clips, expected {clips}",
            batch.frames.len()
        );
    }
    times.sort_by(f64::total_cmp);
    let seconds = times[times.len() / 2];

    let audio_s = clips as f64 * args.clip_s;
    let result = FeatureBenchResult {
        device,
        hours: audio_s / 3600.0,
        clips,
        clip_s: args.clip_s,
        seconds,
        repeats: times.len(),
        audio_s_per_s: audio_s / seconds,
        threads: rayon::current_num_threads(),
        dispatches_per_batch: gpu_stats.map(|s| s.dispatches),
        bytes_up_per_clip: gpu_stats.map(|s| s.bytes_up as f64 / clips as f64),
        bytes_down_per_clip: gpu_stats.map(|s| s.bytes_down as f64 / clips as f64),
        tensor_seconds: match &engine {
            FeatureEngine::Gpu(gpu) => Some(time_tensor(gpu, &views)?),
            FeatureEngine::Cpu(_) => None,
        },
        config,
    };
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "earshot mfcc ({device}, {} threads): {:.0} audio-s/s ({:.2} s for {:.2} h, {} clips of {} s)",
            result.threads, result.audio_s_per_s, seconds, result.hours, clips, args.clip_s
        );
        if let (Some(d), Some(up), Some(down), Some(t)) = (
            result.dispatches_per_batch,
            result.bytes_up_per_clip,
            result.bytes_down_per_clip,
            result.tensor_seconds,
        ) {
            println!(
                "  {d} dispatches for the batch, {up:.0} B up and {down:.0} B down per clip; as a burn tensor: {t:.2} s"
            );
        }
    }
    Ok(())
}

/// peer_mfcc.py's signals: 0.1 * white noise + 0.3 * a sine at 500 + 40 i Hz (seed 7).
fn peer_signals(clips: usize, len: usize, sample_rate: u32) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(7);
    let normal = Normal::new(0.0f32, 1.0).expect("unit normal");
    (0..clips)
        .map(|i| {
            let freq = 500.0 + 40.0 * i as f64;
            (0..len)
                .map(|n| {
                    let phase = 2.0 * std::f64::consts::PI * freq * n as f64 / sample_rate as f64;
                    0.1 * normal.sample(&mut rng) + 0.3 * phase.sin() as f32
                })
                .collect()
        })
        .collect()
}
