//! TensorBoard event files: byte-identical to tensorboard's own writer
//! (fixtures from tests/reference/tensorboard_check.py), written live during
//! training and the same again by `earshot export tensorboard`.
use crate::common;

use crate::common::earshot;

use earshot::tensorboard::proto::{self, HParam, SummaryValue};
use earshot::tensorboard::{event_files, record};

#[test]
fn scalar_records_equal_tensorboards_own_writer() {
    let fixture = std::fs::read(common::fixture("tensorboard/scalars.tfevents")).unwrap();
    let mut ours = record::frame(&proto::file_version_event(1_700_000_000.25));
    for (step, tag, value) in [
        (1, "loss/train", 0.953385),
        (1, "lr", 0.002),
        (2, "loss/valid", 0.5),
        (0, "test/auc", 1.0),
    ] {
        let values = [SummaryValue::Scalar {
            tag: tag.into(),
            value,
        }];
        let t = 1_700_000_001.5 + step as f64;
        ours.extend(record::frame(&proto::summary_event(t, step, &values)));
    }
    assert_eq!(ours, fixture);
}

#[test]
fn hparams_records_equal_tensorboards_own_writer() {
    let fixture = std::fs::read(common::fixture("tensorboard/hparams.tfevents")).unwrap();
    let hparams = [
        ("model.hidden", HParam::Number(64.0)),
        ("model.kind", HParam::Text("rnn".into())),
        ("train.tensorboard", HParam::Flag(true)),
        ("train.zero", HParam::Number(0.0)),
    ];
    let mut ours = Vec::new();
    for (name, value) in hparams {
        let start = SummaryValue::SessionStart {
            hparams: vec![(name.to_string(), value)],
            start_time: 1_700_000_000.25,
        };
        ours.extend(record::frame(&proto::summary_event(
            1_700_000_000.25,
            0,
            &[start],
        )));
    }
    let end = SummaryValue::SessionEnd {
        status: 1,
        end_time: 1_700_000_009.75,
    };
    ours.extend(record::frame(&proto::summary_event(
        1_700_000_009.75,
        0,
        &[end],
    )));
    assert_eq!(ours, fixture);
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[test]
fn training_writes_live_event_files_and_export_writes_the_same_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::synth_data(dir, 10, 3, 5);
    std::fs::write(
        dir.join("exp.toml"),
        "name = \"tb\"\nseed = 1\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n[[model]]\nkind = \"dense\"\nhidden = [16]\n\
         [[model]]\nkind = \"gmm\"\ncomponents = 2\n[train]\nepochs = 3\nbatch_size = 16\npatience = 10\ntensorboard = true\n",
    )
    .unwrap();
    common::ok(
        &earshot(dir)
            .args(["train", "exp.toml", "--device", "cpu"])
            .output()
            .unwrap(),
    );
    let trial = dir.join("runs/tb/dense");
    let live = event_files(&trial);
    assert_eq!(live.len(), 1, "{live:?}");
    let bytes = std::fs::read(&live[0]).unwrap();
    let records = record::unframe(&bytes);
    assert!(records.iter().all(Option::is_some), "a damaged record");
    assert_eq!(count(&bytes, b"loss/train"), 3);
    assert_eq!(count(&bytes, b"loss/valid"), 3);
    assert_eq!(count(&bytes, b"test/auc"), 1);
    assert_eq!(count(&bytes, b"_hparams_/session_start_info"), 1);
    assert_eq!(count(&bytes, b"_hparams_/session_end_info"), 1);
    assert_eq!(count(&bytes, b"model.hidden"), 1);
    // The reference detector gets its own run with the test metrics.
    let gmm = std::fs::read(&event_files(&dir.join("runs/tb/gmm"))[0]).unwrap();
    assert_eq!(count(&gmm, b"test/auc"), 1);

    // Export leaves live trials alone; on a copy without the live file it
    // writes the same records (all but the file header's wall time).
    let out = common::ok(
        &earshot(dir)
            .args(["export", "tensorboard", "runs"])
            .output()
            .unwrap(),
    );
    assert!(out.contains("has live event files"), "{out}");
    let copy = dir.join("copy/dense");
    std::fs::create_dir_all(&copy).unwrap();
    for name in ["events.jsonl", "config.toml"] {
        std::fs::copy(trial.join(name), copy.join(name)).unwrap();
    }
    let out = common::ok(
        &earshot(dir)
            .args(["export", "tensorboard", "copy"])
            .output()
            .unwrap(),
    );
    assert!(out.contains("exported 1 trial"), "{out}");
    let exported = std::fs::read(&event_files(&copy)[0]).unwrap();
    assert_eq!(record::unframe(&exported)[1..], records[1..]);
    // A second export replaces the first.
    common::ok(
        &earshot(dir)
            .args(["export", "tensorboard", "copy"])
            .output()
            .unwrap(),
    );
    assert_eq!(event_files(&copy).len(), 1);
    // Exports of one folder at once take turns (a lock): each succeeds and
    // one event file remains, round after round.
    for _ in 0..5 {
        let spawn = || {
            earshot(dir)
                .args(["export", "tensorboard", "copy"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            common::ok(&child.wait_with_output().unwrap());
        }
        assert_eq!(event_files(&copy).len(), 1);
    }
}

#[test]
fn export_of_a_folder_without_runs_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = earshot(tmp.path())
        .args(["export", "tensorboard", "."])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        common::text(&out).contains("no trial folders"),
        "{}",
        common::text(&out)
    );
}
