//! Kernel dispatches per training step on wgpu (lavapipe in CI), counted from
//! cubecl's kernel log by `earshot bench train --dispatches`: ceilings at
//! #16's targets where they bind (dense 40, conv 60) and just above today's
//! counts elsewhere (dense 40, rnn 34, cae 56, GRU AE 63, VAE 49 at batch 64
//! with the WGSL kernels and the chunked Adam; before the kernels 337, 3,715,
//! 77, 2,276 and 84), so the launch count cannot silently grow back.

use std::process::Command;

#[test]
fn dispatches_per_step_stay_under_their_ceilings() {
    let out = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["bench", "train", "--device", "wgpu", "--batch", "64"])
        .args(["--samples", "128", "--dispatches", "--json"])
        .args(["--only", "dense,rnn,cae,gru,vae"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if crate::common::skip_without_wgpu_adapter(&stderr) {
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rfind(|l| l.starts_with('{'))
        .expect("a JSON line");
    let report: serde_json::Value = serde_json::from_str(line).unwrap();
    let ceilings = [
        ("dense", 40.0),
        ("rnn", 40.0),
        ("cae", 60.0),
        ("gru", 66.0),
        ("vae", 52.0),
    ];
    for (model, ceiling) in ceilings {
        let count = report[format!("{model}_dispatches_per_step")]
            .as_f64()
            .unwrap_or_else(|| panic!("no count for {model}: {report}"));
        assert!(
            count > 0.0 && count <= ceiling,
            "{model}: {count} dispatches per step, ceiling {ceiling}"
        );
    }
}
