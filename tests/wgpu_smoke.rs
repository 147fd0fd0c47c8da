//! A small training run on wgpu: lavapipe in CI (software Vulkan), the real
//! adapter on a GPU machine. Without any adapter it is skipped locally, and
//! fails under CI=true, where .ci/run installs lavapipe.

use std::process::Command;

use earshot::data::synth::{SynthCounts, write_dataset};

#[test]
fn a_small_training_run_passes_on_wgpu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_dataset(
        &dir.join("data"),
        SynthCounts {
            train: 8,
            test_normal: 3,
            test_anomaly: 3,
            seconds: 1.0,
        },
        5,
    )
    .unwrap();
    std::fs::write(
        dir.join("gpu.toml"),
        "name = \"gpu\"\nseed = 3\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 40\nhop_length = 256\n[[model]]\nkind = \"cae\"\n[train]\nepochs = 2\nbatch_size = 16\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .current_dir(dir)
        .env("EARSHOT_CACHE_DIR", dir.join("cache"))
        .args(["train", "gpu.toml", "--device", "wgpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("no wgpu adapter found") && std::env::var("CI").is_err() {
        eprintln!("skipped: no wgpu adapter here (install mesa-vulkan-drivers to run it)");
        return;
    }
    assert!(
        out.status.success(),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("on wgpu"), "{stderr}");
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/gpu/cae/metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(metrics["status"], "done");
    // Training on wgpu takes its features from our WGSL kernels on the same device.
    let record = std::fs::read_to_string(dir.join("runs/gpu/cae/config.toml")).unwrap();
    assert!(
        record.contains("features_device = \"wgpu (WGSL kernels)\""),
        "{record}"
    );
    assert!(metrics["mse"].as_f64().unwrap().is_finite());
    assert!(metrics["auc"].as_f64().is_some());
}
