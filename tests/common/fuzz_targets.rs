//! The parsers earshot runs on untrusted input, as fuzz targets: each takes
//! arbitrary bytes and must return (an error is fine) without panicking,
//! aborting or hanging. Shared by `examples/fuzz.rs` (the mutation fuzzer)
//! and `tests/fuzz_regressions.rs` (replays of saved inputs, a short round).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Every target, by name.
pub const TARGETS: [&str; 13] = [
    "wav", "flac", "mp3", "ogg", "toml", "manifest", "bad", "dcase", "npy", "events", "zip",
    "targz", "http",
];

/// A scratch folder a target may write its input into (one per worker).
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(dir.join("root")).unwrap();
        for name in ["a.wav", "b.wav", "sub/c.wav", "xc-1.wav"] {
            let p = dir.join("root").join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"RIFF").unwrap();
        }
        Self { dir }
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// A small zip of two WAV-named files, one deflated.
fn zip_seed() -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let stored =
            zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("set/a.wav", stored).unwrap();
        zip.write_all(b"RIFF....WAVEfmt ").unwrap();
        zip.add_directory("set/sub/", stored).unwrap();
        zip.start_file("set/sub/b.wav", zip::write::FileOptions::default())
            .unwrap();
        zip.write_all(&[0u8; 3000]).unwrap();
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// A small tar.gz of a folder and two files.
fn targz_seed() -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, bytes) in [
        ("fan/train/a.wav", &b"RIFF....WAVE"[..]),
        ("fan/test/b.wav", &[0u8; 2000][..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_path(name).unwrap();
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        header.set_cksum();
        builder.append(&header, bytes).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// Unpacks `input` (named `name`) into a fresh folder of the scratch, with a
/// bound small enough that a mutated length cannot fill the disk; whatever
/// happens, nothing may appear outside that folder.
fn unpack(scratch: &Scratch, name: &str, input: &[u8]) {
    let archive = scratch.file(name, input);
    let target = scratch.dir.join("unpacked");
    let _ = std::fs::remove_dir_all(&target);
    let limits = earshot::datasets::extract::UnpackLimits {
        max_bytes: Some(4 << 20),
        ..Default::default()
    };
    let _ = earshot::datasets::extract::extract_archive_with(&archive, &target, limits);
    let outside: Vec<_> = std::fs::read_dir(&scratch.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !["root", "unpacked", name].contains(&n.as_str())
                && !n.ends_with(".toml")
                && !n.ends_with(".csv")
                && !n.starts_with("input.")
                && n != "runs"
                && n != "dl"
        })
        .collect();
    assert!(
        outside.is_empty(),
        "an archive wrote outside its folder: {outside:?}"
    );
    let _ = std::fs::remove_dir_all(&target);
}

/// Answers one request on a loopback port with `response` as raw bytes, then
/// closes; a download from it must end (an error is fine) without hanging.
fn http_once(scratch: &Scratch, response: &[u8]) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x.zip", listener.local_addr().unwrap());
    let response = response.to_vec();
    let server = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(&response);
        }
    });
    let dir = scratch.dir.join("dl");
    let _ = std::fs::remove_dir_all(&dir);
    let limits = earshot::datasets::download::Limits {
        timeout: std::time::Duration::from_secs(2),
        min_bytes_per_sec: 1,
    };
    let mut quiet = |_: u64, _: Option<u64>| {};
    let _ =
        earshot::datasets::download::download_with(&url, &dir, "x.zip", None, limits, &mut quiet);
    server.join().unwrap();
}

/// Seed inputs of a target: real files where they exist, else small hand-made ones.
pub fn seeds(target: &str, repo: &Path) -> Vec<Vec<u8>> {
    let read = |p: &str| std::fs::read(repo.join(p)).unwrap();
    // A short clip keeps every execution cheap; the header is what parsers read first.
    let head = |p: &str, n: usize| {
        let b = read(p);
        b[..b.len().min(n)].to_vec()
    };
    match target {
        "wav" => vec![
            read("tests/fixtures/short_16k_pcm16.wav"),
            head("tests/fixtures/stereo_22k_pcm24.wav", 4096),
            head("tests/fixtures/chirp_16k_float.wav", 4096),
        ],
        "flac" => vec![head("tests/fixtures/chirp_16k.flac", 6000)],
        "mp3" => vec![head("tests/fixtures/chirp_16k.mp3", 3000)],
        "ogg" => vec![head("tests/fixtures/chirp_16k.ogg", 6000)],
        "toml" => ["demo", "fsdd_references", "sweep_dense", "fsdd_thresholds"]
            .iter()
            .map(|e| read(&format!("experiments/{e}.toml")))
            .collect(),
        "manifest" => vec![
            b"path,label,split\na.wav,normal,train\nsub/c.wav,anomaly,test\n\"b.wav\",normal,test\n".to_vec(),
            read("datasets/soundscape_night_vs_dawn.csv"),
        ],
        "bad" => vec![
            b"itemid,datasetid,hasbird\na,warblrb10k,0\nb,ff1010bird,1\nxc-1,chernobyl,0\n".to_vec(),
        ],
        "dcase" => vec![
            b"normal_id_00_00000001.wav\nanomaly_id_04_00000123.wav\nx/normal_id_2_a.wav\nsection_00_source_train_normal_0001.wav\n".to_vec(),
        ],
        "npy" => vec![
            head("tests/reference/librosa/birds_44k_mfcc.npy", 2048),
            head("tests/reference/librosa/soundscape_22k_logmel.npy", 2048),
        ],
        "events" => vec![
            concat!(
                "{\"t\":1.0,\"trial\":\"rnn\",\"run\":\"r1\",\"event\":\"start\"}\n",
                "{\"t\":2.0,\"trial\":\"rnn\",\"epoch\":1,\"split\":\"train\",\"loss\":0.5,\"lr\":0.001}\n",
                "{\"t\":2.1,\"trial\":\"rnn\",\"epoch\":1,\"split\":\"valid\",\"loss\":0.4,\"lr\":0.001}\n",
                "{\"metric\":\"test\",\"auc\":0.9,\"pauc\":0.7,\"threshold\":0.3}\n",
                "{\"status\":\"done\",\"reason\":null}\n",
                "\u{1e}file,score,label,flag\na.wav,0.2,normal,0\n\"b, c.wav\",0.9,anomaly,1\n",
            )
            .as_bytes()
            .to_vec(),
        ],
        "zip" => vec![zip_seed()],
        "targz" => vec![targz_seed()],
        "http" => vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec(),
            b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/10\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec(),
            b"HTTP/1.1 302 Found\r\nLocation: /y.zip\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ],
        other => panic!("unknown target {other}; targets: {TARGETS:?}"),
    }
}

/// Runs `target` on `input`.
pub fn run(target: &str, input: &[u8], scratch: &Scratch) {
    match target {
        "wav" | "flac" | "mp3" | "ogg" => {
            let path = scratch.file(&format!("input.{target}"), input);
            // Resampled to 16 kHz as training does; at most 10 minutes of audio.
            if let Ok(mut reader) =
                earshot::audio::AudioReader::open_limited(&path, Some(16_000), 600.0)
            {
                let mut chunk = Vec::new();
                while let Ok(true) = reader.read_chunk(&mut chunk) {}
            }
        }
        "toml" => {
            let text = String::from_utf8_lossy(input);
            if let Ok(exp) = earshot::experiment::Experiment::parse(&text, Path::new("fuzz.toml"))
                && exp.sweep.is_some()
            {
                let path = scratch.file("sweep.toml", text.as_bytes());
                let _ = earshot::experiment::sweep::Sweep::load(&path);
            }
        }
        "manifest" => {
            let csv = scratch.file("manifest.csv", input);
            let _ = earshot::data::list_manifest(&scratch.dir.join("root"), &csv);
        }
        "bad" => {
            let csv = scratch.file("labels.csv", input);
            let root = scratch.dir.join("root");
            let _ = earshot::data::list_bad(&root, &csv, 0, &[]);
            let _ = earshot::data::list_bad(&root, &csv, 1, &["chernobyl".to_string()]);
        }
        "dcase" => {
            for name in String::from_utf8_lossy(input).lines() {
                let _ = earshot::data::parse_dcase_name(Path::new(name));
            }
        }
        "npy" => {
            let _ = earshot::features::npy::read_f32(std::io::Cursor::new(input));
        }
        "events" => {
            // The part before a record separator is events.jsonl, the rest scores.csv.
            let split = input.iter().position(|&b| b == 0x1e).unwrap_or(input.len());
            let trial = scratch.dir.join("runs/exp/rnn");
            std::fs::create_dir_all(&trial).unwrap();
            std::fs::write(trial.join("events.jsonl"), &input[..split]).unwrap();
            std::fs::write(
                trial.join("scores.csv"),
                input.get(split + 1..).unwrap_or(&[]),
            )
            .unwrap();
            std::fs::write(trial.join("metrics.json"), &input[..split.min(200)]).unwrap();
            let mut state = earshot::dashboard::RunsState::new(&scratch.dir.join("runs"));
            state.refresh();
            let _ = earshot::report::loss_curves(&trial.join("events.jsonl"));
            let _ = earshot::report::read_scores_csv(&String::from_utf8_lossy(input));
        }
        "zip" => unpack(scratch, "input.zip", input),
        "targz" => unpack(scratch, "input.tar.gz", input),
        "http" => http_once(scratch, input),
        other => panic!("unknown target {other}; targets: {TARGETS:?}"),
    }
}
