//! Reference detectors and ensembles end to end: trained beside the
//! autoencoders, scored, evaluated again and used by `detect`; `earshot init`
//! writes an experiment that trains as it is.

use crate::common::{earshot, text};

use std::path::Path;

use earshot::data::synth::{SynthCounts, write_dataset};

fn metrics(dir: &Path, trial: &str) -> serde_json::Value {
    let path = dir.join("runs/refs").join(trial).join("metrics.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn dataset(dir: &Path) {
    write_dataset(
        &dir.join("data"),
        SynthCounts {
            train: 30,
            test_normal: 8,
            test_anomaly: 8,
            seconds: 1.0,
        },
        9,
    )
    .unwrap();
}

#[test]
fn references_and_an_ensemble_keep_the_trial_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    std::fs::write(
        dir.join("refs.toml"),
        r#"name = "refs"
[data]
layout = "folders"
root = "data"
frames = 8
hop = 4
valid_fraction = 0.2
[features]
kind = "logmel"
n_mels = 32
n_fft = 512
hop_length = 256
[eval]
clip_score = "percentile"
percentile = 90
[[model]]
kind = "knn"
[[model]]
kind = "gmm"
name = "gmm_clip"
stats = ["mean"]
[[model]]
kind = "gmm"
name = "gmm_frame"
level = "frame"
components = 4
covariance = "diag"
[[model]]
kind = "gmm"
name = "too_many"
components = 1000
[[ensemble]]
name = "pair"
members = ["knn", "gmm_clip"]
[[ensemble]]
name = "broken"
members = ["knn", "too_many"]
method = "rank_mean"
"#,
    )
    .unwrap();
    let out = earshot(dir)
        .args(["train", "refs.toml", "--device", "cpu"])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "two trials fail: {all}");
    assert!(all.contains("too_many") && all.contains("broken"), "{all}");
    let too_many = metrics(dir, "too_many");
    assert_eq!(too_many["status"], "failed");
    assert!(
        too_many["reason"]
            .as_str()
            .unwrap()
            .contains("components is 1000")
    );
    let broken = metrics(dir, "broken");
    assert_eq!(broken["status"], "failed");
    assert!(broken["reason"].as_str().unwrap().contains("too_many"));

    for trial in ["knn", "gmm_clip", "gmm_frame", "pair"] {
        let m = metrics(dir, trial);
        assert_eq!(m["status"], "done", "{trial}: {m}");
        let auc = m["auc"].as_f64().unwrap();
        // Chirps and coughs against household noise: every reference separates them.
        assert!(auc > 0.8, "{trial}: AUC {auc}");
        let trial_dir = dir.join("runs/refs").join(trial);
        for file in [
            "config.toml",
            "events.jsonl",
            "scores.csv",
            "report.md",
            "model/threshold.json",
        ] {
            assert!(trial_dir.join(file).is_file(), "{trial}: {file}");
        }
        let rows = std::fs::read_to_string(trial_dir.join("scores.csv")).unwrap();
        assert_eq!(rows.lines().count(), 17, "{trial}: header + 16 test clips");
    }
    assert!(dir.join("runs/refs/knn/model/reference.json").is_file());
    assert!(dir.join("runs/refs/pair/model/ensemble.json").is_file());

    // eval re-scores through `detect`'s code path: the same AUC as training.
    let trials = ["knn", "gmm_clip", "gmm_frame", "pair"];
    let trained: Vec<f64> = trials
        .iter()
        .map(|t| metrics(dir, t)["auc"].as_f64().unwrap())
        .collect();
    let eval = earshot(dir).args(["eval", "runs/refs"]).output().unwrap();
    assert!(eval.status.success(), "{}", text(&eval));
    for (trial, auc) in trials.iter().zip(trained) {
        let again = metrics(dir, trial);
        assert!(again.get("evaluated_files").is_some(), "{trial} re-scored");
        let evaluated = again["auc"].as_f64().unwrap();
        assert!(
            (evaluated - auc).abs() < 1e-9,
            "{trial}: {auc} trained, {evaluated} evaluated"
        );
    }

    // detect: a frame-level mixture reports segments; an ensemble combines its members.
    for trial in ["gmm_frame", "pair", "knn"] {
        let out = earshot(dir)
            .args(["detect", "--json", "--model"])
            .arg(format!("runs/refs/{trial}"))
            .arg("data/test/anomaly")
            .output()
            .unwrap();
        assert!(out.status.success(), "{trial}: {}", text(&out));
        let verdicts: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(verdicts.len(), 8, "{trial}");
        let flagged = verdicts.iter().filter(|v| v["flagged"] == true).count();
        assert!(flagged >= 5, "{trial}: {flagged} of 8 anomalies flagged");
        if trial == "gmm_frame" {
            assert!(
                verdicts
                    .iter()
                    .any(|v| !v["segments"].as_array().unwrap().is_empty())
            );
        }
    }
}

#[test]
fn init_writes_an_experiment_that_trains_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let out = earshot(dir)
        .args(["init", "data", "--out", "starter.toml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let starter = std::fs::read_to_string(dir.join("starter.toml")).unwrap();
    assert!(
        starter.contains("30 training clips") && starter.contains("16000 Hz"),
        "{starter}"
    );
    // Never overwritten.
    let again = earshot(dir)
        .args(["init", "data", "--out", "starter.toml"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("does not overwrite"));

    let train = earshot(dir)
        .args(["train", "starter.toml", "--device", "cpu"])
        .output()
        .unwrap();
    let all = text(&train);
    assert!(train.status.success(), "{all}");
    for trial in ["knn", "gmm_clip", "gmm_frame", "dense", "cae", "knn_gmm"] {
        assert!(all.contains(trial), "{trial} missing: {all}");
    }
}
