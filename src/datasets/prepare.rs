//! From an archive (or a folder of the original files) to the folder an
//! experiment reads, built beside its final place and renamed there only
//! when complete. A finished folder carries `.earshot-generated`; preparing
//! again leaves it as it is, and a folder earshot did not make is refused.

use std::path::{Path, PathBuf};

use super::extract::{ExtractError, UnpackLimits, extract_archive_with};
use crate::fsx::{GENERATED_MARKER, mark_generated};

/// FSDD speakers whose held-out takes are the normal test clips.
pub const FSDD_NORMAL_SPEAKERS: [&str; 5] = ["george", "jackson", "lucas", "nicolas", "theo"];
/// The FSDD speaker who is the anomaly.
pub const FSDD_ANOMALY_SPEAKER: &str = "yweweler";
/// Takes `0..FSDD_TRAIN_TAKES` of a normal speaker train; the rest test.
pub const FSDD_TRAIN_TAKES: u32 = 40;

/// Why a dataset could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The archive could not be unpacked.
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// The source does not hold what the dataset should.
    #[error("{path}: {reason}")]
    Content {
        /// The archive or folder.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// A folder is in the way or a file could not be written.
    #[error("{path}: {reason}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause and what to do.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PrepareError + '_ {
    move |e| PrepareError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// What preparing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Built now: the folder and its file counts (train, test normal, test anomaly).
    Built(PathBuf, [usize; 3]),
    /// Prepared before; left as it is.
    AlreadyThere(PathBuf),
}

/// `target` prepared before by earshot (`Some`), absent (`None`), or in the way.
pub(super) fn existing(target: &Path) -> Result<Option<Outcome>, PrepareError> {
    if !target.exists() {
        return Ok(None);
    }
    if target.join(GENERATED_MARKER).is_file() || target.join("train").is_dir() {
        return Ok(Some(Outcome::AlreadyThere(target.to_path_buf())));
    }
    Err(PrepareError::Io {
        path: target.to_path_buf(),
        reason: "exists and was not prepared by earshot; move it or choose another --to".into(),
    })
}

/// (digit, speaker, take) of an FSDD file name `{digit}_{speaker}_{take}.wav`.
pub fn fsdd_name(path: &Path) -> Option<(u32, String, u32)> {
    if path.extension()? != "wav" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    let mut parts = stem.split('_');
    let digit = parts.next()?.parse().ok()?;
    let speaker = parts.next()?.to_string();
    let take = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((digit, speaker, take))
}

/// Where an FSDD clip goes in the speaker-novelty split, if anywhere.
fn fsdd_split(speaker: &str, take: u32) -> Option<&'static str> {
    if speaker == FSDD_ANOMALY_SPEAKER {
        Some("test/anomaly")
    } else if FSDD_NORMAL_SPEAKERS.contains(&speaker) {
        Some(if take < FSDD_TRAIN_TAKES {
            "train/normal"
        } else {
            "test/normal"
        })
    } else {
        None
    }
}

/// Builds `data/fsdd` from the release archive or a folder of its recordings.
pub fn prepare_fsdd(
    source: &Path,
    data: &Path,
    limits: UnpackLimits,
) -> Result<Outcome, PrepareError> {
    let target = data.join("fsdd");
    if let Some(done) = existing(&target)? {
        return Ok(done);
    }
    std::fs::create_dir_all(data).map_err(io_err(data))?;
    // An archive is unpacked beside the target first, then read like a folder.
    let unpacked = data.join(format!(".fsdd-unpacked-{}", std::process::id()));
    let folder = if source.is_dir() {
        source.to_path_buf()
    } else {
        extract_archive_with(source, &unpacked, limits)?;
        unpacked.clone()
    };
    let staging = data.join(format!(".fsdd.partial-{}", std::process::id()));
    let result = build_fsdd(&folder, &staging, source);
    let _ = std::fs::remove_dir_all(&unpacked);
    let counts = settle(result, &staging, &target)?;
    Ok(Outcome::Built(target, counts))
}

/// Renames a staging folder that was built into `target`, or removes it
/// after a failure: nothing half-built is left where a later run looks.
pub(super) fn settle<T>(
    built: Result<T, PrepareError>,
    staging: &Path,
    target: &Path,
) -> Result<T, PrepareError> {
    match built {
        Ok(value) => {
            std::fs::rename(staging, target).map_err(io_err(target))?;
            Ok(value)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(staging);
            Err(e)
        }
    }
}

fn build_fsdd(folder: &Path, staging: &Path, source: &Path) -> Result<[usize; 3], PrepareError> {
    let mut written = Vec::new();
    let mut counts = [0usize; 3];
    let mut seen = std::collections::HashSet::new();
    for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
        let entry = entry.map_err(|e| PrepareError::Io {
            path: folder.to_path_buf(),
            reason: e.to_string(),
        })?;
        let Some((_, speaker, take)) = fsdd_name(entry.path()) else {
            continue;
        };
        let Some(split) = fsdd_split(&speaker, take) else {
            continue;
        };
        let name = entry.file_name().to_owned();
        // The release holds each clip once; a folder already split may hold a copy.
        if !seen.insert(name.clone()) {
            continue;
        }
        let relative = Path::new(split).join(&name);
        let out = staging.join(&relative);
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        std::fs::copy(entry.path(), &out).map_err(io_err(&out))?;
        counts[match split {
            "train/normal" => 0,
            "test/normal" => 1,
            _ => 2,
        }] += 1;
        written.push(relative);
    }
    if counts[0] == 0 || counts[2] == 0 {
        return Err(PrepareError::Content {
            path: source.to_path_buf(),
            reason: format!(
                "no FSDD recordings ({{digit}}_{{speaker}}_{{take}}.wav) of speakers {} and {FSDD_ANOMALY_SPEAKER} found; is this the v1.0.10 release?",
                FSDD_NORMAL_SPEAKERS.join(", ")
            ),
        });
    }
    mark_generated(staging, &written).map_err(io_err(staging))?;
    Ok(counts)
}

/// Unpacks one machine type's DCASE archive into `data/<name>/<machine>`.
pub fn prepare_dcase(
    name: &str,
    machine: &str,
    archive: &Path,
    data: &Path,
    limits: UnpackLimits,
) -> Result<Outcome, PrepareError> {
    let target = data.join(name).join(machine);
    if let Some(done) = existing(&target)? {
        return Ok(done);
    }
    let unpacked = data
        .join(name)
        .join(format!(".{machine}-unpacked-{}", std::process::id()));
    extract_archive_with(archive, &unpacked, limits)?;
    // The archives hold `<machine>/train` and `<machine>/test`, at some depth.
    let root = walkdir::WalkDir::new(&unpacked)
        .max_depth(3)
        .into_iter()
        .flatten()
        .find(|e| e.file_type().is_dir() && e.path().join("train").is_dir())
        .map(|e| e.into_path());
    let result = match root {
        Some(root) => std::fs::rename(&root, &target).map_err(io_err(&target)),
        None => Err(PrepareError::Content {
            path: archive.to_path_buf(),
            reason: "no train/ folder inside; is this a DCASE development archive?".into(),
        }),
    };
    let _ = std::fs::remove_dir_all(&unpacked);
    result?;
    let count = |dir: &str| {
        std::fs::read_dir(target.join(dir))
            .map(|d| d.flatten().count())
            .unwrap_or(0)
    };
    Ok(Outcome::Built(
        target.clone(),
        [
            count("train"),
            crate::data::DCASE_TEST_FOLDERS
                .iter()
                .map(|d| count(d))
                .sum(),
            0,
        ],
    ))
}

/// The SHA-256 of each of the 3,000 FSDD recordings README's tables were
/// measured on, in `sha256sum` format (`<hex>  <digit>_<speaker>_<take>.wav`):
/// the release archive GitHub builds is not byte-stable, its recordings are.
pub const FSDD_SHA256: &str = include_str!("../../datasets/fsdd.sha256");

/// How the recordings in a folder compare with [`FSDD_SHA256`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FsddCheck {
    /// Recordings whose bytes are the pinned ones.
    pub matching: usize,
    /// Names whose bytes differ.
    pub differing: Vec<String>,
    /// FSDD-named files the pinned list does not have.
    pub unknown: Vec<String>,
    /// Pinned recordings not in the folder.
    pub missing: usize,
}

/// Hashes every FSDD recording under `folder` against [`FSDD_SHA256`].
pub fn check_fsdd(folder: &Path) -> Result<FsddCheck, PrepareError> {
    let pinned: std::collections::HashMap<&str, &str> = FSDD_SHA256
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(hex, name)| (name, hex)))
        .collect();
    let mut check = FsddCheck::default();
    for entry in walkdir::WalkDir::new(folder).sort_by_file_name() {
        let entry = entry.map_err(|e| PrepareError::Io {
            path: folder.to_path_buf(),
            reason: e.to_string(),
        })?;
        if fsdd_name(entry.path()).is_none() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let sha = super::download::sha256_of(entry.path()).map_err(|e| PrepareError::Io {
            path: entry.path().to_path_buf(),
            reason: e.to_string(),
        })?;
        match pinned.get(name.as_str()) {
            Some(hex) if *hex == sha => check.matching += 1,
            Some(_) => check.differing.push(name),
            None => check.unknown.push(name),
        }
    }
    check.missing = pinned.len() - check.matching - check.differing.len();
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsdd_names_and_the_speaker_novelty_split() {
        assert_eq!(
            fsdd_name(Path::new("x/7_theo_12.wav")),
            Some((7, "theo".into(), 12))
        );
        assert_eq!(fsdd_name(Path::new("7_theo.wav")), None);
        assert_eq!(fsdd_name(Path::new("7_theo_1.mp3")), None);
        assert_eq!(fsdd_split("theo", 39), Some("train/normal"));
        assert_eq!(fsdd_split("theo", 40), Some("test/normal"));
        assert_eq!(fsdd_split("yweweler", 3), Some("test/anomaly"));
        assert_eq!(fsdd_split("someone", 3), None);
    }
}
