//! `earshot data prepare bad`: the Bird Audio Detection sets, each a WAV
//! archive and a labels CSV, merged set by set into one folder that
//! `layout = "bad"` reads (archives made here, laid out as the public ones:
//! `wav/<itemid>.wav`).
use crate::common;

use crate::common::earshot;

use std::io::Write;
use std::path::Path;

use earshot::data::{Label, list_bad};
use earshot::datasets::bad::{BAD_MARKER, prepare_bad};
use earshot::datasets::extract::UnpackLimits;
use earshot::datasets::prepare::{Outcome, PrepareError};

fn wav(seed: u32) -> Vec<u8> {
    common::sine_wav(0.01 * (seed + 1) as f32)
}

/// A zip of `wav/<id>.wav` for each id.
fn archive(dir: &Path, name: &str, ids: &[&str]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut out = std::fs::File::create(&path).unwrap();
    let mut zip = zip::ZipWriter::new(&mut out);
    let options =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (n, id) in ids.iter().enumerate() {
        zip.start_file(format!("wav/{id}.wav"), options).unwrap();
        zip.write_all(&wav(n as u32)).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn labels(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn sets_are_merged_one_at_a_time_into_the_folder_layout_bad_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    std::fs::create_dir_all(&src).unwrap();
    let warblr = archive(&src, "w.zip", &["w1", "w2", "w3"]);
    // w4 is listed but not in the archive: left out and counted.
    let warblr_labels = labels(
        &src,
        "w.csv",
        "\u{feff}itemid,datasetid,hasbird\nw1,warblrb10k,0\nw2,warblrb10k,1\nw3,warblrb10k,0\nw4,warblrb10k,1\n",
    );
    let got = prepare_bad(
        "warblrb10k",
        &warblr,
        &warblr_labels,
        &data,
        UnpackLimits::default(),
    )
    .unwrap();
    assert_eq!(got, Outcome::Built(data.join("bad"), [3, 1, 1]));
    let ff = archive(&src, "f.zip", &["f1", "f2"]);
    let ff_labels = labels(
        &src,
        "f.csv",
        "itemid,datasetid,hasbird\nf1,ff1010bird,1\nf2,ff1010bird,0\n",
    );
    let got = prepare_bad(
        "ff1010bird",
        &ff,
        &ff_labels,
        &data,
        UnpackLimits::default(),
    )
    .unwrap();
    assert_eq!(got, Outcome::Built(data.join("bad"), [2, 1, 0]));

    let bad = data.join("bad");
    let merged = std::fs::read_to_string(bad.join("labels.csv")).unwrap();
    assert_eq!(
        merged,
        "itemid,datasetid,hasbird\nw1,warblrb10k,0\nw2,warblrb10k,1\nw3,warblrb10k,0\nf1,ff1010bird,1\nf2,ff1010bird,0\n"
    );
    for id in ["w1", "w2", "w3", "f1", "f2"] {
        assert_eq!(
            std::fs::read(bad.join(format!("{id}.wav"))).unwrap().len(),
            wav(0).len()
        );
    }
    assert!(!bad.join("w4.wav").exists());
    assert_eq!(
        std::fs::read_to_string(bad.join(BAD_MARKER)).unwrap(),
        "warblrb10k\nff1010bird\n"
    );
    // Nothing of the unpacking is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    // A set prepared before is left as it is.
    let again = prepare_bad(
        "warblrb10k",
        &warblr,
        &warblr_labels,
        &data,
        UnpackLimits::default(),
    )
    .unwrap();
    assert_eq!(again, Outcome::AlreadyThere(bad.clone()));

    // The layout reads it: train on warblrb10k's clips without birds, test on ff1010bird.
    let (files, failures) = list_bad(
        &bad,
        &bad.join("labels.csv"),
        0,
        &["ff1010bird".to_string()],
    )
    .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    let names = |v: &[std::path::PathBuf]| {
        let mut n: Vec<String> = v
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&files.train), ["w1.wav", "w3.wav"]);
    let test: Vec<(String, Label)> = files
        .test
        .iter()
        .map(|(p, l)| (p.file_name().unwrap().to_string_lossy().into_owned(), *l))
        .collect();
    assert!(test.contains(&("f1.wav".to_string(), Label::Anomaly)));
    assert!(test.contains(&("f2.wav".to_string(), Label::Normal)));
    assert!(test.contains(&("w2.wav".to_string(), Label::Anomaly)));
}

#[test]
fn bad_inputs_are_named_and_nothing_is_left_half_done() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    std::fs::create_dir_all(&src).unwrap();
    let zip = archive(&src, "w.zip", &["w1"]);

    let wrong = labels(&src, "x.csv", "file,label\nw1,0\n");
    let err = prepare_bad("warblrb10k", &zip, &wrong, &data, UnpackLimits::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("expected \"itemid,datasetid,hasbird\""),
        "{err}"
    );
    assert!(!data.join("bad/labels.csv").exists());

    let not_audio = src.join("n.zip");
    {
        let mut out = std::fs::File::create(&not_audio).unwrap();
        let mut z = zip::ZipWriter::new(&mut out);
        z.start_file("readme.txt", zip::write::FileOptions::default())
            .unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap();
    }
    let good = labels(&src, "w.csv", "itemid,datasetid,hasbird\nw1,warblrb10k,0\n");
    let err = prepare_bad(
        "warblrb10k",
        &not_audio,
        &good,
        &data,
        UnpackLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, PrepareError::Content { .. }) && err.to_string().contains("no .wav files"),
        "{err}"
    );
    assert!(!data.join("bad").join(BAD_MARKER).exists());
    assert_eq!(
        std::fs::read_dir(&data).unwrap().count(),
        1,
        "only the empty bad folder"
    );

    // A folder called bad that earshot did not make is refused, untouched.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(other.join("bad")).unwrap();
    std::fs::write(other.join("bad/mine.txt"), "keep").unwrap();
    let err = prepare_bad("warblrb10k", &zip, &good, &other, UnpackLimits::default()).unwrap_err();
    assert!(
        err.to_string().contains("was not prepared by earshot"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(other.join("bad")).unwrap().count(), 1);
}

#[test]
fn the_command_prepares_a_set_offline_and_asks_for_its_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = archive(tmp.path(), "ff1010bird_wav.zip", &["f1", "f2"]);
    let csv = labels(
        tmp.path(),
        "ff.csv",
        "itemid,datasetid,hasbird\nf1,ff1010bird,1\nf2,ff1010bird,0\n",
    );
    let data = tmp.path().join("data");
    let base = |cmd: &mut std::process::Command| {
        cmd.args(["data", "prepare", "bad", "--machine", "ff1010bird", "--to"])
            .arg(&data)
            .arg("--from")
            .arg(&zip);
    };
    let mut cmd = earshot(tmp.path());
    base(&mut cmd);
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(
        common::text(&out).contains("--labels FILE (ff1010bird_metadata_2018.csv)"),
        "{}",
        common::text(&out)
    );
    let mut cmd = earshot(tmp.path());
    base(&mut cmd);
    let out = cmd.arg("--labels").arg(&csv).output().unwrap();
    let text = common::ok(&out);
    assert!(
        text.contains("2 clips of ff1010bird added (1 with birds)"),
        "{text}"
    );
    assert!(data.join("bad/f2.wav").is_file());
}

#[test]
fn the_unlabelled_test_set_becomes_a_folder_of_clips_for_detect() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    std::fs::create_dir_all(&src).unwrap();
    let test = archive(&src, "t.zip", &["c1", "c2", "c3"]);
    let prepare = |from: &Path| {
        earshot(tmp.path())
            .args([
                "data",
                "prepare",
                "bad-test",
                "--to",
                data.to_str().unwrap(),
            ])
            .args(["--from", from.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = common::ok(&prepare(&test));
    assert!(out.contains("3 unlabelled clips"), "{out}");
    assert!(out.contains("earshot detect --model RUN"), "{out}");
    let folder = data.join("bad-test");
    for id in ["c1", "c2", "c3"] {
        assert!(folder.join(format!("{id}.wav")).is_file(), "{id}");
    }
    assert!(common::ok(&prepare(&test)).contains("prepared before"));

    // An archive without clips fails naming it and leaves nothing behind.
    std::fs::remove_dir_all(&folder).unwrap();
    let empty = src.join("e.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&empty).unwrap());
    zip.start_file("README.txt", zip::write::FileOptions::default())
        .unwrap();
    zip.write_all(b"no audio").unwrap();
    zip.finish().unwrap();
    let out = prepare(&empty);
    let text = common::text(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("e.zip") && text.contains("no .wav files inside"),
        "{text}"
    );
    let left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
