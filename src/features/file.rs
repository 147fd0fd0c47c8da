//! Features of one audio file: from the cache, or decoded chunk by chunk and
//! streamed through the extractor (memory bounded by the features, not the audio).

use std::path::Path;

use super::cache::FeatureCache;
use super::{CpuExtractor, Features};
use crate::audio::{AudioReader, SourceInfo};

/// A file's features and where they came from.
#[derive(Debug, Clone)]
pub struct FileFeatures {
    /// `[frames, coeffs]`.
    pub features: Features,
    /// What the file declared (`None` when read from the cache).
    pub source: Option<SourceInfo>,
    /// Whether the audio was resampled.
    pub resampled: bool,
    /// Whether the features came from the cache.
    pub cached: bool,
}

/// Features of `path`; the error is a reason for people (the caller knows the path).
pub fn extract_file(
    path: &Path,
    extractor: &CpuExtractor,
    cache: Option<&FeatureCache>,
) -> Result<FileFeatures, String> {
    let config = extractor.config();
    if let Some(features) = cache.and_then(|c| c.get(path, config)) {
        return Ok(FileFeatures {
            features,
            source: None,
            resampled: false,
            cached: true,
        });
    }
    let mut reader =
        AudioReader::open_limited(path, Some(config.sample_rate), config.max_duration_s)
            .map_err(|e| e.kind.to_string())?;
    let mut stream = extractor.stream();
    let mut chunk = Vec::new();
    while reader
        .read_chunk(&mut chunk)
        .map_err(|e| e.kind.to_string())?
    {
        stream.push(&chunk);
    }
    let features = stream.finish().map_err(|e| e.to_string())?;
    if let Some(c) = cache {
        c.store(path, config, &features);
    }
    Ok(FileFeatures {
        features,
        source: Some(reader.info()),
        resampled: reader.is_resampled(),
        cached: false,
    })
}
