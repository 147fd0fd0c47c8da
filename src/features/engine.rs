//! The feature engine in use: the CPU reference or our WGSL kernels, behind
//! one call that turns audio files into features (through the cache). On the
//! GPU the kernels' output can also stay where it is, for training on the
//! same device ([`DeviceClip`]).

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use rayon::prelude::*;

use super::cache::FeatureCache;
use super::gpu::GpuExtractor;
use super::{
    CpuExtractor, FeatureBatch, FeatureConfig, FeatureError, Features, FileFeatures, extract_file,
};
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
        self.extract_files_on_device(paths, cache, on_file, 0).0
    }

    /// [`extract_files`](Self::extract_files) that also keeps the GPU
    /// kernels' output on the device, up to `device_budget` bytes of it: each
    /// file extracted there has its [`DeviceClip`]. Files read from the cache,
    /// failed, or past the budget have none, nor has any file on the CPU.
    pub fn extract_files_on_device(
        &self,
        paths: &[PathBuf],
        cache: Option<&FeatureCache>,
        on_file: &(dyn Fn() + Sync),
        device_budget: usize,
    ) -> (Vec<Result<FileFeatures, String>>, Vec<Option<DeviceClip>>) {
        match self {
            FeatureEngine::Cpu(cpu) => {
                let files = paths
                    .par_iter()
                    .map(|p| {
                        let r = extract_file(p, cpu, cache);
                        on_file();
                        r
                    })
                    .collect();
                (files, vec![None; paths.len()])
            }
            FeatureEngine::Gpu(gpu) => {
                let mut budget = device_budget;
                let (mut files, mut kept) = (Vec::new(), Vec::new());
                for (id, group) in paths.chunks(GPU_GROUP_FILES).enumerate() {
                    let (f, k) = gpu_group(gpu, group, cache, on_file, (id, &mut budget));
                    files.extend(f);
                    kept.extend(k);
                }
                (files, kept)
            }
        }
    }
}

/// A clip's features where the WGSL kernels wrote them: slot `slot` of a
/// `[clips, max_frames, coeffs]` tensor on the wgpu device, zero past each
/// clip's end, as extracted (before deltas or a clip summary). The host copy
/// in [`FileFeatures`] holds the same values.
#[derive(Debug, Clone)]
pub struct DeviceClip {
    /// Which tensor of the call this is, counting from 0 (clips of one group share it).
    pub group: usize,
    /// The group's features.
    pub tensor: Tensor<3>,
    /// The clip's index in the tensor's first dimension.
    pub slot: usize,
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

/// The group's features on the device when they fit `budget` (which they
/// then use up), read back for the host; else through the host alone.
fn extract_group(
    gpu: &GpuExtractor,
    audio: &[&[f32]],
    (group, budget): (usize, &mut usize),
) -> Result<(FeatureBatch, Option<Tensor<3>>), FeatureError> {
    let config = gpu.config();
    let max_frames = audio
        .iter()
        .filter_map(|a| config.frame_count(a.len()))
        .max()
        .unwrap_or(0);
    let bytes = audio.len() * max_frames * config.coeffs() * std::mem::size_of::<f32>();
    if bytes == 0 || bytes > *budget {
        return gpu.extract_batch(audio).map(|b| (b, None));
    }
    let on_device = gpu.extract_tensor(audio)?;
    let data = on_device
        .tensor
        .clone()
        .try_into_data()
        .map_err(|e| FeatureError::Device(format!("reading group {group}'s features: {e:?}")))?
        .try_to_vec::<f32>()
        .map_err(|e| FeatureError::Device(format!("group {group}'s features: {e:?}")))?;
    *budget -= bytes;
    let batch = FeatureBatch {
        max_frames: on_device.tensor.dims()[1],
        coeffs: config.coeffs(),
        frames: on_device.frames,
        data,
    };
    Ok((batch, Some(on_device.tensor)))
}

fn gpu_group(
    gpu: &GpuExtractor,
    group: &[PathBuf],
    cache: Option<&FeatureCache>,
    on_file: &(dyn Fn() + Sync),
    (group_id, budget): (usize, &mut usize),
) -> (Vec<Result<FileFeatures, String>>, Vec<Option<DeviceClip>>) {
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
    let batch = (!audio.is_empty())
        .then(|| extract_group(gpu, &audio, (group_id, budget)).map_err(|e| e.to_string()));
    let mut kept = vec![None; group.len()];
    let mut next_audio = 0;
    let files = group
        .iter()
        .zip(loaded)
        .enumerate()
        .map(|(file, (path, loaded))| {
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
                    let (batch, on_device) = batch
                        .as_ref()
                        .expect("a batch when any audio was loaded")
                        .as_ref()
                        .map_err(Clone::clone)?;
                    kept[file] = on_device.as_ref().map(|t| DeviceClip {
                        group: group_id,
                        tensor: t.clone(),
                        slot: at,
                    });
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
        .collect();
    (files, kept)
}
