//! One HTTP transfer into a `.part` file, bounded in time and checked when
//! it resumes: connect, header and per-read timeouts, a floor on the rate
//! (a server that trickles bytes is cut), and a resumed response that must
//! start where it was asked and re-send bytes the partial file already has,
//! identical, before anything is appended. Credentials in a URL never reach
//! a message.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use std::path::PathBuf;

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
        "{path}: {algorithm} {got}, expected {expected}; the download was removed (run the command again, or check --url)"
    )]
    Checksum {
        /// The removed file.
        path: PathBuf,
        /// SHA-256 or MD5.
        algorithm: &'static str,
        /// Its digest.
        got: String,
        /// The pinned digest.
        expected: String,
    },
    /// A pinned digest that is neither a SHA-256 nor an MD5.
    #[error("{digest:?} is not a digest: give a SHA-256 (64 hex digits) or an MD5 (32 hex digits)")]
    BadDigest {
        /// What was given.
        digest: String,
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

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DownloadError + '_ {
    move |source| {
        let path = path.to_path_buf();
        if source.raw_os_error() == Some(libc::ENOSPC) {
            DownloadError::DiskFull { path }
        } else {
            DownloadError::Io { path, source }
        }
    }
}

/// Progress of a transfer: (bytes so far, total when the server says).
pub type OnBytes<'a> = &'a mut dyn FnMut(u64, Option<u64>);

/// How long a transfer may wait, and how slow it may be, before it is cut
/// (what was received is kept in `<file>.part` and resumes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest wait to connect, for the response's headers, and for any
    /// one read of the body.
    pub timeout: std::time::Duration,
    /// A transfer that receives fewer than this many bytes a second, averaged
    /// over `timeout`, is cut (a server that trickles bytes).
    pub min_bytes_per_sec: u64,
}

impl Default for Limits {
    /// 60 s, and at least 1 KiB/s: generous for a slow link, finite for a dead one.
    fn default() -> Self {
        Self {
            timeout: std::time::Duration::from_secs(60),
            min_bytes_per_sec: 1024,
        }
    }
}

/// `url` with any `user:password@` replaced by `***@`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_string(),
    }
}

/// The user-information part of `url` (`user:password`), if it has one.
fn userinfo(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority.rfind('@').map(|at| &authority[..at])
}

/// A transport error's text with the URL's credentials blanked wherever they appear.
pub(super) fn scrub(url: &str, text: &str) -> String {
    match userinfo(url) {
        Some(info) if !info.is_empty() => text.replace(info, "***"),
        _ => text.to_string(),
    }
}

/// How one transfer into `<file>.part` ended.
pub(super) enum Resume {
    /// Bytes in the file now, the total the server announced, whether it continued a partial file.
    Done(u64, Option<u64>, bool),
    /// The server's bytes for the overlap differ from the partial file's tail
    /// (a 206 with other content): the partial file was removed.
    Mismatch,
}

/// Bytes asked again before a partial file's end, to check that the
/// server's continuation is the same file.
const OVERLAP: u64 = 4096;

fn agent(limits: Limits) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(5)
        .timeout_connect(Some(limits.timeout))
        .timeout_recv_response(Some(limits.timeout))
        .timeout_per_read(Some(limits.timeout))
        .build()
        .into()
}

/// One request into `part`: a fresh download, or a resumed one that first
/// checks [`OVERLAP`] bytes against the partial file.
pub(super) fn transfer(
    url: &str,
    part: &Path,
    limits: Limits,
    on_bytes: OnBytes,
) -> Result<Resume, DownloadError> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let from = have.saturating_sub(OVERLAP);
    let mut request = agent(limits).get(url);
    if have > 0 {
        request = request.header("Range", format!("bytes={from}-"));
    }
    let failed = |e: ureq::Error| DownloadError::Transfer {
        url: redact(url),
        reason: scrub(url, &stalled(&e.to_string(), limits)),
    };
    let response = request.call().map_err(failed)?;
    let status = response.status().as_u16();
    let range_start = response
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // A 206 counts only when it starts where it was asked to.
    let resumed = status == 206 && have > 0 && range_start == Some(from);
    if !(status == 200 || resumed) {
        return Err(refused(url, status, part));
    }
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let start = if resumed { from } else { 0 };
    let total = length.map(|l| l + start);
    let mut body = response.into_body().into_reader();
    if resumed
        && !overlap_matches(&mut body, part, from, have).map_err(|e| DownloadError::Transfer {
            url: redact(url),
            reason: scrub(url, &stalled(&e.to_string(), limits)),
        })?
    {
        std::fs::remove_file(part).map_err(io(part))?;
        tracing::warn!(
            "{}: the server's continuation does not match the partial download; it was removed and the download starts over",
            part.display()
        );
        return Ok(Resume::Mismatch);
    }
    let mut out = if resumed {
        OpenOptions::new().append(true).open(part)
    } else {
        File::create(part)
    }
    .map_err(io(part))?;
    let done = copy_body(
        &mut body,
        &mut out,
        if resumed { have } else { 0 },
        total,
        limits,
        on_bytes,
    )
    .map_err(|e| match e {
        CopyError::Write(e) => io(part)(e),
        CopyError::Read(reason, done) => DownloadError::Transfer {
            url: redact(url),
            reason: scrub(
                url,
                &format!(
                    "{}; {done} bytes kept in {}, run the command again to resume",
                    stalled(&reason, limits),
                    part.display()
                ),
            ),
        },
        CopyError::Slow(reason, done) => DownloadError::Transfer {
            url: redact(url),
            reason: format!(
                "{reason}; {done} bytes kept in {}, run the command again to resume",
                part.display()
            ),
        },
    })?;
    out.flush().map_err(io(part))?;
    Ok(Resume::Done(done, total, resumed))
}

/// An HTTP status that is neither 200 nor the 206 asked for, as an error.
fn refused(url: &str, status: u16, part: &Path) -> DownloadError {
    let hint = match status {
        404 => {
            "; the file is not there (has the dataset moved? pass --url with a mirror)".to_string()
        }
        416 => {
            "; the partial download does not fit the file: it was removed, run the command again"
                .to_string()
        }
        206 => format!(
            "; the server resumed from another byte than asked: {} was removed, run the command again",
            part.display()
        ),
        _ => String::new(),
    };
    if matches!(status, 416 | 206) {
        let _ = std::fs::remove_file(part);
    }
    DownloadError::Status {
        url: redact(url),
        status,
        hint,
    }
}

/// Reads the re-sent overlap and compares it with the partial file's tail.
fn overlap_matches(
    body: &mut impl Read,
    part: &Path,
    from: u64,
    have: u64,
) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    let len = (have - from) as usize;
    let mut theirs = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = body.read(&mut theirs[got..])?;
        if n == 0 {
            return Ok(false);
        }
        got += n;
    }
    let mut ours = vec![0u8; len];
    let mut file = File::open(part)?;
    file.seek(SeekFrom::Start(from))?;
    file.read_exact(&mut ours)?;
    Ok(ours == theirs)
}

/// Why copying a body stopped early.
enum CopyError {
    /// The network side: what happened, bytes in the file.
    Read(String, u64),
    /// Slower than the limits allow: why, bytes in the file.
    Slow(String, u64),
    /// The disk side.
    Write(std::io::Error),
}

/// Appends `body` to `out`, cutting a transfer slower than the limits allow;
/// the bytes in the file at the end.
fn copy_body(
    body: &mut impl Read,
    out: &mut File,
    mut done: u64,
    total: Option<u64>,
    limits: Limits,
    on_bytes: OnBytes,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 1 << 16];
    let mut window = (std::time::Instant::now(), done);
    loop {
        let n = body
            .read(&mut buf)
            .map_err(|e| CopyError::Read(e.to_string(), done))?;
        if n == 0 {
            return Ok(done);
        }
        out.write_all(&buf[..n]).map_err(CopyError::Write)?;
        done += n as u64;
        on_bytes(done, total);
        let elapsed = window.0.elapsed();
        if elapsed >= limits.timeout {
            let floor = limits.min_bytes_per_sec as f64 * elapsed.as_secs_f64();
            if ((done - window.1) as f64) < floor {
                return Err(CopyError::Slow(
                    format!(
                        "the transfer fell below {} bytes/s for {} s (--timeout to wait longer)",
                        limits.min_bytes_per_sec,
                        limits.timeout.as_secs()
                    ),
                    done,
                ));
            }
            window = (std::time::Instant::now(), done);
        }
    }
}

/// A transport error's text, saying when it was a timeout and how to change it.
fn stalled(reason: &str, limits: Limits) -> String {
    if reason.to_ascii_lowercase().contains("timeout") || reason.contains("timed out") {
        format!(
            "{reason}: nothing arrived for {} s (--timeout SECS to wait longer)",
            limits.timeout.as_secs()
        )
    } else {
        reason.to_string()
    }
}
