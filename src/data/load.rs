//! Features of many files, in parallel, through the feature cache; failures are
//! collected per file and the rest goes on.

use std::path::PathBuf;

use crate::features::cache::FeatureCache;
use crate::features::{DeviceClip, FeatureEngine, Features};

/// A file's features.
#[derive(Debug, Clone)]
pub struct LoadedClip {
    /// The audio file.
    pub path: PathBuf,
    /// Its features, `[frames, coeffs]`.
    pub features: Features,
    /// The same features where the GPU kernels left them, when they were
    /// kept there (see [`load_features`]) and need no finishing.
    pub on_device: Option<DeviceClip>,
}

/// A file that could not be used, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileFailure {
    /// The file.
    pub path: PathBuf,
    /// The reason, for people.
    pub reason: String,
}

/// Features of `paths` in order (failed files left out), with the failures.
/// Up to `device_budget` bytes of features extracted on the GPU stay there
/// too, unless deltas or a clip summary change them after extraction.
pub fn load_features(
    paths: &[PathBuf],
    engine: &FeatureEngine,
    cache: Option<&FeatureCache>,
    on_file: &(dyn Fn() + Sync),
    device_budget: usize,
) -> (Vec<LoadedClip>, Vec<FileFailure>) {
    let config = engine.config();
    let finished_as_extracted =
        config.deltas == 0 && config.summary == crate::features::Summary::Frames;
    let budget = if finished_as_extracted {
        device_budget
    } else {
        0
    };
    let (files, kept) = engine.extract_files_on_device(paths, cache, on_file, budget);
    let mut clips = Vec::new();
    let mut failures = Vec::new();
    for ((path, r), on_device) in paths.iter().zip(files).zip(kept) {
        match r {
            Ok(f) => clips.push(LoadedClip {
                path: path.clone(),
                features: config.finish(f.features),
                on_device,
            }),
            Err(reason) => failures.push(FileFailure {
                path: path.clone(),
                reason,
            }),
        }
    }
    (clips, failures)
}
