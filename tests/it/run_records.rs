//! Run records: a run folder written by the previous release (kept as a
//! fixture) still reads everywhere, and `eval` computes a trial's figures
//! exactly as training did.
use crate::common;

use crate::common::{earshot, text};

use std::path::Path;

use earshot::data::synth::{SynthCounts, write_dataset};
use earshot::records::{SCHEMA_VERSION, TrialMetrics, TrialStatus};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn dataset(dir: &Path, seed: u64) {
    write_dataset(
        &dir.join("data"),
        SynthCounts {
            train: 20,
            test_normal: 10,
            test_anomaly: 10,
            seconds: 1.0,
        },
        seed,
    )
    .unwrap();
}

#[test]
fn a_run_folder_of_the_previous_release_still_reads_evaluates_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_dir(
        &common::repo().join("tests/fixtures/legacy_run"),
        &dir.join("runs"),
    );
    let trial = dir.join("runs/legacy/dense");
    // Typed reading of the old files: no schema_version, no run ids.
    let old = TrialMetrics::read(&trial.join("metrics.json")).expect("readable");
    assert_eq!(old.schema_version, 1);
    assert_eq!(old.status, TrialStatus::Done);
    assert_eq!((old.parameters, old.best_epoch), (666, 2));
    let state = earshot::dashboard::RunsState::new(&dir.join("runs"));
    let view = &state.trials["legacy/dense"];
    assert_eq!(
        view.status(std::time::SystemTime::now()),
        earshot::dashboard::Status::Done
    );
    assert_eq!(view.epochs.len(), 2);
    assert_eq!(view.metric("auc"), Some(1.0));

    // eval with the old model, normaliser and threshold, on new audio.
    dataset(dir, 17);
    let eval = earshot(dir)
        .args(["eval", "runs/legacy", "--data", "data"])
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", text(&eval));
    let new = TrialMetrics::read(&trial.join("metrics.json")).unwrap();
    assert_eq!(new.schema_version, SCHEMA_VERSION);
    assert_eq!(new.evaluated_files, Some(20));
    assert_eq!(new.parameters, 666, "training's figures kept");
    assert!(new.auc.is_some());

    // --resume continues the old run from its checkpoint (no run id in it).
    let legacy_exp = "name = \"legacy\"\nseed = 5\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 4\nhop = 2\n\
        [features]\nkind = \"mfcc\"\nn_mels = 16\nn_mfcc = 8\nn_fft = 512\nhop_length = 256\n\
        [[model]]\nkind = \"dense\"\nhidden = [8]\nbottleneck = 2\n[train]\nepochs = 3\nbatch_size = 32\n";
    std::fs::write(dir.join("legacy.toml"), legacy_exp).unwrap();
    let resumed = earshot(dir)
        .args(["train", "legacy.toml", "--device", "cpu", "--resume"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", text(&resumed));
    let events = std::fs::read_to_string(trial.join("events.jsonl")).unwrap();
    let resume_line = events
        .lines()
        .find(|l| l.contains("\"resume\""))
        .expect("a resume event");
    assert!(resume_line.contains("\"epoch\":2"), "{resume_line}");
    let m = TrialMetrics::read(&trial.join("metrics.json")).unwrap();
    assert_eq!(m.epochs, 3);
}

#[test]
fn eval_leaves_max_f1_calibration_clips_out_as_training_did() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir, 3);
    std::fs::write(
        dir.join("f1.toml"),
        "name = \"f1\"\nseed = 9\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n\
         [eval]\nthreshold = { method = \"max_f1\", calibration_fraction = 0.5 }\n\
         [[model]]\nkind = \"knn\"\n",
    )
    .unwrap();
    let out = earshot(dir)
        .args(["train", "f1.toml", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let path = dir.join("runs/f1/knn/metrics.json");
    let trained = TrialMetrics::read(&path).unwrap();
    assert_eq!(trained.decision_clips, 10, "half of 20 labelled clips");
    let eval = earshot(dir).args(["eval", "runs/f1"]).output().unwrap();
    assert!(eval.status.success(), "{}", text(&eval));
    let evaluated = TrialMetrics::read(&path).unwrap();
    assert_eq!(evaluated.decision_clips, trained.decision_clips);
    assert_eq!(evaluated.confusion, trained.confusion);
    assert_eq!(evaluated.f1, trained.f1);
}
