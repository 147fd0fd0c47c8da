//! Features of many files, in parallel, through the feature cache; failures are
//! collected per file and the rest goes on.

use std::path::PathBuf;

use crate::features::cache::FeatureCache;
use crate::features::{FeatureEngine, Features};

/// A file's features.
#[derive(Debug, Clone)]
pub struct LoadedClip {
    /// The audio file.
    pub path: PathBuf,
    /// Its features, `[frames, coeffs]`.
    pub features: Features,
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
pub fn load_features(
    paths: &[PathBuf],
    engine: &FeatureEngine,
    cache: Option<&FeatureCache>,
    on_file: &(dyn Fn() + Sync),
) -> (Vec<LoadedClip>, Vec<FileFailure>) {
    let mut clips = Vec::new();
    let mut failures = Vec::new();
    for (path, r) in paths
        .iter()
        .zip(engine.extract_files(paths, cache, on_file))
    {
        match r {
            Ok(f) => clips.push(LoadedClip {
                path: path.clone(),
                features: engine.config().finish(f.features),
            }),
            Err(reason) => failures.push(FileFailure {
                path: path.clone(),
                reason,
            }),
        }
    }
    (clips, failures)
}
