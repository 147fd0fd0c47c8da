//! `earshot train` end to end: run folders, determinism, kill-and-resume,
//! divergence, and config errors with their line.
use crate::common;

use crate::common::earshot;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use earshot::data::synth::{SynthCounts, write_dataset};

fn dataset(dir: &Path) -> PathBuf {
    let root = dir.join("data");
    write_dataset(
        &root,
        SynthCounts {
            train: 16,
            test_normal: 4,
            test_anomaly: 4,
            seconds: 1.0,
        },
        3,
    )
    .unwrap();
    root
}

fn experiment(dir: &Path, name: &str, epochs: usize, extra_train: &str, models: &str) -> PathBuf {
    let text = format!(
        r#"name = "{name}"
seed = 11
[data]
layout = "folders"
root = "data"
frames = 8
hop = 2
[features]
kind = "mfcc"
n_mels = 40
n_fft = 512
hop_length = 256
[train]
epochs = {epochs}
batch_size = 16
patience = 100
{extra_train}
{models}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &Path, exp: &Path, extra: &[&str]) -> Output {
    earshot(dir)
        .arg("train")
        .arg(exp)
        .args(["--device", "cpu"])
        .args(extra)
        .output()
        .unwrap()
}

fn metrics(dir: &Path, exp: &str, trial: &str) -> serde_json::Value {
    let path = dir.join("runs").join(exp).join(trial).join("metrics.json");
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn trains_writes_the_run_folder_and_repeats_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let models = "[[model]]\nkind = \"rnn\"\nhidden = 16\nlatent = 8\n[[model]]\nkind = \"cae\"\n";
    let exp = experiment(dir, "pair", 3, "", models);
    let out = run(dir, &exp, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("rnn") && stdout.contains("cae") && stdout.contains("RMSE"),
        "{stdout}"
    );

    let trial = dir.join("runs/pair/rnn");
    for file in [
        "config.toml",
        "events.jsonl",
        "metrics.json",
        "model/model.bin",
        "model/normalizer.json",
    ] {
        assert!(trial.join(file).is_file(), "missing {file}");
    }
    let config = std::fs::read_to_string(trial.join("config.toml")).unwrap();
    assert!(
        config.contains("earshot_version")
            && config.contains("seed = 11")
            && config.contains("device"),
        "{config}"
    );
    let events = std::fs::read_to_string(trial.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().filter(|e| e["split"] == "train").count(), 3);
    assert_eq!(lines.iter().filter(|e| e["split"] == "valid").count(), 3);
    assert_eq!(lines.last().unwrap()["status"], "done");
    let m = metrics(dir, "pair", "rnn");
    let mse = m["mse"].as_f64().unwrap();
    assert!(mse.is_finite() && mse > 0.0);
    assert!((m["rmse"].as_f64().unwrap() - mse.sqrt()).abs() < 1e-9);

    // The trained trial scores new audio: one JSON line per file, flags at the stored threshold.
    assert!(trial.join("model/threshold.json").is_file());
    let detect = earshot(dir)
        .args(["detect", "--model", "runs/pair/cae", "--json", "data/test"])
        .output()
        .unwrap();
    assert!(
        detect.status.success(),
        "{}",
        String::from_utf8_lossy(&detect.stderr)
    );
    let verdicts: Vec<serde_json::Value> = String::from_utf8_lossy(&detect.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), 8);
    assert!(
        verdicts
            .iter()
            .all(|v| v["score"].as_f64().unwrap().is_finite() && v["flagged"].is_boolean())
    );
    let missing = earshot(dir)
        .args(["detect", "--model", "runs/pair/none", "data/test"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("trained trial"));

    // Same seed, same device: the same numbers, to the last bit.
    let again = run(dir, &exp, &["--runs-dir", "runs2"]);
    assert!(again.status.success());
    let m2: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs2/pair/rnn/metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(m["mse"], m2["mse"]);
    assert_eq!(m["best_valid_loss"], m2["best_valid_loss"]);
}

#[test]
fn a_killed_run_resumes_to_the_same_result() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let models = "[[model]]\nkind = \"dense\"\nhidden = [64, 32]\n";
    // Enough epochs that the run is still going when the first checkpoint appears.
    let epochs = 40;
    let exp = experiment(dir, "resume", epochs, "", models);
    let whole = run(dir, &exp, &["--runs-dir", "whole"]);
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );

    let mut child = earshot(dir)
        .arg("train")
        .arg(&exp)
        .args(["--device", "cpu", "--runs-dir", "killed"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let checkpoints = dir.join("killed/resume/dense/checkpoints");
    let started = Instant::now();
    let has_checkpoint = || {
        std::fs::read_dir(&checkpoints)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("epoch-"))
            })
            .unwrap_or(false)
    };
    while !has_checkpoint() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !dir.join("killed/resume/dense/metrics.json").exists(),
        "killed before the end"
    );

    let resumed = run(dir, &exp, &["--runs-dir", "killed", "--resume"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let read = |root: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.join(root).join("resume/dense/metrics.json")).unwrap(),
        )
        .unwrap()
    };
    let (a, b) = (read("whole"), read("killed"));
    assert_eq!(a["epochs"], epochs);
    assert_eq!(a["best_valid_loss"], b["best_valid_loss"]);
    assert_eq!(a["mse"], b["mse"]);
    let events = std::fs::read_to_string(dir.join("killed/resume/dense/events.jsonl")).unwrap();
    assert!(events.contains("\"event\":\"resume\""));
}

#[test]
fn a_diverging_loss_fails_the_trial_with_its_epoch_and_the_next_trial_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let models = "[[model]]\nkind = \"dense\"\nname = \"exploding\"\nhidden = [32]\n[[model]]\nkind = \"cae\"\n";
    // Without clipping, a rate of 1e30 overflows f32 within the first epoch.
    let exp = experiment(dir, "nan", 3, "learning_rate = 1e30\n", models);
    let out = run(dir, &exp, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let m = metrics(dir, "nan", "exploding");
    assert_eq!(m["status"], "failed", "{stdout}");
    assert!(m["reason"].as_str().unwrap().contains("epoch 1"), "{m}");
    let events = std::fs::read_to_string(dir.join("runs/nan/exploding/events.jsonl")).unwrap();
    assert!(events.contains("\"status\":\"failed\""));
    assert!(
        dir.join("runs/nan/cae/metrics.json").is_file(),
        "the next trial still ran"
    );
}

#[test]
fn config_errors_name_the_key_and_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exp = dir.join("bad.toml");
    std::fs::write(&exp, "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"data\"\nwindow_size = 4\n[[model]]\nkind = \"rnn\"\n").unwrap();
    let out = run(dir, &exp, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml:5") && stderr.contains("window_size"),
        "{stderr}"
    );

    std::fs::write(&exp, "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"data\"\n\n[[model]]\nkind = \"transformer\"\n").unwrap();
    let stderr = String::from_utf8_lossy(&run(dir, &exp, &[]).stderr).to_string();
    assert!(
        stderr.contains("bad.toml:7") && stderr.contains("transformer") && stderr.contains("rnn"),
        "{stderr}"
    );

    std::fs::write(&exp, "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"data\"\n[[model]]\nkind = \"rnn\"\nhiden = 3\n").unwrap();
    let stderr = String::from_utf8_lossy(&run(dir, &exp, &[]).stderr).to_string();
    assert!(
        stderr.contains("bad.toml:7") && stderr.contains("hiden") && stderr.contains("hidden"),
        "{stderr}"
    );

    std::fs::write(&exp, "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"data\"\n[[model]]\nkind = \"vae\"\nencoder = \"lstm\"\n").unwrap();
    let stderr = String::from_utf8_lossy(&run(dir, &exp, &[]).stderr).to_string();
    assert!(
        stderr.contains("bad.toml:7") && stderr.contains("lstm") && stderr.contains("conv"),
        "{stderr}"
    );

    std::fs::write(&exp, "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"no/such/dir\"\n[[model]]\nkind = \"rnn\"\n").unwrap();
    let stderr = String::from_utf8_lossy(&run(dir, &exp, &[]).stderr).to_string();
    assert!(
        stderr.contains("no/such/dir") && stderr.contains("not found"),
        "{stderr}"
    );
}

#[test]
fn a_vae_can_score_by_negative_elbo() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let models = "[[model]]\nkind = \"vae\"\nname = \"recon\"\nhidden = [32]\nlatent = 4\n\
                  [[model]]\nkind = \"vae\"\nname = \"elbo\"\nhidden = [32]\nlatent = 4\nscore = \"elbo\"\n";
    let exp = experiment(dir, "vae", 3, "", models);
    let out = run(dir, &exp, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (recon, elbo) = (metrics(dir, "vae", "recon"), metrics(dir, "vae", "elbo"));
    // The score does not change training: the reconstruction metrics are identical.
    assert_eq!(recon["mse"], elbo["mse"]);
    let scores = |trial: &str| -> Vec<f64> {
        std::fs::read_to_string(dir.join("runs/vae").join(trial).join("scores.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect()
    };
    let (r, e) = (scores("recon"), scores("elbo"));
    assert_eq!(r.len(), 8);
    // KL >= 0, and after training it is strictly positive: every ELBO score is larger.
    assert!(r.iter().zip(&e).all(|(r, e)| e > r), "{r:?}\n{e:?}");
}

/// The `(split, loss)` of every epoch event of a trial.
fn losses(dir: &Path, exp: &str, trial: &str) -> Vec<(String, f64)> {
    let path = dir.join("runs").join(exp).join(trial).join("events.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["split"].is_string())
        .map(|e| {
            (
                e["split"].as_str().unwrap().to_string(),
                e["loss"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_batch_split_into_micro_batches_takes_the_whole_batchs_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let models = "[[model]]\nkind = \"cae\"\n[[model]]\nkind = \"dense\"\n";
    let whole = experiment(dir, "whole", 3, "", models);
    // 8 x 20 MFCC windows are 640 bytes: 0.002 MiB holds 3, so a batch of 16 goes as 6.
    let split = experiment(dir, "split", 3, "max_batch_mib = 0.002", models);
    common::ok(&run(dir, &whole, &[]));
    common::ok(&run(dir, &split, &[]));
    let start = std::fs::read_to_string(dir.join("runs/split/cae/events.jsonl")).unwrap();
    assert!(start.contains("\"micro_batches_per_step\":6"), "{start}");

    // Without batch norm the summed, share-weighted gradients are the whole
    // batch's: the same losses epoch by epoch, up to float summation order.
    let (a, b) = (losses(dir, "whole", "cae"), losses(dir, "split", "cae"));
    assert_eq!(a.len(), 6);
    for ((sa, la), (sb, lb)) in a.iter().zip(&b) {
        assert_eq!(sa, sb);
        assert!((la - lb).abs() <= 1e-4 * la.abs().max(1e-3), "{a:?}\n{b:?}");
    }
    // The dense AE's batch norm sees each micro-batch: it trains, to other numbers.
    let dense = losses(dir, "split", "dense");
    assert!(dense.iter().all(|(_, l)| l.is_finite()), "{dense:?}");
    assert_ne!(dense, losses(dir, "whole", "dense"));
}
