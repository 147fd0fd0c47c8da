//! `earshot sweep`: expansion, sharding across two processes at once, claiming,
//! resumption after a kill, early stopping and the leaderboard.

use std::path::{Path, PathBuf};

use crate::common::earshot;

use crate::common::ok;
use earshot::data::synth::{SynthCounts, write_dataset};
use earshot::experiment::sweep::Sweep;

fn setup(dir: &Path, sweep: &str, epochs: usize) -> PathBuf {
    let counts = SynthCounts {
        train: 10,
        test_normal: 3,
        test_anomaly: 3,
        seconds: 1.0,
    };
    write_dataset(&dir.join("data"), counts, 2).unwrap();
    let text = format!(
        "name = \"sw\"\nseed = 3\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\nvalid_fraction = 0.2\n\
         [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n[[model]]\nkind = \"dense\"\nhidden = [32]\nbottleneck = 4\n\
         [train]\nepochs = {epochs}\nbatch_size = 16\npatience = 100\n{sweep}"
    );
    let path = dir.join("sw.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const GRID: &str = "[sweep]\nmethod = \"grid\"\nmetric = { name = \"auc\", goal = \"maximize\" }\n\
    [sweep.parameters]\n\"model.bottleneck\" = { values = [2, 6] }\n\"train.learning_rate\" = { values = [1e-3, 3e-3] }\n";

fn metrics(dir: &Path, folder: &str) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/sw").join(folder).join("metrics.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn expansion_is_deterministic_grid_and_seeded_random_and_bad_parameters_fail_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = setup(dir, GRID, 1);
    let sweep = Sweep::load(&path).unwrap();
    let combos: Vec<String> = sweep
        .trials
        .iter()
        .map(|t| format!("{}:{}", t.params[0].1, t.params[1].1))
        .collect();
    assert_eq!(combos, ["2:0.001", "2:0.003", "6:0.001", "6:0.003"]);
    let exp = sweep.trial_experiment(&sweep.trials[3]).unwrap();
    assert_eq!(exp.model[0].name(), "dense-t003");
    assert_eq!(exp.train.learning_rate, 3e-3);
    assert!(exp.sweep.is_none());

    let random = "[sweep]\nmethod = \"random\"\nrun_cap = 5\nmetric = { name = \"valid_loss\", goal = \"minimize\" }\n\
        [sweep.parameters]\ntrain.learning_rate = { min = 1e-4, max = 1e-2, distribution = \"log_uniform_values\" }\n\
        model.bottleneck = { min = 2, max = 9, distribution = \"int_uniform\" }\n\"model.kind\" = { values = [\"dense\", \"vae\"] }\n";
    let path = setup(dir, random, 1);
    let a = Sweep::load(&path).unwrap();
    let b = Sweep::load(&path).unwrap();
    assert_eq!(a.trials, b.trials, "same seed, same draws");
    assert_eq!(a.trials.len(), 5);
    let mut kinds = std::collections::BTreeSet::new();
    for t in &a.trials {
        let lr = t
            .params
            .iter()
            .find(|p| p.0 == "train.learning_rate")
            .unwrap()
            .1
            .as_float()
            .unwrap();
        assert!((1e-4..=1e-2).contains(&lr), "{lr}");
        let k = t
            .params
            .iter()
            .find(|p| p.0 == "model.bottleneck")
            .unwrap()
            .1
            .as_integer()
            .unwrap();
        assert!((2..=9).contains(&k));
        let kind = t
            .params
            .iter()
            .find(|p| p.0 == "model.kind")
            .unwrap()
            .1
            .as_str()
            .unwrap()
            .to_string();
        // A VAE has no `bottleneck`: that combination is the trial's own failure, with the reason.
        match (kind.as_str(), a.trial_experiment(t)) {
            ("dense", Ok(exp)) => assert_eq!(exp.model[0].name(), format!("dense-{}", t.id)),
            ("vae", Err(reason)) => assert!(reason.contains("bottleneck"), "{reason}"),
            (kind, other) => panic!("{kind}: {other:?}"),
        }
        kinds.insert(kind);
    }
    assert_eq!(
        kinds.len(),
        2,
        "five draws over two kinds hit both (seeded)"
    );

    for (bad, needle) in [
        (
            "\"train.learning_rat\" = { values = [1e-3] }",
            "learning_rat",
        ),
        ("\"model.bottleneck\" = { values = [0] }", "bottleneck"),
        ("\"optimizer.lr\" = { values = [1] }", "not a section"),
        (
            "\"train.learning_rate\" = { min = 1e-4, max = 1e-2, distribution = \"log_uniform_values\" }",
            "grid",
        ),
        // wandb's log_uniform takes exponents: refused with the name to use.
        (
            "\"train.learning_rate\" = { min = 1e-4, max = 1e-2, distribution = \"log_uniform\" }",
            "log_uniform_values",
        ),
    ] {
        let text = format!(
            "[sweep]\nmethod = \"grid\"\nmetric = {{ name = \"auc\", goal = \"maximize\" }}\n[sweep.parameters]\n{bad}\n"
        );
        let path = setup(dir, &text, 1);
        let err = Sweep::load(&path).unwrap_err().to_string();
        let line = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(err.contains(needle), "{bad}: {err}");
        assert!(
            // Range-spec errors are found before values are placed: they name the [sweep] table.
            err.contains(&format!("sw.toml:{line}:"))
                || needle == "grid"
                || needle == "log_uniform_values",
            "{bad}: the parameter's line {line}: {err}"
        );
    }
}

#[test]
fn two_shards_at_once_train_every_trial_once_and_share_one_leaderboard() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = setup(dir, GRID, 2);
    let spawn = |shard: &str| {
        earshot(dir)
            .args([
                "sweep",
                path.to_str().unwrap(),
                "--device",
                "cpu",
                "--shard",
                shard,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("0/2"), spawn("1/2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ta, tb) = (ok(&a), ok(&b));
    let starts = |t: &str| {
        t.lines()
            .filter(|l| l.contains(": start ("))
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (sa, sb) = (starts(&ta), starts(&tb));
    assert_eq!(sa, ["t000", "t002"], "{ta}");
    assert_eq!(sb, ["t001", "t003"], "{tb}");
    for t in 0..4 {
        assert_eq!(metrics(dir, &format!("dense-t{t:03}"))["status"], "done");
    }
    let board = std::fs::read_to_string(dir.join("runs/sw/leaderboard.csv")).unwrap();
    assert_eq!(board.lines().count(), 5, "{board}");
    assert!(
        board.starts_with(
            "rank,trial,folder,status,auc,model.bottleneck,train.learning_rate,reason"
        ),
        "{board}"
    );
    let report = ok(&earshot(dir)
        .args(["sweep", path.to_str().unwrap(), "--report"])
        .output()
        .unwrap());
    assert!(
        report.contains("| 1 |") && report.contains("dense-t00"),
        "{report}"
    );
    // Running again trains nothing.
    let again = ok(&earshot(dir)
        .args(["sweep", path.to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap());
    assert!(
        again.contains("ran 0 trial(s) here, 4 finished before"),
        "{again}"
    );
}

#[test]
fn a_killed_sweep_resumes_without_redoing_finished_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = setup(dir, GRID, 200);
    let mut child = earshot(dir)
        .args(["sweep", path.to_str().unwrap(), "--device", "cpu"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the first trial is done and the second has checkpoints.
    let started = std::time::Instant::now();
    loop {
        let first_done = dir.join("runs/sw/dense-t000/metrics.json").exists();
        let second_going = dir
            .join("runs/sw/dense-t001/checkpoints")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some());
        if first_done && second_going {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 240,
            "sweep too slow to kill meaningfully"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first = std::fs::read_to_string(dir.join("runs/sw/dense-t000/metrics.json")).unwrap();
    assert!(
        dir.join("runs/sw/.claims/t001.lock").exists(),
        "the killed process leaves its lock"
    );
    let text = ok(&earshot(dir)
        .args(["sweep", path.to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap());
    assert!(
        !text.contains("t000: start"),
        "finished trial redone: {text}"
    );
    assert!(text.contains("t001: start"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.join("runs/sw/dense-t000/metrics.json")).unwrap(),
        first
    );
    let events = std::fs::read_to_string(dir.join("runs/sw/dense-t001/events.jsonl")).unwrap();
    assert!(
        events.contains("\"resume\""),
        "the interrupted trial resumed from its checkpoint"
    );
    for t in 0..4 {
        assert_eq!(metrics(dir, &format!("dense-t{t:03}"))["status"], "done");
    }
}

#[test]
fn the_median_rule_stops_worse_trials_and_marks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Learning rates from good to useless: the late, tiny ones fall behind the median.
    let sweep = "[sweep]\nmethod = \"grid\"\nmetric = { name = \"valid_loss\", goal = \"minimize\" }\n\
        early_terminate = { type = \"median\", min_iter = 2, min_trials = 2 }\n\
        [sweep.parameters]\n\"train.learning_rate\" = { values = [3e-3, 2e-3, 1e-7, 1e-8] }\n";
    let path = setup(dir, sweep, 6);
    let text = ok(&earshot(dir)
        .args(["sweep", path.to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap());
    for t in ["t000", "t001"] {
        assert_eq!(
            metrics(dir, &format!("dense-{t}"))["status"],
            "done",
            "{text}"
        );
    }
    for t in ["t002", "t003"] {
        let m = metrics(dir, &format!("dense-{t}"));
        assert_eq!(m["status"], "stopped", "{text}");
        assert!(m["reason"].as_str().unwrap().contains("median rule"), "{m}");
        assert!(m["epochs"].as_u64().unwrap() < 6);
    }
    let board = std::fs::read_to_string(dir.join("runs/sw/leaderboard.md")).unwrap();
    assert!(board.contains("stopped"), "{board}");
}

#[test]
fn a_finished_trial_whose_config_changed_is_refused_or_retrained_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let one = "[sweep]\nmethod = \"grid\"\nmetric = { name = \"auc\", goal = \"maximize\" }\n\
        [sweep.parameters]\n\"model.bottleneck\" = { values = [2] }\n";
    let path = setup(dir, one, 1);
    ok(&earshot(dir)
        .arg("sweep")
        .arg(&path)
        .args(["--device", "cpu"])
        .output()
        .unwrap());
    let first = metrics(dir, "dense-t000");
    // Unchanged: skipped as finished.
    let again = earshot(dir)
        .arg("sweep")
        .arg(&path)
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("1 finished before"));

    // The same trial under another (non-swept) setting: refused, the old result kept.
    let path = setup(dir, one, 2);
    let refused = earshot(dir)
        .arg("sweep")
        .arg(&path)
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--rerun-changed") && stderr.contains("another config"),
        "{stderr}"
    );
    assert_eq!(metrics(dir, "dense-t000"), first);

    // --rerun-changed: moved aside whole, trained again under the new config.
    let rerun = earshot(dir)
        .arg("sweep")
        .arg(&path)
        .args(["--device", "cpu", "--rerun-changed"])
        .output()
        .unwrap();
    ok(&rerun);
    assert_eq!(metrics(dir, "dense-t000")["epochs"], 2);
    let aside: Vec<_> = std::fs::read_dir(dir.join("runs/sw"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("dense-t000.prev-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    let kept: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(aside[0].path().join("metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(kept, first);
}

#[test]
fn q_uniform_draws_multiples_of_q_within_the_range() {
    let tmp = tempfile::tempdir().unwrap();
    let text = "[sweep]\nmethod = \"random\"\nrun_cap = 12\nmetric = { name = \"auc\", goal = \"maximize\" }\n\
        [sweep.parameters]\n\"train.weight_decay\" = { min = 0.0, max = 0.01, distribution = \"q_uniform\", q = 0.0025 }\n";
    let path = setup(tmp.path(), text, 1);
    let sweep = Sweep::load(&path).unwrap();
    assert_eq!(sweep.trials.len(), 12);
    for t in &sweep.trials {
        let v = t.params[0].1.as_float().unwrap();
        let steps = v / 0.0025;
        assert!(
            (steps - steps.round()).abs() < 1e-9 && (0.0..=0.01).contains(&v),
            "{v}"
        );
    }
}
