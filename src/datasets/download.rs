//! Downloads that resume and verify: an archive is fetched to `<file>.part`
//! (continued with an HTTP Range request after an interruption), hashed with
//! SHA-256 and MD5, checked against the pinned digest when there is one (a
//! SHA-256, or the MD5 that Zenodo publishes), and only then renamed to
//! `<file>` beside `<file>.sha256` and `<file>.md5` records, so a later run
//! never downloads a verified archive again and never takes half a file for
//! whole.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use md5::Md5;

use super::http::io;
pub use super::http::{DownloadError, Limits, OnBytes, redact};
use super::http::{Resume, transfer};
use sha2::{Digest, Sha256};

/// Which hash a pinned digest is, told by its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// 64 hex digits.
    Sha256,
    /// 32 hex digits (what Zenodo lists for every file).
    Md5,
}

impl Algorithm {
    /// The algorithm of a hex digest, or why it is none.
    pub fn of(digest: &str) -> Result<Self, DownloadError> {
        let hex = digest.chars().all(|c| c.is_ascii_hexdigit());
        match digest.len() {
            64 if hex => Ok(Self::Sha256),
            32 if hex => Ok(Self::Md5),
            _ => Err(DownloadError::BadDigest {
                digest: digest.to_string(),
            }),
        }
    }

    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Md5 => "MD5",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Md5 => "md5",
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds a file to `update` in 1 MiB pieces.
fn read_through(path: &Path, mut update: impl FnMut(&[u8])) -> Result<(), DownloadError> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            return Ok(());
        }
        update(&buf[..n]);
    }
}

/// SHA-256 and MD5 of a file, as lowercase hex, in one read.
pub fn digests_of(path: &Path) -> Result<(String, String), DownloadError> {
    let (mut sha, mut md5) = (Sha256::new(), Md5::new());
    read_through(path, |piece| {
        sha.update(piece);
        md5.update(piece);
    })?;
    Ok((hex(&sha.finalize()), hex(&md5.finalize())))
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_of(path: &Path) -> Result<String, DownloadError> {
    let mut sha = Sha256::new();
    read_through(path, |piece| sha.update(piece))?;
    Ok(hex(&sha.finalize()))
}

/// The digest recorded beside a verified archive for `algorithm`; an archive
/// verified before MD5s were recorded is hashed once more (and recorded).
fn recorded(path: &Path, algorithm: Algorithm) -> Option<String> {
    let record = |a: Algorithm| record_path(path, a);
    let sha = std::fs::read_to_string(record(Algorithm::Sha256)).ok()?;
    match algorithm {
        Algorithm::Sha256 => Some(sha.trim().to_string()),
        Algorithm::Md5 => match std::fs::read_to_string(record(Algorithm::Md5)) {
            Ok(md5) => Some(md5.trim().to_string()),
            Err(_) => {
                let (_, md5) = digests_of(path).ok()?;
                let _ = crate::fsx::write_atomic(
                    &record(Algorithm::Md5),
                    format!("{md5}\n").as_bytes(),
                );
                Some(md5)
            }
        },
    }
}

/// What a finished download did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The archive was there and verified before: nothing downloaded.
    AlreadyVerified(PathBuf, String),
    /// Downloaded (`resumed`: continued from an earlier partial file).
    Downloaded {
        /// The archive.
        path: PathBuf,
        /// Its SHA-256.
        sha256: String,
        /// Whether an earlier partial download was continued.
        resumed: bool,
    },
}

/// Fetches `url` to `dir/file_name` with the default [`Limits`].
pub fn download(
    url: &str,
    dir: &Path,
    file_name: &str,
    expected: Option<&str>,
    on_bytes: OnBytes,
) -> Result<Fetched, DownloadError> {
    download_with(url, dir, file_name, expected, Limits::default(), on_bytes)
}

/// Fetches `url` to `dir/file_name` (see the module's contract).
pub fn download_with(
    url: &str,
    dir: &Path,
    file_name: &str,
    expected: Option<&str>,
    limits: Limits,
    on_bytes: OnBytes,
) -> Result<Fetched, DownloadError> {
    let pinned = expected
        .map(|e| Algorithm::of(e).map(|a| (a, e)))
        .transpose()?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(file_name);
    if let Some(sha) = verified_before(&path, pinned)? {
        return Ok(Fetched::AlreadyVerified(path, sha));
    }
    let part = dir.join(format!("{file_name}.part"));
    let (done, total, resumed) = match transfer(url, &part, limits, &mut *on_bytes)? {
        Resume::Done(done, total, resumed) => (done, total, resumed),
        // The server's bytes did not continue the partial file: it was removed, start over.
        Resume::Mismatch => match transfer(url, &part, limits, on_bytes)? {
            Resume::Done(done, total, _) => (done, total, false),
            Resume::Mismatch => {
                return Err(DownloadError::Transfer {
                    url: redact(url),
                    reason: "the server's bytes changed between two requests".into(),
                });
            }
        },
    };
    if let Some(total) = total
        && done < total
    {
        return Err(DownloadError::Transfer {
            url: redact(url),
            reason: format!(
                "the connection closed after {done} of {total} bytes; kept in {}, run the command again to resume",
                part.display()
            ),
        });
    }
    let (sha256, md5) = digests_of(&part)?;
    if let Some((algorithm, expected)) = pinned {
        let got = match algorithm {
            Algorithm::Sha256 => &sha256,
            Algorithm::Md5 => &md5,
        };
        if !expected.eq_ignore_ascii_case(got) {
            std::fs::remove_file(&part).map_err(io(&part))?;
            return Err(DownloadError::Checksum {
                path: part,
                algorithm: algorithm.name(),
                got: got.clone(),
                expected: expected.to_lowercase(),
            });
        }
    }
    std::fs::rename(&part, &path).map_err(io(&path))?;
    for (algorithm, digest) in [(Algorithm::Sha256, &sha256), (Algorithm::Md5, &md5)] {
        let record = record_path(&path, algorithm);
        crate::fsx::write_atomic(&record, format!("{digest}\n").as_bytes()).map_err(io(&record))?;
    }
    Ok(Fetched::Downloaded {
        path,
        sha256,
        resumed,
    })
}

fn record_path(path: &Path, algorithm: Algorithm) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}", algorithm.extension()));
    PathBuf::from(name)
}

/// The SHA-256 of an archive downloaded and verified before, re-hashed now:
/// a file whose bytes no longer match its record (or the pin) is removed
/// with its records and downloaded again, never called verified.
fn verified_before(
    path: &Path,
    pinned: Option<(Algorithm, &str)>,
) -> Result<Option<String>, DownloadError> {
    if !path.is_file() {
        return Ok(None);
    }
    let algorithm = pinned.map_or(Algorithm::Sha256, |(a, _)| a);
    let (Some(sha), Some(digest)) = (recorded(path, Algorithm::Sha256), recorded(path, algorithm))
    else {
        return Ok(None);
    };
    if !pinned.is_none_or(|(_, e)| e.eq_ignore_ascii_case(&digest)) {
        return Ok(None);
    }
    let (now_sha, now_md5) = digests_of(path)?;
    let now = match algorithm {
        Algorithm::Sha256 => &now_sha,
        Algorithm::Md5 => &now_md5,
    };
    if now_sha == sha && *now == digest {
        return Ok(Some(sha));
    }
    tracing::warn!(
        "{}: its bytes no longer match the digest recorded when it was downloaded; downloading it again",
        path.display()
    );
    for record in [Algorithm::Sha256, Algorithm::Md5].map(|a| record_path(path, a)) {
        let _ = std::fs::remove_file(record);
    }
    std::fs::remove_file(path).map_err(io(path))?;
    Ok(None)
}
