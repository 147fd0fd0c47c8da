//! A feature cache keyed by (path, size, modification time, config), shared by
//! `earshot features` and training so a file is analysed once per setting.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::{FeatureConfig, Features, npy};

/// Bumped whenever the numbers computed for the same config change.
const ALGORITHM_VERSION: u32 = 1;

/// A folder of cached `[frames, coeffs]` arrays.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    dir: PathBuf,
}

impl FeatureCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$EARSHOT_CACHE_DIR`, else `$XDG_CACHE_HOME/earshot/features`, else `~/.cache/earshot/features`.
    pub fn default_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("EARSHOT_CACHE_DIR") {
            return PathBuf::from(dir);
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("earshot").join("features")
    }

    /// The folder in use.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cached features of `path` under `config`, if present and the file is unchanged.
    pub fn get(&self, path: &Path, config: &FeatureConfig) -> Option<Features> {
        let entry = self.entry(path, config)?;
        let file = fs::File::open(entry).ok()?;
        match npy::read_f32(std::io::BufReader::new(file)) {
            Ok((shape, data)) if shape.len() == 2 && shape[1] == config.coeffs() => {
                Some(Features {
                    frames: shape[0],
                    coeffs: shape[1],
                    data,
                })
            }
            _ => None,
        }
    }

    /// [`put`](Self::put), saying on stderr when it fails: a cache that cannot
    /// be written only costs time later.
    pub fn store(&self, path: &Path, config: &FeatureConfig, features: &Features) {
        if let Err(e) = self.put(path, config, features) {
            eprintln!("warning: feature cache {}: {e}", self.dir().display());
        }
    }

    /// Stores features; written to a temporary name and renamed so readers never see half a file.
    pub fn put(
        &self,
        path: &Path,
        config: &FeatureConfig,
        features: &Features,
    ) -> std::io::Result<()> {
        let Some(entry) = self.entry(path, config) else {
            return Ok(());
        };
        fs::create_dir_all(&self.dir)?;
        let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
        {
            let mut out = std::io::BufWriter::new(fs::File::create(&tmp)?);
            npy::write_f32(
                &mut out,
                &[features.frames, features.coeffs],
                &features.data,
            )?;
            std::io::Write::flush(&mut out)?;
        }
        fs::rename(&tmp, &entry)
    }

    fn entry(&self, path: &Path, config: &FeatureConfig) -> Option<PathBuf> {
        let meta = fs::metadata(path).ok()?;
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        let canonical = fs::canonicalize(path).ok()?;
        let config_text = serde_json::to_string(config).ok()?;
        let key = format!(
            "{}\0{}\0{mtime}\0{config_text}\0{ALGORITHM_VERSION}",
            canonical.display(),
            meta.len()
        );
        Some(
            self.dir
                .join(format!("{:016x}.npy", crate::fsx::fnv1a(key.as_bytes()))),
        )
    }
}
