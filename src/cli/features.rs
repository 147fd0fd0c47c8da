//! `earshot features`: audio files in, one `.npy` per file and `features.json` out.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use earshot::audio::{DiscoveredFile, discover};
use earshot::features::cache::FeatureCache;
use earshot::features::{FeatureConfig, FeatureKind, FileFeatures, npy};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::DeviceChoice;

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Audio files or folders (searched recursively for .wav .flac .mp3 .ogg).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder: one .npy per input file, mirroring the input tree, and features.json.
    #[arg(long, short)]
    out: PathBuf,
    /// Sample rate the audio is resampled to, in Hz.
    #[arg(long, default_value_t = 16_000)]
    sr: u32,
    /// FFT length in samples.
    #[arg(long, default_value_t = 1024)]
    n_fft: usize,
    /// Samples between frames.
    #[arg(long, default_value_t = 512)]
    hop: usize,
    /// Mel bands.
    #[arg(long, default_value_t = 128)]
    n_mels: usize,
    /// Cepstral coefficients (with --kind mfcc).
    #[arg(long, default_value_t = 20)]
    n_mfcc: usize,
    /// MFCC (n_mfcc per frame) or log-mel in dB (n_mels per frame).
    #[arg(long, value_enum, default_value_t = FeatureKind::Mfcc)]
    kind: FeatureKind,
    /// Where to compute.
    #[arg(long, default_value_t = DeviceChoice::Auto, value_name = "DEVICE", long_help = super::device::DEVICE_HELP)]
    device: DeviceChoice,
    /// Feature cache folder [default: $EARSHOT_CACHE_DIR or ~/.cache/earshot/features].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Neither read nor write the feature cache.
    #[arg(long)]
    no_cache: bool,
    /// Seconds of audio decoded per file at most; longer files are skipped with
    /// their reason (a corrupt header can otherwise promise days of audio).
    #[arg(long, default_value_t = earshot::audio::DEFAULT_MAX_DURATION_S, value_name = "SECONDS")]
    max_duration: f64,
    /// Use the feature settings of a trained trial (its [features], deltas
    /// appended as in training) instead of the flags above: the arrays are then
    /// what the exported model takes, before its normaliser.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["sr", "n_fft", "hop", "n_mels", "n_mfcc", "kind"])]
    like: Option<PathBuf>,
}

impl FeaturesArgs {
    /// The device the command computes on.
    pub fn device(&self) -> DeviceChoice {
        self.device
    }
}

/// The `[features]` of the trial in `run_dir` (or its `model/`).
fn trial_features(run_dir: &Path) -> anyhow::Result<FeatureConfig> {
    let model_dir = earshot::experiment::TrialRecord::model_dir(run_dir);
    let record = earshot::experiment::TrialRecord::read(&model_dir)
        .map_err(|(path, reason)| anyhow::anyhow!("--like: {}: {reason}", path.display()))?;
    Ok(record.experiment.features)
}

#[derive(Debug, Serialize)]
struct FileRecord {
    path: PathBuf,
    output: PathBuf,
    frames: usize,
    coeffs: usize,
    source_sample_rate: Option<u32>,
    channels: Option<u16>,
    resampled: bool,
    cached: bool,
}

#[derive(Debug, Serialize)]
struct Failure {
    path: PathBuf,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    earshot_version: &'a str,
    device: &'a str,
    config: &'a FeatureConfig,
    inputs: &'a [PathBuf],
    files: Vec<FileRecord>,
    failures: Vec<Failure>,
}

pub fn run(args: FeaturesArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.like {
        Some(run_dir) => FeatureConfig {
            max_duration_s: args.max_duration,
            ..trial_features(run_dir)?
        },
        None => FeatureConfig {
            sample_rate: args.sr,
            n_fft: args.n_fft,
            hop_length: args.hop,
            n_mels: args.n_mels,
            n_mfcc: args.n_mfcc,
            kind: args.kind,
            max_duration_s: args.max_duration,
            ..FeatureConfig::default()
        },
    };
    let finish = config.clone();
    let engine = args.device.feature_engine(&config)?;
    let device = engine.name();
    let cache = (!args.no_cache).then(|| {
        FeatureCache::new(
            args.cache_dir
                .clone()
                .unwrap_or_else(FeatureCache::default_dir),
        )
    });

    let (files, unlisted) = discover(&args.inputs);
    let mut failures: Vec<Failure> = unlisted
        .into_iter()
        .map(|(path, reason)| Failure { path, reason })
        .collect();
    if files.is_empty() && failures.is_empty() {
        anyhow::bail!(
            "no audio files under {} (looked for .wav .flac .mp3 .ogg)",
            args.inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output folder {}", args.out.display()))?;

    let started = Instant::now();
    let (jobs, collisions) = plan_outputs(&files, &args.out);
    failures.extend(collisions);
    let progress = progress_bar(jobs.len());
    let paths: Vec<PathBuf> = jobs.iter().map(|(f, _)| f.path.clone()).collect();
    let tick = || progress.inc(1);
    let results: Vec<Result<FileRecord, Failure>> = engine
        .extract_files(&paths, cache.as_ref(), &tick)
        .into_iter()
        .zip(&jobs)
        .map(|(extracted, (file, output))| {
            extracted
                .map(|e| FileFeatures {
                    features: finish.finish(e.features),
                    ..e
                })
                .and_then(|e| write_record(&file.path, output, e))
                .map_err(|reason| Failure {
                    path: file.path.clone(),
                    reason,
                })
        })
        .collect();
    progress.finish_and_clear();

    let mut records = Vec::new();
    for r in results {
        match r {
            Ok(rec) => records.push(rec),
            Err(f) => failures.push(f),
        }
    }
    let summary = Summary {
        earshot_version: earshot::VERSION,
        device,
        config: &config,
        inputs: &args.inputs,
        files: records,
        failures,
    };
    let json_path = args.out.join("features.json");
    earshot::fsx::write_atomic(
        &json_path,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", json_path.display()))?;

    eprintln!(
        "features: {} file(s) written to {} ({} from cache), {} failed, {:.1} s; details in {}",
        summary.files.len(),
        args.out.display(),
        summary.files.iter().filter(|f| f.cached).count(),
        summary.failures.len(),
        started.elapsed().as_secs_f64(),
        json_path.display()
    );
    for f in &summary.failures {
        eprintln!("  {}: {}", f.path.display(), f.reason);
    }
    if summary.files.is_empty() {
        eprintln!("error: no input file could be used");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Output path for every file (`OUT/<relative>.npy`); a second file mapping to
/// the same output (e.g. `a.wav` and `a.flac`) is refused rather than overwriting.
fn plan_outputs<'a>(
    files: &'a [DiscoveredFile],
    out: &Path,
) -> (Vec<(&'a DiscoveredFile, PathBuf)>, Vec<Failure>) {
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    let mut jobs = Vec::new();
    let mut collisions = Vec::new();
    for file in files {
        let output = out.join(&file.relative).with_extension("npy");
        if let Some(first) = seen.get(&output) {
            collisions.push(Failure {
                path: file.path.clone(),
                reason: format!(
                    "its output {} is already taken by {}; rename one",
                    output.display(),
                    first.display()
                ),
            });
            continue;
        }
        seen.insert(output.clone(), &file.path);
        jobs.push((file, output));
    }
    (jobs, collisions)
}

/// Writes one file's features as `.npy` and says what was done.
fn write_record(path: &Path, output: &Path, extracted: FileFeatures) -> Result<FileRecord, String> {
    let features = &extracted.features;
    if let Some(parent) = output.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut bytes = Vec::with_capacity(features.data.len() * 4 + 128);
    npy::write_f32(
        &mut bytes,
        &[features.frames, features.coeffs],
        &features.data,
    )
    .map_err(|e| e.to_string())?;
    earshot::fsx::write_atomic(output, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    Ok(FileRecord {
        path: path.to_path_buf(),
        output: output.to_path_buf(),
        frames: features.frames,
        coeffs: features.coeffs,
        source_sample_rate: extracted.source.map(|i| i.sample_rate),
        channels: extracted.source.map(|i| i.channels),
        resampled: extracted.resampled,
        cached: extracted.cached,
    })
}

fn progress_bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} features [{bar:30}] {pos}/{len} files, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}
