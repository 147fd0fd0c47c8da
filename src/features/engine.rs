//! The feature engine in use: the CPU reference or our WGSL kernels, behind
//! one call that turns audio files into features (through the cache).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::cache::FeatureCache;
use super::gpu::GpuExtractor;
use super::{CpuExtractor, FeatureConfig, FeatureError, Features, FileFeatures, extract_file};
use crate::audio;

/// Files per GPU batch: enough to fill a launch, few enough to bound host memory.
const GPU_GROUP_FILES: usize = 32;

/// What computes features.
pub enum FeatureEngine {
    /// The CPU reference (rustfft + rayon), streaming each file.
    Cpu(CpuExtractor),
    /// Our WGSL kernels on the wgpu device; files decoded in parallel on the
    /// CPU a group at a time, one GPU batch per group.
    Gpu(Box<GpuExtractor>),
}

impl FeatureEngine {
    /// A name for reports: `cpu` or `wgpu`.
    pub fn name(&self) -> &'static str {
        match self {
            FeatureEngine::Cpu(_) => "cpu",
            FeatureEngine::Gpu(_) => "wgpu",
        }
    }

    /// The WGSL kernels when they can take `config` here, else the CPU
    /// reference with the reason the GPU could not be used.
    pub fn gpu_or_cpu(
        config: &FeatureConfig,
    ) -> Result<(Self, Option<FeatureError>), FeatureError> {
        match GpuExtractor::new(config) {
            Ok(gpu) => Ok((FeatureEngine::Gpu(Box::new(gpu)), None)),
            Err(e) => Ok((FeatureEngine::Cpu(CpuExtractor::new(config)?), Some(e))),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &FeatureConfig {
        match self {
            FeatureEngine::Cpu(c) => c.config(),
            FeatureEngine::Gpu(g) => g.config(),
        }
    }

    /// Features of every file in order (cache first), each with its own
    /// result; `on_file` is called once per file.
    pub fn extract_files(
        &self,
        paths: &[PathBuf],
        cache: Option<&FeatureCache>,
        on_file: &(dyn Fn() + Sync),
    ) -> Vec<Result<FileFeatures, String>> {
        match self {
            FeatureEngine::Cpu(cpu) => paths
                .par_iter()
                .map(|p| {
                    let r = extract_file(p, cpu, cache);
                    on_file();
                    r
                })
                .collect(),
            FeatureEngine::Gpu(gpu) => paths
                .chunks(GPU_GROUP_FILES)
                .flat_map(|group| gpu_group(gpu, group, cache, on_file))
                .collect(),
        }
    }
}

enum Loaded {
    Cached(Features),
    Audio(audio::Clip),
}

fn load(
    path: &Path,
    config: &FeatureConfig,
    cache: Option<&FeatureCache>,
) -> Result<Loaded, String> {
    if let Some(features) = cache.and_then(|c| c.get(path, config)) {
        return Ok(Loaded::Cached(features));
    }
    let clip = audio::load_limited(path, Some(config.sample_rate), config.max_duration_s)
        .map_err(|e| e.kind.to_string())?;
    config
        .frames_for(clip.samples.len())
        .map_err(|e| e.to_string())?;
    Ok(Loaded::Audio(clip))
}

fn gpu_group(
    gpu: &GpuExtractor,
    group: &[PathBuf],
    cache: Option<&FeatureCache>,
    on_file: &(dyn Fn() + Sync),
) -> Vec<Result<FileFeatures, String>> {
    let config = gpu.config();
    let loaded: Vec<Result<Loaded, String>> =
        group.par_iter().map(|p| load(p, config, cache)).collect();
    let audio: Vec<&[f32]> = loaded
        .iter()
        .filter_map(|l| match l {
            Ok(Loaded::Audio(clip)) => Some(clip.samples.as_slice()),
            _ => None,
        })
        .collect();
    let batch = (!audio.is_empty()).then(|| gpu.extract_batch(&audio).map_err(|e| e.to_string()));
    let mut next_audio = 0;
    group
        .iter()
        .zip(loaded)
        .map(|(path, loaded)| {
            let result = loaded.and_then(|l| match l {
                Loaded::Cached(features) => Ok(FileFeatures {
                    features,
                    source: None,
                    resampled: false,
                    cached: true,
                }),
                Loaded::Audio(clip) => {
                    let at = next_audio;
                    next_audio += 1;
                    let batch = batch
                        .as_ref()
                        .expect("a batch when any audio was loaded")
                        .as_ref()
                        .map_err(Clone::clone)?;
                    let features = Features {
                        frames: batch.frames[at],
                        coeffs: batch.coeffs,
                        data: batch.clip(at).to_vec(),
                    };
                    if let Some(c) = cache {
                        c.store(path, config, &features);
                    }
                    Ok(FileFeatures {
                        features,
                        resampled: clip.source.sample_rate != config.sample_rate,
                        source: Some(clip.source),
                        cached: false,
                    })
                }
            });
            on_file();
            result
        })
        .collect()
}
