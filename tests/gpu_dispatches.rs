//! Kernel dispatches per training step on wgpu (lavapipe in CI), counted from
//! cubecl's kernel log by `earshot bench train --dispatches`: ceilings just
//! above today's counts (dense 81, rnn 44, cae 59, GRU AE 69 at batch 64, with
//! the WGSL kernels; before them 337, 3,715, 77 and 2,276), so the launch
//! count cannot silently grow back.

use std::process::Command;

#[test]
fn dispatches_per_step_stay_under_their_ceilings() {
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["bench", "train", "--device", "wgpu", "--batch", "64"])
        .args(["--samples", "128", "--dispatches", "--json"])
        .args(["--only", "dense,rnn,cae,gru"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("no wgpu adapter found") && std::env::var("CI").is_err() {
        eprintln!("skipped: no wgpu adapter here (install mesa-vulkan-drivers to run it)");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .expect("a JSON line");
    let report: serde_json::Value = serde_json::from_str(line).unwrap();
    for (model, ceiling) in [("dense", 85.0), ("rnn", 50.0), ("cae", 60.0), ("gru", 75.0)] {
        let count = report[format!("{model}_dispatches_per_step")]
            .as_f64()
            .unwrap_or_else(|| panic!("no count for {model}: {report}"));
        assert!(
            count > 0.0 && count <= ceiling,
            "{model}: {count} dispatches per step, ceiling {ceiling}"
        );
    }
}
