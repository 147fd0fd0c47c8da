//! Hostile input and faults, second round (RELIABILITY.md lists each case):
//! a loopback HTTP server that stalls, trickles, lies and answers 206 with
//! junk; archives that are bombs, carry links, FIFOs, devices, duplicate
//! names and world-writable modes; BAD sets whose item ids collide; a
//! killed `prepare`; command-line edges.
use crate::common;

use crate::common::earshot;

use std::io::Write;
use std::net::TcpListener;

use crate::common::http::{ok_head, partial_head, serve};
use std::path::Path;
use std::time::{Duration, Instant};

use earshot::datasets::bad::{BAD_MARKER, PENDING, prepare_bad};
use earshot::datasets::download::{DownloadError, Fetched, Limits, download_with, redact};
use earshot::datasets::extract::{
    ExtractError, UnpackLimits, extract_archive, extract_archive_with,
};

fn fast() -> Limits {
    Limits {
        timeout: Duration::from_secs(1),
        min_bytes_per_sec: 1024,
    }
}

/// A download with [`fast`] limits and no progress output.
fn fetch(url: &str, dir: &Path, name: &str) -> Result<Fetched, DownloadError> {
    download_with(url, dir, name, None, fast(), &mut |_, _| {})
}

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn stalled_and_trickling_servers_are_cut_and_the_partial_file_resumes() {
    let data = body(40_000);
    let served = data.clone();
    let base = serve(move |path, range, s| match path {
        // Accepts, then never answers.
        "/silent" => std::thread::sleep(Duration::from_secs(30)),
        // Half the body, then silence.
        "/stall" if range.is_none() => {
            let _ = s.write_all(ok_head(served.len()).as_bytes());
            let _ = s.write_all(&served[..20_000]);
            let _ = s.flush();
            std::thread::sleep(Duration::from_secs(30));
        }
        // The resumed request: the rest, from where it was asked.
        "/stall" => {
            let from = range.unwrap() as usize;
            let _ = s.write_all(partial_head(from, served.len()).as_bytes());
            let _ = s.write_all(&served[from..]);
        }
        // One byte every 200 ms: alive, but far below 1 KiB/s.
        "/trickle" => {
            let _ = s.write_all(ok_head(served.len()).as_bytes());
            for b in &served[..50] {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                let _ = s.flush();
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        _ => {}
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (route, kept_part) in [("silent", false), ("stall", true), ("trickle", true)] {
        let started = Instant::now();
        let err = fetch(&format!("{base}/{route}"), dir, route).unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_secs(8), "{route}: cut after {took:?}");
        let text = err.to_string();
        assert!(
            matches!(err, DownloadError::Transfer { .. }),
            "{route}: {text}"
        );
        assert!(text.contains("--timeout"), "{route}: {text}");
        if kept_part {
            assert!(
                text.contains("resume") && dir.join(format!("{route}.part")).is_file(),
                "{text}"
            );
        }
    }
    // The stalled one resumes, and only the partial file's tail is asked again.
    let got = fetch(&format!("{base}/stall"), dir, "stall").unwrap();
    assert!(
        matches!(got, Fetched::Downloaded { resumed: true, .. }),
        "{got:?}"
    );
    assert_eq!(std::fs::read(dir.join("stall")).unwrap(), data);
}

#[test]
fn a_206_with_junk_is_never_recorded_as_verified_and_a_changed_file_is_fetched_again() {
    let data = body(30_000);
    let served = data.clone();
    let plain_requests = std::sync::atomic::AtomicUsize::new(0);
    let base = serve(move |path, range, s| {
        let first = range.is_none()
            && plain_requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        match (path, range) {
            // The first request is cut half-way.
            ("/junk", None) if first => {
                let _ = s.write_all(ok_head(served.len()).as_bytes());
                let _ = s.write_all(&served[..15_000]);
            }
            // A resume answered with other bytes that claim to be the right range.
            ("/junk", Some(from)) => {
                let from = from as usize;
                let _ = s.write_all(partial_head(from, served.len()).as_bytes());
                let _ = s.write_all(&vec![0x55u8; served.len() - from]);
            }
            _ => {
                let _ = s.write_all(ok_head(served.len()).as_bytes());
                let _ = s.write_all(&served);
            }
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Cut: 15,000 bytes kept.
    let err = fetch(&format!("{base}/junk"), dir, "j.bin").unwrap_err();
    assert!(err.to_string().contains("resume"), "{err}");
    // The junk 206's overlap does not match: the partial file is dropped and
    // the whole file fetched again (the server answers a plain request whole).
    let got = fetch(&format!("{base}/junk"), dir, "j.bin").unwrap();
    assert!(
        matches!(got, Fetched::Downloaded { resumed: false, .. }),
        "{got:?}"
    );
    assert_eq!(std::fs::read(dir.join("j.bin")).unwrap(), data);

    // A verified file whose bytes change on disk is not "already verified".
    let mut bytes = std::fs::read(dir.join("j.bin")).unwrap();
    bytes[100] ^= 1;
    std::fs::write(dir.join("j.bin"), bytes).unwrap();
    let again = fetch(&format!("{base}/whole"), dir, "j.bin").unwrap();
    assert!(matches!(again, Fetched::Downloaded { .. }), "{again:?}");
    assert_eq!(std::fs::read(dir.join("j.bin")).unwrap(), data);
}

#[test]
fn credentials_never_reach_a_message() {
    assert_eq!(
        redact("https://alice:s3cret@example.org/a.zip?x=1"),
        "https://***@example.org/a.zip?x=1"
    );
    assert_eq!(
        redact("https://example.org/a@b.zip"),
        "https://example.org/a@b.zip"
    );
    // A refused connection (nothing listens on the port just freed).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://alice:s3cret@127.0.0.1:{port}/a.zip");
    let err = fetch(&url, tmp.path(), "a.zip").unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(err.to_string().contains("***@127.0.0.1"), "{err}");
    // A 404 from a live server, through the command line.
    let base = serve(|_, _, s| {
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    let with_user = base.replace("http://", "http://bob:hunter2@");
    let out = earshot(tmp.path())
        .args([
            "data",
            "fetch",
            "fsdd",
            "--to",
            "d",
            "--timeout",
            "2",
            "--url",
        ])
        .arg(format!("{with_user}/x.zip"))
        .output()
        .unwrap();
    let text = common::text(&out);
    assert!(!out.status.success() && text.contains("HTTP 404"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn one_url_is_never_saved_as_several_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let out = earshot(tmp.path())
        .args([
            "data",
            "fetch",
            "dcase2022-task2",
            "--to",
            "d",
            "--url",
            "http://127.0.0.1:9/x.zip",
        ])
        .output()
        .unwrap();
    let text = common::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("--url gives one archive") && text.contains("--machine"),
        "{text}"
    );
    assert!(
        !tmp.path().join("d/downloads").exists(),
        "nothing was fetched"
    );
}

fn zip_with(write: impl FnOnce(&mut zip::ZipWriter<&mut std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        write(&mut zip);
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// A tar.gz of (name, bytes, kind, mode).
fn tar_gz(entries: &[(&str, &[u8], tar::EntryType, u32)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, bytes, kind, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_path(name).unwrap();
        header.set_entry_type(*kind);
        header.set_mode(*mode);
        header.set_size(bytes.len() as u64);
        header.set_cksum();
        builder.append(&header, *bytes).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn a_zip_bomb_is_cut_while_writing_and_nothing_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    // 8 MiB of zeros deflate to a few KB: 1000x.
    let bomb = zip_with(|z| {
        let options =
            zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        z.start_file("a/zeros.wav", options).unwrap();
        z.write_all(&vec![0u8; 8 << 20]).unwrap();
    });
    let archive = tmp.path().join("bomb.zip");
    std::fs::write(&archive, &bomb).unwrap();
    let target = tmp.path().join("out");
    let limits = UnpackLimits {
        floor: 1 << 20,
        ..UnpackLimits::default()
    };
    let err = extract_archive_with(&archive, &target, limits).unwrap_err();
    assert!(matches!(err, ExtractError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("--max-unpacked"), "{err}");
    assert!(!target.exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "only the archive remains: {left:?}");
    // An explicit bound above it lets it through.
    let big = UnpackLimits {
        max_bytes: Some(16 << 20),
        ..limits
    };
    assert_eq!(extract_archive_with(&archive, &target, big).unwrap(), 1);

    // Through the command line: --max-unpacked, and the error says so.
    std::fs::create_dir_all(tmp.path().join("cli")).unwrap();
    let out = earshot(tmp.path())
        .args([
            "data",
            "prepare",
            "fsdd",
            "--to",
            "cli/d",
            "--max-unpacked",
            "1M",
            "--from",
        ])
        .arg(&archive)
        .output()
        .unwrap();
    let text = common::text(&out);
    assert!(
        !out.status.success() && text.contains("archive bomb"),
        "{text}"
    );
    let hidden: Vec<_> = std::fs::read_dir(tmp.path().join("cli/d"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(hidden.is_empty(), "staging left behind: {hidden:?}");
}

#[test]
fn links_fifos_devices_and_duplicate_names_refuse_an_archive() {
    use tar::EntryType as T;
    let tmp = tempfile::tempdir().unwrap();
    let wav = common::sine_wav(0.3);
    let symlink_zip = zip_with(|z| {
        let options = zip::write::FileOptions::default();
        z.start_file("ok.wav", options).unwrap();
        z.write_all(&wav).unwrap();
        z.add_symlink("link.wav", "/etc/passwd", options).unwrap();
    });
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("symlink.zip", symlink_zip, "symbolic link"),
        (
            "fifo.tar.gz",
            tar_gz(&[
                ("ok.wav", &wav, T::Regular, 0o644),
                ("pipe", b"", T::Fifo, 0o644),
            ]),
            "FIFO",
        ),
        ("dev.tgz", tar_gz(&[("tty", b"", T::Char, 0o644)]), "device"),
        (
            "twice.tar.gz",
            tar_gz(&[
                ("a/clip.wav", &wav, T::Regular, 0o644),
                ("a/./clip.wav", b"other", T::Regular, 0o644),
            ]),
            "appears twice",
        ),
    ];
    for (name, bytes, why) in cases {
        let archive = tmp.path().join(name);
        std::fs::write(&archive, bytes).unwrap();
        let target = tmp.path().join("out").join(name);
        let err = extract_archive(&archive, &target).unwrap_err();
        assert!(matches!(err, ExtractError::Escapes { .. }), "{name}: {err}");
        assert!(err.to_string().contains(why), "{name}: {err}");
        assert!(!target.exists(), "{name}");
    }

    // Modes from the archive are not kept: nothing world-writable.
    let archive = tmp.path().join("modes.tar.gz");
    std::fs::write(
        &archive,
        tar_gz(&[
            ("d/open.wav", &wav, T::Regular, 0o777),
            ("d/x.wav", &wav, T::Regular, 0o666),
        ]),
    )
    .unwrap();
    let target = tmp.path().join("modes");
    assert_eq!(extract_archive(&archive, &target).unwrap(), 2);
    use std::os::unix::fs::PermissionsExt;
    for f in ["d/open.wav", "d/x.wav", "d"] {
        let mode = std::fs::metadata(target.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o022, 0, "{f}: mode {mode:o}");
        if f != "d" {
            assert_eq!(mode & 0o111, 0, "{f}: executable {mode:o}");
        }
    }
}

#[test]
fn staging_left_by_a_killed_process_is_removed_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let data = tmp.path().join("data");
    let stale = [
        format!(".fsdd-unpacked-{dead}"),
        format!("..fsdd-unpacked-{dead}.partial-{dead}"),
    ];
    for s in &stale {
        std::fs::create_dir_all(data.join(s).join("recordings")).unwrap();
        std::fs::write(
            data.join(s).join("recordings/0_theo_1.wav"),
            vec![0u8; 4096],
        )
        .unwrap();
    }
    let archive = tmp.path().join("a.tar.gz");
    std::fs::write(
        &archive,
        tar_gz(&[("x.txt", b"x", tar::EntryType::Regular, 0o644)]),
    )
    .unwrap();
    extract_archive(&archive, &data.join("other")).unwrap();
    for s in &stale {
        assert!(!data.join(s).exists(), "{s} is still there");
    }
}

fn bad_set(dir: &Path, name: &str, ids: &[(&str, u8)]) -> (std::path::PathBuf, std::path::PathBuf) {
    let wav = common::sine_wav(0.2);
    let archive = dir.join(format!("{name}.zip"));
    let bytes = zip_with(|z| {
        for (id, _) in ids {
            z.start_file(format!("wav/{id}.wav"), zip::write::FileOptions::default())
                .unwrap();
            z.write_all(&wav).unwrap();
        }
    });
    std::fs::write(&archive, bytes).unwrap();
    let labels = dir.join(format!("{name}.csv"));
    let mut text = "itemid,datasetid,hasbird\n".to_string();
    for (id, bird) in ids {
        text.push_str(&format!("{id},{name},{bird}\n"));
    }
    std::fs::write(&labels, text).unwrap();
    (archive, labels)
}

#[test]
fn colliding_bad_sets_are_refused_and_a_killed_prepare_is_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (a, a_labels) = bad_set(tmp.path(), "setA", &[("c1", 0), ("c2", 0), ("c3", 1)]);
    let (b, b_labels) = bad_set(tmp.path(), "setB", &[("c2", 1), ("c9", 1)]);
    prepare_bad("setA", &a, &a_labels, &data, UnpackLimits::default()).unwrap();
    let labels_before = std::fs::read_to_string(data.join("bad/labels.csv")).unwrap();
    let clip_before = std::fs::read(data.join("bad/c2.wav")).unwrap();
    let err = prepare_bad("setB", &b, &b_labels, &data, UnpackLimits::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("collide") && text.contains("c2 (already there from setA)"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("bad/labels.csv")).unwrap(),
        labels_before
    );
    assert_eq!(std::fs::read(data.join("bad/c2.wav")).unwrap(), clip_before);
    assert!(!data.join("bad/c9.wav").exists());

    // A first set killed mid-move: clips in place, a journal, no labels or marker.
    let data2 = tmp.path().join("data2");
    std::fs::create_dir_all(data2.join("bad")).unwrap();
    std::fs::write(data2.join("bad/c1.wav"), common::sine_wav(0.2)).unwrap();
    std::fs::write(data2.join("bad").join(PENDING), "setA\nc1\nc2\nc3\n").unwrap();
    let built = prepare_bad("setA", &a, &a_labels, &data2, UnpackLimits::default()).unwrap();
    assert!(
        matches!(
            built,
            earshot::datasets::prepare::Outcome::Built(_, [3, 1, 0])
        ),
        "{built:?}"
    );
    assert!(!data2.join("bad").join(PENDING).exists());
    assert_eq!(
        std::fs::read_to_string(data2.join("bad").join(BAD_MARKER)).unwrap(),
        "setA\n"
    );
    let labels = std::fs::read_to_string(data2.join("bad/labels.csv")).unwrap();
    assert_eq!(labels.lines().count(), 4, "{labels}");
}

#[test]
fn command_line_edges_are_refused_with_the_range() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("exp.toml"), "name = \"x\"\n").unwrap();
    let out = earshot(dir)
        .args(["train", "exp.toml", "--seed", "18446744073709551615"])
        .output()
        .unwrap();
    let text = common::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("18446744073709551615") && text.contains("9223372036854775807"),
        "{text}"
    );
    assert!(!text.contains("-1"), "{text}");

    // init on a folder of non-audio files: refused, the files named, nothing written.
    for split in ["train/normal", "test/normal", "test/anomaly"] {
        std::fs::create_dir_all(dir.join("junk").join(split)).unwrap();
        std::fs::write(
            dir.join("junk").join(split).join("a.wav"),
            b"not audio at all",
        )
        .unwrap();
    }
    let out = earshot(dir).args(["init", "junk"]).output().unwrap();
    let text = common::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("could be read as audio") && text.contains("a.wav"),
        "{text}"
    );
    assert!(!dir.join("junk.toml").exists());

    // init with one clip per split: a starter that trains (k and components fit one clip).
    common::synth_data(&dir.join("tiny"), 1, 1, 5);
    common::ok(
        &earshot(dir)
            .args(["init", "tiny/data", "--out", "tiny.toml"])
            .output()
            .unwrap(),
    );
    let starter = std::fs::read_to_string(dir.join("tiny.toml")).unwrap();
    assert!(
        starter.contains("k = 1") && starter.contains("components = 1"),
        "{starter}"
    );
    assert!(!starter.contains("[[ensemble]]"), "{starter}");
    common::ok(
        &earshot(dir)
            .args([
                "train",
                "tiny.toml",
                "--device",
                "cpu",
                "--set",
                "train.epochs=1",
            ])
            .output()
            .unwrap(),
    );
}

#[test]
fn run_records_hold_no_home_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("shared-data");
    common::synth_data(&data, 6, 3, 11); // shared-data/data
    std::fs::write(
        dir.join("exp.toml"),
        "name = \"p\"\nseed = 1\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 4\nhop = 2\n\
         [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n[[model]]\nkind = \"knn\"\nk = 1\n",
    )
    .unwrap();
    common::ok(
        &earshot(dir)
            .env("EARSHOT_DATA", &data)
            .args(["train", "exp.toml", "--device", "cpu"])
            .output()
            .unwrap(),
    );
    let trial = dir.join("runs/p/knn");
    let absolute = data.display().to_string();
    for file in [
        "config.toml",
        "model/config.toml",
        "scores.csv",
        "metrics.json",
    ] {
        let text = std::fs::read_to_string(trial.join(file)).unwrap();
        assert!(
            !text.contains(&absolute),
            "{file} holds {absolute}:\n{text}"
        );
    }
    let config = std::fs::read_to_string(trial.join("config.toml")).unwrap();
    assert!(config.contains("root = \"data\""), "{config}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(trial.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["data_root"], "data");
    let scores = std::fs::read_to_string(trial.join("scores.csv")).unwrap();
    assert!(
        scores.lines().nth(1).unwrap().starts_with("test/"),
        "{scores}"
    );
    // eval finds the dataset again from the relative root, and gives the same AUC.
    common::ok(
        &earshot(dir)
            .env("EARSHOT_DATA", &data)
            .args(["eval", "runs/p/knn"])
            .output()
            .unwrap(),
    );
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(trial.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(again["auc"], metrics["auc"]);
    assert_eq!(again["evaluated_on"], "data");
}
