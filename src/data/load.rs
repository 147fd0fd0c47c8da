//! Features of many files, in parallel, through the feature cache; failures are
//! collected per file and the rest goes on.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::features::cache::FeatureCache;
use crate::features::{CpuExtractor, Features, extract_file};

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
    extractor: &CpuExtractor,
    cache: Option<&FeatureCache>,
    on_file: &(dyn Fn() + Sync),
) -> (Vec<LoadedClip>, Vec<FileFailure>) {
    let results: Vec<Result<LoadedClip, FileFailure>> = paths
        .par_iter()
        .map(|path| {
            let result = extract_file(path, extractor, cache)
                .map(|f| LoadedClip {
                    path: path.clone(),
                    features: f.features,
                })
                .map_err(|reason| FileFailure {
                    path: path.clone(),
                    reason,
                });
            on_file();
            result
        })
        .collect();
    let mut clips = Vec::new();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(c) => clips.push(c),
            Err(f) => failures.push(f),
        }
    }
    (clips, failures)
}
