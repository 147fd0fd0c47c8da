//! `earshot features --device wgpu`: files decoded in parallel on the CPU, a
//! group at a time, then one GPU batch per group; the cache is shared with the
//! CPU path (same keys, same numbers within 1e-4).

use earshot::audio;
use earshot::features::cache::FeatureCache;
use earshot::features::gpu::GpuExtractor;
use earshot::features::{FeatureError, Features, FileFeatures};
use indicatif::ProgressBar;
use rayon::prelude::*;

use super::features::{Failure, FileRecord, Job, write_record};

/// Files per GPU batch: enough to fill a launch, few enough to bound host memory.
const GROUP_FILES: usize = 32;

pub(super) fn run_jobs(
    jobs: &[Job<'_>],
    gpu: &GpuExtractor,
    cache: Option<&FeatureCache>,
    progress: &ProgressBar,
) -> Vec<Result<FileRecord, Failure>> {
    let config = gpu.config();
    let mut results = Vec::with_capacity(jobs.len());
    for group in jobs.chunks(GROUP_FILES) {
        let loaded: Vec<Result<FileFeaturesOrAudio, String>> = group
            .par_iter()
            .map(|(file, _)| {
                if let Some(features) = cache.and_then(|c| c.get(&file.path, config)) {
                    return Ok(FileFeaturesOrAudio::Cached(features));
                }
                let clip = audio::load(&file.path, Some(config.sample_rate))
                    .map_err(|e| e.kind.to_string())?;
                if clip.samples.is_empty() {
                    return Err(FeatureError::TooShort {
                        samples: 0,
                        needed: 1,
                    }
                    .to_string());
                }
                if config.frame_count(clip.samples.len()).is_none() {
                    return Err(FeatureError::TooShort {
                        samples: clip.samples.len(),
                        needed: config.n_fft,
                    }
                    .to_string());
                }
                Ok(FileFeaturesOrAudio::Audio(clip))
            })
            .collect();
        let audio: Vec<&[f32]> = loaded
            .iter()
            .filter_map(|l| match l {
                Ok(FileFeaturesOrAudio::Audio(clip)) => Some(clip.samples.as_slice()),
                _ => None,
            })
            .collect();
        let batch = if audio.is_empty() {
            None
        } else {
            Some(gpu.extract_batch(&audio).map_err(|e| e.to_string()))
        };
        let mut next_audio = 0;
        for ((file, output), loaded) in group.iter().zip(loaded) {
            let extracted = loaded.and_then(|l| match l {
                FileFeaturesOrAudio::Cached(features) => Ok(FileFeatures {
                    features,
                    source: None,
                    resampled: false,
                    cached: true,
                }),
                FileFeaturesOrAudio::Audio(clip) => {
                    let at = next_audio;
                    next_audio += 1;
                    let batch = batch.as_ref().expect("a batch when any audio was loaded");
                    let batch = batch.as_ref().map_err(Clone::clone)?;
                    let features = Features {
                        frames: batch.frames[at],
                        coeffs: batch.coeffs,
                        data: batch.clip(at).to_vec(),
                    };
                    if let Some(c) = cache
                        && let Err(e) = c.put(&file.path, config, &features)
                    {
                        eprintln!("warning: feature cache {}: {e}", c.dir().display());
                    }
                    Ok(FileFeatures {
                        features,
                        resampled: clip.source.sample_rate != config.sample_rate,
                        source: Some(clip.source),
                        cached: false,
                    })
                }
            });
            let result = extracted.and_then(|e| write_record(&file.path, output, e));
            progress.inc(1);
            results.push(result.map_err(|reason| Failure {
                path: file.path.clone(),
                reason,
            }));
        }
    }
    results
}

enum FileFeaturesOrAudio {
    Cached(Features),
    Audio(audio::Clip),
}
