//! `--set` / `--seed` on the command line, and rerunning a trial from its
//! resolved `config.toml`.
use crate::common;

use crate::common::earshot;

use earshot::data::synth::{SynthCounts, write_dataset};
use earshot::records::TrialMetrics;

#[test]
fn overrides_change_the_run_and_a_config_toml_reruns_its_trial_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_dataset(
        &dir.join("data"),
        SynthCounts {
            train: 12,
            test_normal: 4,
            test_anomaly: 4,
            seconds: 1.0,
        },
        4,
    )
    .unwrap();
    std::fs::write(
        dir.join("exp.toml"),
        "name = \"exp\"\nseed = 1\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n[[model]]\nkind = \"dense\"\nhidden = [16]\n\
         [[model]]\nkind = \"knn\"\n[train]\nepochs = 5\nbatch_size = 16\n",
    )
    .unwrap();
    common::ok(
        &earshot(dir)
            .args([
                "train",
                "exp.toml",
                "--device",
                "cpu",
                "--set",
                "train.epochs=2",
            ])
            .args(["--set", "model[dense].hidden=[8]", "--seed", "9"])
            .output()
            .unwrap(),
    );
    let first = TrialMetrics::read(&dir.join("runs/exp/dense/metrics.json")).unwrap();
    assert_eq!(first.epochs, 2);
    let record = std::fs::read_to_string(dir.join("runs/exp/dense/config.toml")).unwrap();
    assert!(
        record.contains("seed = 9") && record.contains("hidden = [8]"),
        "{record}"
    );
    // Provenance: the dataset's fingerprint and its files per split (20 in all).
    let parsed: toml::Table = toml::from_str(&record).unwrap();
    let provenance = parsed["provenance"].as_table().unwrap();
    assert_eq!(
        provenance["dataset_fingerprint"].as_str().unwrap().len(),
        16
    );
    let files: Vec<i64> = provenance["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_integer().unwrap())
        .collect();
    assert_eq!(files.iter().sum::<i64>(), 20, "{files:?}");

    // The resolved config.toml reruns that one trial with the same numbers.
    let rerun = common::ok(
        &earshot(dir)
            .args([
                "train",
                "runs/exp/dense/config.toml",
                "--device",
                "cpu",
                "--runs-dir",
                "again",
            ])
            .output()
            .unwrap(),
    );
    assert!(!rerun.contains("knn"), "only the dense trial: {rerun}");
    let again = TrialMetrics::read(&dir.join("again/exp/dense/metrics.json")).unwrap();
    assert_eq!(
        (again.mse, again.auc, again.epochs),
        (first.mse, first.auc, 2)
    );

    // A bad override names itself.
    let bad = earshot(dir)
        .args(["train", "exp.toml", "--set", "model[gru].hidden=3"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("model[gru]") && stderr.contains("dense, knn"),
        "{stderr}"
    );
}
