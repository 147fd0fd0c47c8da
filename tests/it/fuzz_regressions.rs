//! Inputs the fuzzer (examples/fuzz.rs) once crashed earshot with, replayed
//! on every test run, and a short seeded round of every target.
use crate::common;

#[path = "../common/fuzz_targets.rs"]
mod targets;

#[test]
fn saved_crash_inputs_no_longer_crash() {
    let dir = common::repo().join("tests/fuzz_regressions");
    let scratch = targets::Scratch::new(tempfile::tempdir().unwrap().keep());
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((target, _)) = name.split_once('-') else {
            continue;
        };
        if !targets::TARGETS.contains(&target) {
            continue;
        }
        targets::run(target, &std::fs::read(entry.path()).unwrap(), &scratch);
        replayed += 1;
    }
    // The folder holds at least its README; inputs are added as the fuzzer finds them.
    assert!(dir.join("README.md").is_file());
    eprintln!("replayed {replayed} saved inputs");
}

#[test]
fn every_seed_runs_clean() {
    let repo = common::repo();
    let scratch = targets::Scratch::new(tempfile::tempdir().unwrap().keep());
    for target in targets::TARGETS {
        let seeds = targets::seeds(target, &repo);
        assert!(!seeds.is_empty(), "{target}");
        for seed in seeds {
            targets::run(target, &seed, &scratch);
        }
    }
}
