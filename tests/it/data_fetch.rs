//! `earshot data`: downloads against a loopback HTTP server started here
//! (127.0.0.1 only) — a good archive, a corrupted one, one cut mid-transfer
//! and resumed, a 404, a redirect — zip-slip refused, and FSDD prepared from
//! an archive laid out as its release is.
use crate::common;

use crate::common::earshot;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::http;

use earshot::datasets::download::{DownloadError, Fetched, download, sha256_of};
use earshot::datasets::extract::{ExtractError, extract_archive, extract_zip};

/// Serves `routes` on a loopback port until the test ends; `/cut/...` sends
/// half its body on the first request and closes. Returns the base address
/// and the requests seen (path and Range header).
fn serve(routes: Vec<(&'static str, Vec<u8>)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let cut_once = AtomicBool::new(false);
    let base = http::serve(move |path, range, stream| {
        log.lock().unwrap().push(format!("{path} {range:?}"));
        if path == "/moved.zip" {
            let _ = stream.write_all(b"HTTP/1.1 302 Found\r\nLocation: /good.zip\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        let name = path.trim_start_matches("/cut");
        let Some((_, body)) = routes.iter().find(|(p, _)| *p == name) else {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        };
        let from = (range.unwrap_or(0) as usize).min(body.len());
        let head = if from > 0 {
            http::partial_head(from, body.len())
        } else {
            http::ok_head(body.len())
        };
        let _ = stream.write_all(head.as_bytes());
        let mut rest = &body[from..];
        if path.starts_with("/cut") && !cut_once.swap(true, Ordering::SeqCst) {
            rest = &rest[..rest.len() / 2];
        }
        let _ = stream.write_all(rest);
    });
    (base, seen)
}

/// A zip of `entries` (name, bytes), stored.
fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options =
            zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn hex_sha256(bytes: &[u8]) -> String {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), bytes).unwrap();
    sha256_of(tmp.path()).unwrap()
}

#[test]
fn downloads_verify_resume_and_fail_with_their_reason() {
    let good = zip_of(&[("a/train/x.txt", vec![7u8; 50_000])]);
    let sha = hex_sha256(&good);
    let (base, seen) = serve(vec![("/good.zip", good.clone())]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut quiet = |_: u64, _: Option<u64>| {};

    // Good, then never downloaded again once verified.
    let got = download(
        &format!("{base}/good.zip"),
        dir,
        "g.zip",
        Some(&sha),
        &mut quiet,
    )
    .unwrap();
    assert!(matches!(got, Fetched::Downloaded { resumed: false, .. }));
    assert_eq!(std::fs::read(dir.join("g.zip")).unwrap(), good);
    let requests = seen.lock().unwrap().len();
    let again = download(
        &format!("{base}/good.zip"),
        dir,
        "g.zip",
        Some(&sha),
        &mut quiet,
    )
    .unwrap();
    assert!(matches!(again, Fetched::AlreadyVerified(..)));
    assert_eq!(
        seen.lock().unwrap().len(),
        requests,
        "a verified archive is not fetched again"
    );

    // A checksum mismatch: clear error, nothing kept.
    let wrong = "0".repeat(64);
    let err = download(
        &format!("{base}/good.zip"),
        dir,
        "w.zip",
        Some(&wrong),
        &mut quiet,
    )
    .unwrap_err();
    assert!(matches!(err, DownloadError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("was removed"), "{err}");
    assert!(!dir.join("w.zip").exists() && !dir.join("w.zip.part").exists());

    // Cut mid-transfer: the partial file stays, the next run resumes with Range.
    let err = download(
        &format!("{base}/cut/good.zip"),
        dir,
        "c.zip",
        Some(&sha),
        &mut quiet,
    )
    .unwrap_err();
    assert!(err.to_string().contains("resume"), "{err}");
    let half = std::fs::metadata(dir.join("c.zip.part")).unwrap().len();
    assert!(half > 0 && (half as usize) < good.len());
    let resumed = download(
        &format!("{base}/cut/good.zip"),
        dir,
        "c.zip",
        Some(&sha),
        &mut quiet,
    )
    .unwrap();
    assert!(
        matches!(resumed, Fetched::Downloaded { resumed: true, .. }),
        "{resumed:?}"
    );
    assert_eq!(std::fs::read(dir.join("c.zip")).unwrap(), good);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            // Resumed from 4 KiB before the end: those bytes are checked against the partial file.
            .any(|r| r == &format!("/cut/good.zip Some({})", half - 4096))
    );

    // 404 and a redirect.
    let err = download(
        &format!("{base}/missing.zip"),
        dir,
        "m.zip",
        None,
        &mut quiet,
    )
    .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    let moved = download(
        &format!("{base}/moved.zip"),
        dir,
        "r.zip",
        Some(&sha),
        &mut quiet,
    )
    .unwrap();
    assert!(matches!(moved, Fetched::Downloaded { .. }));
}

#[test]
fn a_full_disk_is_named_and_no_archive_is_left_as_if_complete() {
    // Writes to /dev/full fail with ENOSPC: the partial file points there.
    let good = zip_of(&[("a/train/x.txt", vec![1u8; 10_000])]);
    let (base, _) = serve(vec![("/good.zip", good)]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::os::unix::fs::symlink("/dev/full", dir.join("f.zip.part")).unwrap();
    let mut quiet = |_: u64, _: Option<u64>| {};
    let err = download(&format!("{base}/good.zip"), dir, "f.zip", None, &mut quiet).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("f.zip.part") && message.contains("the disk is full"),
        "{message}"
    );
    assert!(message.contains("--to DIR"), "{message}");
    assert!(!dir.join("f.zip").exists() && !dir.join("f.zip.sha256").exists());
}

#[test]
fn an_archive_reaching_outside_its_folder_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("evil.zip");
    std::fs::write(
        &archive,
        zip_of(&[
            ("ok.txt", b"fine".to_vec()),
            ("../escaped.txt", b"x".to_vec()),
        ]),
    )
    .unwrap();
    let target = tmp.path().join("out/data");
    let err = extract_zip(&archive, &target).unwrap_err();
    assert!(matches!(err, ExtractError::Escapes { .. }), "{err}");
    assert!(err.to_string().contains("../escaped.txt"), "{err}");
    assert!(!target.exists() && !tmp.path().join("out/escaped.txt").exists());
    assert!(!tmp.path().join("escaped.txt").exists());
    // Not a zip at all: a clear error naming the file.
    std::fs::write(tmp.path().join("trunc.zip"), b"PK\x03\x04 cut short").unwrap();
    let err = extract_zip(&tmp.path().join("trunc.zip"), &target).unwrap_err();
    assert!(err.to_string().contains("trunc.zip"), "{err}");
}

/// A tar.gz of `entries`: (raw name, bytes, is a symlink). Names are written
/// into the header as they are, as a hostile archive would.
fn tar_gz_of(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, bytes, link) in entries {
        let mut header = tar::Header::new_gnu();
        let raw = &mut header.as_gnu_mut().unwrap().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_mode(0o644);
        if *link {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_link_name("/etc/passwd").unwrap();
            header.set_size(0);
            header.set_cksum();
            builder.append(&header, std::io::empty()).unwrap();
        } else {
            header.set_size(bytes.len() as u64);
            header.set_cksum();
            builder.append(&header, *bytes).unwrap();
        }
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn tar_gz_archives_unpack_and_hostile_ones_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.tar.gz");
    std::fs::write(&good, tar_gz_of(&[("fan/train/a.wav", b"abc", false)])).unwrap();
    assert_eq!(extract_archive(&good, &tmp.path().join("g")).unwrap(), 1);
    assert_eq!(
        std::fs::read(tmp.path().join("g/fan/train/a.wav")).unwrap(),
        b"abc"
    );
    for (name, entries) in [
        (
            "dots.tar.gz",
            vec![
                ("ok.txt", &b"1"[..], false),
                ("../escaped.txt", &b"x"[..], false),
            ],
        ),
        (
            "link.tgz",
            vec![("ok.txt", &b"1"[..], false), ("passwd", &b""[..], true)],
        ),
    ] {
        let archive = tmp.path().join(name);
        std::fs::write(&archive, tar_gz_of(&entries)).unwrap();
        let target = tmp.path().join("out").join(name);
        let err = extract_archive(&archive, &target).unwrap_err();
        assert!(matches!(err, ExtractError::Escapes { .. }), "{name}: {err}");
        assert!(!target.exists() && !tmp.path().join("out/escaped.txt").exists());
    }
}

/// A tiny WAV (hound), so the prepared clips are real audio files.
fn wav() -> Vec<u8> {
    common::sine_wav(0.3)
}

#[test]
fn fsdd_is_fetched_from_a_server_and_prepared_into_the_speaker_novelty_split() {
    let mut entries = Vec::new();
    for speaker in ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"] {
        for take in [0, 39, 40, 49] {
            entries.push((
                format!("free-spoken-digit-dataset-1.0.10/recordings/3_{speaker}_{take}.wav"),
                wav(),
            ));
        }
    }
    entries.push((
        "free-spoken-digit-dataset-1.0.10/README.md".into(),
        b"fsdd".to_vec(),
    ));
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let archive = zip_of(&refs);
    let sha = hex_sha256(&archive);
    let (base, _) = serve(vec![("/fsdd.zip", archive)]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let out = common::ok(
        &earshot(dir)
            .args(["data", "prepare", "fsdd", "--to", data.to_str().unwrap()])
            .args(["--url", &format!("{base}/fsdd.zip"), "--sha256", &sha])
            .output()
            .unwrap(),
    );
    assert!(
        out.contains("10 train/normal, 10 test/normal, 4 test/anomaly"),
        "{out}"
    );
    // Generated clips under FSDD's names are not the pinned recordings: said.
    assert!(
        out.contains(
            "warning: 0 of the recordings match datasets/fsdd.sha256, 24 differ or are not in it (e.g. 3_"
        ) && out.contains("2976 of it are absent"),
        "{out}"
    );
    let fsdd = data.join("fsdd");
    assert!(fsdd.join("train/normal/3_theo_39.wav").is_file());
    assert!(fsdd.join("test/normal/3_theo_40.wav").is_file());
    assert!(fsdd.join("test/anomaly/3_yweweler_0.wav").is_file());
    assert!(
        data.join("downloads/free-spoken-digit-dataset-1.0.10.zip.sha256")
            .is_file()
    );
    // No staging folder is left behind; a second prepare leaves the folder alone.
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let again = common::ok(
        &earshot(dir)
            .args(["data", "prepare", "fsdd", "--to", data.to_str().unwrap()])
            .args(["--url", &format!("{base}/fsdd.zip")])
            .output()
            .unwrap(),
    );
    assert!(again.contains("prepared before"), "{again}");

    // The experiments find it by name under the data folder.
    std::fs::write(
        dir.join("exp.toml"),
        "name = \"f\"\n[data]\nlayout = \"folders\"\nroot = \"fsdd\"\nframes = 4\nhop = 2\n\
         [features]\nsample_rate = 8000\nn_fft = 256\nhop_length = 64\nn_mels = 20\n[[model]]\nkind = \"knn\"\nk = 1\n",
    )
    .unwrap();
    common::ok(
        &earshot(dir)
            .env("EARSHOT_DATA", &data)
            .args(["train", "exp.toml", "--device", "cpu"])
            .output()
            .unwrap(),
    );
    assert!(Path::new(&dir.join("runs/f/knn/metrics.json")).is_file());
}

#[test]
fn unknown_names_and_manual_datasets_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let out = earshot(tmp.path())
        .args(["data", "fetch", "fssd"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        common::text(&out).contains("known: fsdd, dcase2020-task2"),
        "{}",
        common::text(&out)
    );
    let out = earshot(tmp.path())
        .args(["data", "fetch", "soundscape"])
        .output()
        .unwrap();
    assert!(
        common::text(&out).contains("scikit-maad"),
        "{}",
        common::text(&out)
    );
}

#[test]
fn md5_pins_as_zenodo_publishes_them_are_checked_and_recorded() {
    // RFC 1321's well-known vector: MD5 of this sentence.
    let fox = b"The quick brown fox jumps over the lazy dog".to_vec();
    let md5 = "9e107d9d372bb6826bd81d3542a419d6";
    let (base, seen) = serve(vec![("/fox.zip", fox.clone())]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut quiet = |_: u64, _: Option<u64>| {};
    let url = format!("{base}/fox.zip");

    let got = download(&url, dir, "fox.zip", Some(md5), &mut quiet).unwrap();
    assert!(matches!(got, Fetched::Downloaded { .. }), "{got:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("fox.zip.md5"))
            .unwrap()
            .trim(),
        md5
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("fox.zip.sha256"))
            .unwrap()
            .trim(),
        hex_sha256(&fox)
    );
    // Upper case is the same digest; a verified archive is not fetched again,
    // even when only its SHA-256 was recorded (an older download).
    std::fs::remove_file(dir.join("fox.zip.md5")).unwrap();
    let requests = seen.lock().unwrap().len();
    let again = download(&url, dir, "fox.zip", Some(&md5.to_uppercase()), &mut quiet).unwrap();
    assert!(matches!(again, Fetched::AlreadyVerified(..)), "{again:?}");
    assert_eq!(seen.lock().unwrap().len(), requests);
    assert!(dir.join("fox.zip.md5").is_file());

    // The wrong MD5: named as MD5, the download removed.
    let err = download(&url, dir, "other.zip", Some(&"f".repeat(32)), &mut quiet).unwrap_err();
    assert!(matches!(err, DownloadError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains(&format!("MD5 {md5}")), "{err}");
    assert!(!dir.join("other.zip").exists() && !dir.join("other.zip.part").exists());

    // Neither length: refused before anything is fetched.
    let requests = seen.lock().unwrap().len();
    let err = download(&url, dir, "x.zip", Some("abc123"), &mut quiet).unwrap_err();
    assert!(
        err.to_string()
            .contains("SHA-256 (64 hex digits) or an MD5"),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap().len(), requests);
}

#[test]
fn the_committed_fsdd_recordings_are_the_pinned_ones() {
    // tests/fixtures/real/fsdd holds two recordings of the release, split.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/fsdd");
    let check = earshot::datasets::prepare::check_fsdd(&fixtures).unwrap();
    assert_eq!(
        (
            check.matching,
            check.differing.len(),
            check.unknown.len(),
            check.missing
        ),
        (2, 0, 0, 2998)
    );
    assert_eq!(
        earshot::datasets::prepare::FSDD_SHA256.lines().count(),
        3000,
        "6 speakers x 10 digits x 50 takes"
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = common::ok(
        &earshot(tmp.path())
            .args(["data", "prepare", "fsdd", "--to", data.to_str().unwrap()])
            .args(["--from", fixtures.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert!(
        out.contains("1 train/normal, 0 test/normal, 1 test/anomaly")
            && out.contains("2 of the recordings match datasets/fsdd.sha256, 0 differ"),
        "{out}"
    );
}
