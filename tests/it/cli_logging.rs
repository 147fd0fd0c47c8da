//! Library log records (here symphonia's, through the `log` bridge) reach
//! stderr under RUST_LOG or -v, and nothing extra is printed by default;
//! `earshot devices` lists the adapters.
use crate::common;

use crate::common::{earshot, text};

#[test]
fn rust_log_and_verbose_flags_show_library_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let flac = common::fixture("chirp_16k.flac");
    let run = |envs: &[(&str, &str)], flags: &[&str], out: &str| {
        let mut cmd = earshot(tmp.path());
        cmd.env_remove("RUST_LOG");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let output = cmd
            .args(flags)
            .arg("features")
            .arg(&flac)
            .args(["--out", out, "--device", "cpu", "--no-cache"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let quiet = run(&[], &[], "a");
    assert!(
        !quiet.contains("DEBUG") && !quiet.contains("symphonia"),
        "{quiet}"
    );
    let logged = run(&[("RUST_LOG", "symphonia_core=debug")], &[], "b");
    assert!(
        logged.contains("DEBUG") && logged.contains("symphonia_core::probe"),
        "{logged}"
    );
    let verbose = run(&[], &["-vvv"], "c");
    assert!(verbose.contains("symphonia_core"), "{verbose}");
    let silenced = run(&[], &["-q"], "d");
    assert!(!silenced.contains("symphonia"), "{silenced}");
}

#[test]
fn devices_lists_the_adapters_wgpu_finds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = earshot(tmp.path())
        .args(["devices", "--json"])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let adapters: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    if crate::common::skip_without_wgpu(adapters.is_empty(), &all) {
        return;
    }
    for a in &adapters {
        assert!(a["name"].as_str().is_some_and(|n| !n.is_empty()), "{a}");
        assert!(a["max_buffer_bytes"].as_u64().unwrap() > 0, "{a}");
    }
    let table = earshot(tmp.path()).arg("devices").output().unwrap();
    let shown = String::from_utf8_lossy(&table.stdout);
    assert!(shown.contains("--device auto trains on"), "{shown}");
    assert!(
        shown.contains(adapters[0]["name"].as_str().unwrap()),
        "{shown}"
    );
}
