//! Library log records (here symphonia's, through the `log` bridge) reach
//! stderr under RUST_LOG or -v, and nothing extra is printed by default.

mod common;

use common::{earshot, text};

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
