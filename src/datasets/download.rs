//! Downloads that resume and verify: an archive is fetched to `<file>.part`
//! (continued with an HTTP Range request after an interruption), hashed with
//! SHA-256, checked against the pinned digest when there is one, and only then
//! renamed to `<file>` beside a `<file>.sha256` record, so a later run never
//! downloads a verified archive again and never takes half a file for whole.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}{hint}")]
    Status {
        /// The address asked.
        url: String,
        /// Its status.
        status: u16,
        /// What to do.
        hint: String,
    },
    /// The connection failed.
    #[error("{url}: {reason}")]
    Transfer {
        /// The address asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The archive is not the pinned one.
    #[error(
        "{path}: SHA-256 {got}, expected {expected}; the download was removed (run the command again, or check --url)"
    )]
    Checksum {
        /// The removed file.
        path: PathBuf,
        /// Its digest.
        got: String,
        /// The pinned digest.
        expected: String,
    },
    /// The disk filled while writing.
    #[error(
        "{path}: the disk is full; what was downloaded so far is kept and resumes: free some space (or fetch into another disk with --to DIR) and run the command again"
    )]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DownloadError + '_ {
    move |source| {
        let path = path.to_path_buf();
        if source.raw_os_error() == Some(libc::ENOSPC) {
            DownloadError::DiskFull { path }
        } else {
            DownloadError::Io { path, source }
        }
    }
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_of(path: &Path) -> Result<String, DownloadError> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
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

/// Progress of a transfer: (bytes so far, total when the server says).
pub type OnBytes<'a> = &'a mut dyn FnMut(u64, Option<u64>);

/// Fetches `url` to `dir/file_name` (see the module's contract).
pub fn download(
    url: &str,
    dir: &Path,
    file_name: &str,
    expected_sha256: Option<&str>,
    on_bytes: OnBytes,
) -> Result<Fetched, DownloadError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(file_name);
    let record = dir.join(format!("{file_name}.sha256"));
    if path.is_file()
        && let Ok(recorded) = std::fs::read_to_string(&record)
    {
        let recorded = recorded.trim().to_string();
        if expected_sha256.is_none_or(|e| e.eq_ignore_ascii_case(&recorded)) {
            return Ok(Fetched::AlreadyVerified(path, recorded));
        }
    }
    let part = dir.join(format!("{file_name}.part"));
    let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(5)
        .build()
        .into();
    let mut request = agent.get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request.call().map_err(|e| DownloadError::Transfer {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let resumed = status == 206 && have > 0;
    if !(status == 200 || resumed) {
        let hint = match status {
            404 => "; the file is not there (has the dataset moved? pass --url with a mirror)".to_string(),
            416 => "; the partial download does not fit the file: it was removed, run the command again".to_string(),
            _ => String::new(),
        };
        if status == 416 {
            let _ = std::fs::remove_file(&part);
        }
        return Err(DownloadError::Status {
            url: url.to_string(),
            status,
            hint,
        });
    }
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let start = if resumed { have } else { 0 };
    let total = length.map(|l| l + start);
    let mut out = if resumed {
        OpenOptions::new().append(true).open(&part)
    } else {
        File::create(&part)
    }
    .map_err(io(&part))?;
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = start;
    loop {
        let n = body.read(&mut buf).map_err(|e| DownloadError::Transfer {
            url: url.to_string(),
            reason: format!(
                "{e}; {done} bytes kept in {}, run the command again to resume",
                part.display()
            ),
        })?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(io(&part))?;
        done += n as u64;
        on_bytes(done, total);
    }
    out.flush().map_err(io(&part))?;
    drop(out);
    if let Some(total) = total
        && done < total
    {
        return Err(DownloadError::Transfer {
            url: url.to_string(),
            reason: format!(
                "the connection closed after {done} of {total} bytes; kept in {}, run the command again to resume",
                part.display()
            ),
        });
    }
    let sha256 = sha256_of(&part)?;
    if let Some(expected) = expected_sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        std::fs::remove_file(&part).map_err(io(&part))?;
        return Err(DownloadError::Checksum {
            path: part,
            got: sha256,
            expected: expected.to_lowercase(),
        });
    }
    std::fs::rename(&part, &path).map_err(io(&path))?;
    crate::fsx::write_atomic(&record, format!("{sha256}\n").as_bytes()).map_err(io(&record))?;
    Ok(Fetched::Downloaded {
        path,
        sha256,
        resumed,
    })
}
