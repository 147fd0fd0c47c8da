//! A small training run on wgpu, on adapter 0 of `earshot devices`: lavapipe
//! in CI (software Vulkan), the real adapter on a GPU machine. Without any adapter it is skipped locally, and
//! fails under CI=true, where .ci/run installs lavapipe.

use std::process::Command;

use earshot::data::synth::{SynthCounts, write_dataset};

/// `earshot train` on wgpu:0 in `dir`, of a generated dataset (`train`
/// normal clips, `test` of each test class, from `seed`) and an experiment
/// `name` whose 8 x 20 MFCC windows go to `model_and_train` (its `[[model]]`
/// and `[train]` tables).
fn train_on_wgpu(
    dir: &std::path::Path,
    (train, test, seed): (usize, usize, u64),
    name: &str,
    model_and_train: &str,
) -> std::process::Output {
    write_dataset(
        &dir.join("data"),
        SynthCounts {
            train,
            test_normal: test,
            test_anomaly: test,
            seconds: 1.0,
        },
        seed,
    )
    .unwrap();
    let experiment = format!(
        "name = \"{name}\"\nseed = 3\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 40\nhop_length = 256\n{model_and_train}"
    );
    let file = format!("{name}.toml");
    std::fs::write(dir.join(&file), experiment).unwrap();
    Command::new(env!("CARGO_BIN_EXE_earshot"))
        .current_dir(dir)
        .env("EARSHOT_CACHE_DIR", dir.join("cache"))
        .args(["train", &file, "--device", "wgpu:0"])
        .output()
        .unwrap()
}

#[test]
fn a_small_training_run_passes_on_wgpu() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let out = train_on_wgpu(
        dir,
        (8, 3, 5),
        "gpu",
        "[[model]]\nkind = \"cae\"\n[train]\nepochs = 2\nbatch_size = 16\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if crate::common::skip_without_wgpu_adapter(&stderr) {
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
    // The adapter chosen is the one recorded.
    assert!(record.contains("device = \"wgpu:0: "), "{record}");

    // The features were extracted on the training device and the frames built
    // there: nothing of them went up. A second run finds them in the cache,
    // on the host, uploads them, and trains to the same numbers.
    let first = start_event(dir, "runs/gpu/cae");
    assert_eq!(first["windows_on_device"], true, "{first}");
    assert_eq!(first["resident_upload_bytes"], 0, "{first}");
    assert!(first["resident_bytes"].as_u64().unwrap() > 0, "{first}");
    let again = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .current_dir(dir)
        .env("EARSHOT_CACHE_DIR", dir.join("cache"))
        .args([
            "train",
            "gpu.toml",
            "--device",
            "wgpu:0",
            "--runs-dir",
            "again",
        ])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let second = start_event(dir, "again/gpu/cae");
    assert_eq!(
        second["resident_upload_bytes"], first["resident_bytes"],
        "{second}"
    );
    let built = epoch_losses(&dir.join("runs/gpu/cae"));
    let uploaded = epoch_losses(&dir.join("again/gpu/cae"));
    assert_eq!(built.len(), 4, "{built:?}");
    for (b, u) in built.iter().zip(&uploaded) {
        assert!((b - u).abs() <= 1e-5 * u.abs(), "{built:?} vs {uploaded:?}");
    }

    // An adapter that does not exist is refused before anything runs, with the list.
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .current_dir(dir)
        .args([
            "train",
            "gpu.toml",
            "--device",
            "wgpu:99",
            "--runs-dir",
            "other",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no adapter 99") && stderr.contains("0: "),
        "{stderr}"
    );
    assert!(!dir.join("other").exists());
}

#[test]
fn a_sweep_spreads_its_parallel_trials_over_the_listed_adapters() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let counts = SynthCounts {
        train: 6,
        test_normal: 2,
        test_anomaly: 2,
        seconds: 1.0,
    };
    write_dataset(&dir.join("data"), counts, 6).unwrap();
    std::fs::write(
        dir.join("sw.toml"),
        "name = \"sw\"\nseed = 3\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n[[model]]\nkind = \"dense\"\nhidden = [16]\n\
         [train]\nepochs = 1\nbatch_size = 16\n[sweep]\nmethod = \"grid\"\nmetric = { name = \"auc\", goal = \"maximize\" }\n\
         [sweep.parameters]\n\"model.bottleneck\" = { values = [2, 4] }\n",
    )
    .unwrap();
    let sweep = |devices: &str| {
        Command::new(env!("CARGO_BIN_EXE_earshot"))
            .current_dir(dir)
            .env("EARSHOT_CACHE_DIR", dir.join("cache"))
            .args(["sweep", "sw.toml", "--parallel", "2", "--devices", devices])
            .output()
            .unwrap()
    };
    let out = sweep("99");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if crate::common::skip_without_wgpu_adapter(&stderr) {
        return;
    }
    assert!(
        !out.status.success() && stderr.contains("no adapter 99"),
        "{stderr}"
    );
    // Adapter 0 twice: both workers train on it, each trial records it.
    let out = sweep("0,0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for trial in ["dense-t000", "dense-t001"] {
        let record =
            std::fs::read_to_string(dir.join("runs/sw").join(trial).join("config.toml")).unwrap();
        assert!(record.contains("device = \"wgpu:0: "), "{record}");
    }
}

#[test]
fn a_batch_past_one_gpu_buffer_trains_as_micro_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 640-byte windows, 0.001 MiB per micro-batch: a batch of 16 goes as 8
    // buffers of 2 windows, their gradients summed into one step.
    let out = train_on_wgpu(
        dir,
        (8, 2, 6),
        "big",
        "[[model]]\nkind = \"dense\"\n[train]\nepochs = 2\nbatch_size = 16\nmax_batch_mib = 0.001\n",
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let events = std::fs::read_to_string(dir.join("runs/big/dense/events.jsonl")).unwrap();
    assert!(events.contains("\"micro_batches_per_step\":8"), "{events}");
    let metrics = std::fs::read_to_string(dir.join("runs/big/dense/metrics.json")).unwrap();
    assert!(!metrics.contains("\"failed\""), "{metrics}");
}

/// The `start` event of the trial in `trial_dir` (relative to `dir`).
fn start_event(dir: &std::path::Path, trial_dir: &str) -> serde_json::Value {
    let events = std::fs::read_to_string(dir.join(trial_dir).join("events.jsonl")).unwrap();
    events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "start")
        .unwrap_or_else(|| panic!("no start event in {events}"))
}

/// The `loss` of every epoch event of the trial in `trial_dir`.
fn epoch_losses(trial_dir: &std::path::Path) -> Vec<f64> {
    let path = trial_dir.join("events.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|e| e["split"].is_string().then(|| e["loss"].as_f64().unwrap()))
        .collect()
}

/// The VAE's fused sample-and-KL kernel applies the KL term's gradient
/// itself, so micro-batches weight their gradients, not their losses: split
/// into 8 parts, a batch trains to the whole batch's numbers (the VAE has
/// no batch norm to see the parts).
#[test]
fn a_vae_batch_split_into_micro_batches_on_wgpu_trains_as_the_whole_batch() {
    let model = "[[model]]\nkind = \"vae\"\n[train]\nepochs = 2\nbatch_size = 16\n";
    let runs: Vec<Vec<f64>> = ["", "max_batch_mib = 0.001\n"]
        .iter()
        .map(|split| {
            let tmp = tempfile::tempdir().unwrap();
            let out = train_on_wgpu(tmp.path(), (8, 2, 6), "vae", &format!("{model}{split}"));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            epoch_losses(&tmp.path().join("runs/vae/vae"))
        })
        .collect();
    assert_eq!(runs[0].len(), 4, "{runs:?}");
    for (whole, split) in runs[0].iter().zip(&runs[1]) {
        assert!((whole - split).abs() <= 1e-4 * whole.abs(), "{runs:?}");
    }
}
