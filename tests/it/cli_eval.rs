//! Thresholds, `earshot eval`, reports with plots, and every dataset layout
//! (folders, manifest, dcase, bad) through train -> eval -> detect.
use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::ok;
use earshot::data::synth::{SynthCounts, write_dataset};

fn earshot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_earshot"))
        .current_dir(dir)
        .env("EARSHOT_CACHE_DIR", dir.join("cache"))
        .args(args)
        .output()
        .unwrap()
}

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn synth(root: &Path, seed: u64) {
    let counts = SynthCounts {
        train: 12,
        test_normal: 4,
        test_anomaly: 4,
        seconds: 1.0,
    };
    write_dataset(root, counts, seed).unwrap();
}

const FEATURES: &str = "[features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n";
const TRAIN: &str = "[train]\nepochs = 3\nbatch_size = 16\n";

fn write_experiment(dir: &Path, name: &str, data: &str, eval: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\nseed = 5\n{data}\nframes = 8\nhop = 4\n{FEATURES}[[model]]\nkind = \"dense\"\nhidden = [32]\nbottleneck = 4\n{TRAIN}{eval}"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.len() > 1000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

#[test]
fn gamma_threshold_topk_scores_report_with_plots_then_eval_on_another_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(&dir.join("data"), 3);
    let exp = write_experiment(
        dir,
        "g",
        "[data]\nlayout = \"folders\"\nroot = \"data\"",
        "[eval]\nclip_score = \"topk_mean\"\ntop_k = 2\nthreshold = { method = \"gamma\", quantile = 0.9 }\n",
    );
    ok(&earshot(
        dir,
        &["train", exp.to_str().unwrap(), "--device", "cpu"],
    ));
    let trial = dir.join("runs/g/dense");
    let m = json(trial.join("metrics.json"));
    assert_eq!(m["threshold_method"], "gamma");
    assert_eq!(m["clip_score"], "topk_mean");
    assert!(
        m["threshold_fitted_on"].as_str().unwrap().contains("gamma"),
        "{m}"
    );
    assert!(m["auc"].as_f64().is_some() && m["f1"].as_f64().is_some());
    assert_eq!(
        m["confusion"]["true_positive"].as_u64().unwrap()
            + m["confusion"]["false_negative"].as_u64().unwrap(),
        4
    );
    let t = json(trial.join("model/threshold.json"));
    assert_eq!(t["rule"]["method"], "gamma");
    assert_eq!(t["top_k"], 2);
    for plot in ["loss.png", "roc.png", "scores.png"] {
        assert!(is_png(&trial.join("plots").join(plot)), "{plot}");
    }
    let report = std::fs::read_to_string(trial.join("report.md")).unwrap();
    assert!(
        report.contains("| auc |") && report.contains("plots/roc.png"),
        "{report}"
    );

    // eval on the experiment folder re-scores every trial with the stored threshold.
    std::fs::remove_file(trial.join("scores.csv")).unwrap();
    let text = ok(&earshot(dir, &["eval", "runs/g"]));
    assert!(text.contains("dense") && text.contains("AUC"), "{text}");
    let csv = std::fs::read_to_string(trial.join("scores.csv")).unwrap();
    assert!(
        csv.starts_with("file,score,label,flag\n") && csv.lines().count() == 9,
        "{csv}"
    );
    let again = json(trial.join("metrics.json"));
    assert_eq!(
        again["auc"], m["auc"],
        "eval reproduces the training-time AUC"
    );
    assert_eq!(
        again["best_epoch"], m["best_epoch"],
        "training keys are kept"
    );

    // Another root with normal test clips only: AUC undefined, said, no NaN.
    synth(&dir.join("other"), 9);
    std::fs::remove_dir_all(dir.join("other/test/anomaly")).unwrap();
    let text = ok(&earshot(dir, &["eval", "runs/g/dense", "--data", "other"]));
    assert!(
        text.contains("undefined") && !text.contains("NaN"),
        "{text}"
    );
    let m = json(trial.join("metrics.json"));
    assert!(m["auc"].is_null() && m["note"].as_str().unwrap().contains("one class"));
    assert!(m["evaluated_on"].as_str().unwrap().ends_with("other"));

    // Not a run folder: a clear error.
    let out = earshot(dir, &["eval", "data"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trained trial here"));
}

#[test]
fn max_f1_and_target_fpr_thresholds_and_bad_eval_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(&dir.join("data"), 4);
    let exp = write_experiment(
        dir,
        "f1",
        "[data]\nlayout = \"folders\"\nroot = \"data\"",
        "[eval]\nthreshold = { method = \"max_f1\", calibration_fraction = 0.5 }\n",
    );
    ok(&earshot(
        dir,
        &["train", exp.to_str().unwrap(), "--device", "cpu"],
    ));
    let m = json(dir.join("runs/f1/dense/metrics.json"));
    assert_eq!(m["threshold_method"], "max_f1");
    assert_eq!(
        m["decision_clips"], 4,
        "half of the 8 labelled clips choose, the other half judge"
    );
    let exp = write_experiment(
        dir,
        "fpr",
        "[data]\nlayout = \"folders\"\nroot = \"data\"\nvalid_fraction = 0.25",
        "[eval]\nthreshold = { method = \"target_fpr\", fpr = 0.1 }\n",
    );
    ok(&earshot(
        dir,
        &["train", exp.to_str().unwrap(), "--device", "cpu"],
    ));
    let m = json(dir.join("runs/fpr/dense/metrics.json"));
    assert!(
        m["threshold_fitted_on"]
            .as_str()
            .unwrap()
            .contains("false-positive rate 0.1"),
        "{m}"
    );

    let exp = write_experiment(
        dir,
        "bad",
        "[data]\nlayout = \"folders\"\nroot = \"data\"",
        "[eval]\nthreshold = { method = \"gamma\", quantile = 1.5 }\n",
    );
    let out = earshot(dir, &["train", exp.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("quantile") && err.contains("(0, 1)"),
        "{err}"
    );
    let exp = write_experiment(
        dir,
        "bad2",
        "[data]\nlayout = \"folders\"\nroot = \"data\"",
        "[eval]\nthreshold = { method = \"median\" }\n",
    );
    let out = earshot(dir, &["train", exp.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("median") && err.contains("gamma"),
        "{err}"
    );
}

/// The generated clips renamed into DCASE's layout, two machine ids.
fn dcase_dataset(root: &Path) {
    let tmp = root.with_extension("src");
    synth(&tmp, 6);
    std::fs::create_dir_all(root.join("train")).unwrap();
    std::fs::create_dir_all(root.join("test")).unwrap();
    for (from, to, label) in [
        ("train/normal", "train", "normal"),
        ("test/normal", "test", "normal"),
        ("test/anomaly", "test", "anomaly"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(tmp.join(from))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for (i, f) in files.iter().enumerate() {
            let id = if i % 2 == 0 { "00" } else { "02" };
            std::fs::copy(f, root.join(to).join(format!("{label}_id_{id}_{i:08}.wav"))).unwrap();
        }
    }
    std::fs::write(root.join("train/readme_id.wav"), b"not a dcase name").unwrap();
}

#[test]
fn dcase_layout_one_model_per_machine_id_then_eval_and_detect() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dcase_dataset(&dir.join("fan"));
    let exp = write_experiment(
        dir,
        "dc",
        "[data]\nlayout = \"dcase\"\nroot = \"fan\"\nper_machine_id = true\nvalid_fraction = 0.2",
        "",
    );
    let text = ok(&earshot(
        dir,
        &["train", exp.to_str().unwrap(), "--device", "cpu"],
    ));
    assert!(
        text.contains("readme_id.wav") && text.contains("normal_id_XX"),
        "the odd file is reported: {text}"
    );
    for id in ["id_00", "id_02"] {
        let m = json(dir.join(format!("runs/dc/dense_{id}/metrics.json")));
        assert_eq!(m["status"], "done");
        assert!(m["auc"].as_f64().is_some(), "{m}");
        let record =
            std::fs::read_to_string(dir.join(format!("runs/dc/dense_{id}/config.toml"))).unwrap();
        assert!(
            record.contains(&format!("machine_ids = [\"{id}\"]")),
            "{record}"
        );
    }
    let text = ok(&earshot(dir, &["eval", "runs/dc"]));
    assert!(
        text.contains("dense_id_00") && text.contains("dense_id_02"),
        "{text}"
    );
    let anomaly = std::fs::read_dir(dir.join("fan/test"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("anomaly_id_00"))
        .unwrap();
    let text = ok(&earshot(
        dir,
        &[
            "detect",
            "--model",
            "runs/dc/dense_id_00",
            anomaly.to_str().unwrap(),
            "--json",
        ],
    ));
    assert!(text.contains("\"score\""), "{text}");
}

#[test]
fn manifest_and_bad_layouts_train_eval_and_detect() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    synth(&dir.join("data"), 8);
    let mut csv = String::from("path,label,split\n");
    for (folder, label, split) in [
        ("train/normal", "normal", "train"),
        ("test/normal", "normal", "test"),
        ("test/anomaly", "anomaly", "test"),
    ] {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("data").join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for n in names {
            csv.push_str(&format!("{folder}/{n},{label},{split}\n"));
        }
    }
    std::fs::write(dir.join("list.csv"), csv).unwrap();
    let exp = write_experiment(
        dir,
        "mf",
        "[data]\nlayout = \"manifest\"\nroot = \"data\"\nmanifest = \"list.csv\"",
        "",
    );
    ok(&earshot(
        dir,
        &["train", exp.to_str().unwrap(), "--device", "cpu"],
    ));
    let text = ok(&earshot(dir, &["eval", "runs/mf"]));
    assert!(text.contains("dense"), "{text}");
    assert!(
        json(dir.join("runs/mf/dense/metrics.json"))["auc"]
            .as_f64()
            .is_some()
    );

    // The Bird Audio Detection layout on the shared recordings: one bird clip to
    // train on, the opensoundscape rows as the test dataset (a bird and a non-bird).
    let birds = common::real_data().join("birds");
    let exp = write_experiment(
        dir,
        "bad",
        &format!(
            "[data]\nlayout = \"bad\"\nroot = \"{}\"\nlabels = \"{}\"\nnormal_hasbird = 1\ntest_datasets = [\"opensoundscape\", \"birdvox\"]\nvalid_fraction = 0.0",
            birds.display(),
            birds.join("labels.csv").display()
        ),
        "",
    );
    // Every row is a test row here but one normal must train: keep birdvox's bird for training.
    let text = std::fs::read_to_string(&exp)
        .unwrap()
        .replace("\"opensoundscape\", \"birdvox\"", "\"opensoundscape\"");
    std::fs::write(&exp, text).unwrap();
    ok(&earshot(
        dir,
        &["train", exp.to_str().unwrap(), "--device", "cpu"],
    ));
    let text = ok(&earshot(dir, &["eval", "runs/bad"]));
    assert!(text.contains("dense"), "{text}");
    let m = json(dir.join("runs/bad/dense/metrics.json"));
    assert_eq!(m["evaluated_files"], 2);
    assert!(m["auc"].as_f64().is_some(), "{m}");
    let clip = birds.join("opensoundscape_birds_10s.wav");
    let text = ok(&earshot(
        dir,
        &[
            "detect",
            "--model",
            "runs/bad/dense",
            clip.to_str().unwrap(),
        ],
    ));
    assert!(text.contains("opensoundscape_birds_10s"), "{text}");
}
