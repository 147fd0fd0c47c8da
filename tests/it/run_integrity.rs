//! Run folders never lose or mix data, and hostile input costs bounded work:
//! each case here failed on the release before run ids and claims.

use crate::common::{earshot, text};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use earshot::data::synth::{SynthCounts, write_dataset};

fn experiment(dir: &Path, epochs: usize, models: &str) -> PathBuf {
    write_dataset(
        &dir.join("data"),
        SynthCounts {
            train: 12,
            test_normal: 3,
            test_anomaly: 3,
            seconds: 1.0,
        },
        5,
    )
    .unwrap();
    let path = dir.join("exp.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"exp\"\nseed = 3\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
             [features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n[train]\nepochs = {epochs}\nbatch_size = 16\n{models}"
        ),
    )
    .unwrap();
    path
}

fn train(dir: &Path, extra: &[&str]) -> Output {
    earshot(dir)
        .args(["train", "exp.toml", "--device", "cpu"])
        .args(extra)
        .output()
        .unwrap()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn demo_refuses_a_data_folder_it_did_not_generate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("out/data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("thesis.txt"), "years of work").unwrap();
    let out = earshot(tmp.path())
        .args(["demo", "--out", "out", "--device", "cpu"])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("thesis.txt") && all.contains("did not generate"),
        "{all}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("thesis.txt")).unwrap(),
        "years of work"
    );
    assert!(!tmp.path().join("out/runs").exists(), "nothing ran");
}

#[test]
fn a_second_run_refuses_resumes_or_moves_the_first_aside_never_mixes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    experiment(dir, 2, "[[model]]\nkind = \"dense\"\nhidden = [16]\n");
    let first = train(dir, &[]);
    assert!(first.status.success(), "{}", text(&first));
    let trial = dir.join("runs/exp/dense");
    let events_before = std::fs::read_to_string(trial.join("events.jsonl")).unwrap();
    let first_run = lines(&trial.join("events.jsonl"))[0]["run"].clone();
    assert!(first_run.is_string());

    // Again without a flag: refused before any work, the folder untouched.
    let again = train(dir, &[]);
    let all = text(&again);
    assert_eq!(again.status.code(), Some(1), "{all}");
    assert!(
        all.contains("already holds a run")
            && all.contains("--resume")
            && all.contains("--overwrite"),
        "{all}"
    );
    assert_eq!(
        std::fs::read_to_string(trial.join("events.jsonl")).unwrap(),
        events_before
    );

    // --overwrite: the old run is moved aside whole, the new one starts clean.
    let over = train(dir, &["--overwrite"]);
    assert!(over.status.success(), "{}", text(&over));
    let aside: Vec<PathBuf> = std::fs::read_dir(dir.join("runs/exp"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("dense.prev-")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read_to_string(aside[0].join("events.jsonl")).unwrap(),
        events_before
    );
    let events = lines(&trial.join("events.jsonl"));
    let starts = events.iter().filter(|e| e["event"] == "start").count();
    assert_eq!(starts, 1, "one run per folder");
    assert_eq!(events.iter().filter(|e| e["split"] == "train").count(), 2);
    let run = &events[0]["run"];
    assert_ne!(run, &first_run);
    assert!(
        events.iter().all(|e| &e["run"] == run),
        "every event carries the run id"
    );
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(trial.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(&metrics["run_id"], run);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(trial.join("checkpoints/epoch-00002/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(&state["run_id"], run);

    // The dashboard, eval and leaderboards see one trial: the old run is kept, not listed.
    let eval = earshot(dir).args(["eval", "runs/exp"]).output().unwrap();
    let all = text(&eval);
    assert!(eval.status.success(), "{all}");
    assert!(!all.contains("prev-"), "{all}");

    // --resume continues this run (nothing left to train) and keeps its id.
    let resumed = train(dir, &["--resume"]);
    assert!(resumed.status.success(), "{}", text(&resumed));
    let events = lines(&trial.join("events.jsonl"));
    assert!(events.iter().any(|e| e["event"] == "resume"));
    assert!(events.iter().all(|e| &e["run"] == run));
}

#[test]
fn a_second_process_on_the_same_trial_is_refused_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    experiment(dir, 5000, "[[model]]\nkind = \"dense\"\nhidden = [16]\n");
    let mut first = earshot(dir)
        .args(["train", "exp.toml", "--device", "cpu"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let events = dir.join("runs/exp/dense/events.jsonl");
    let started = Instant::now();
    while !events.is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "never started"
        );
        assert!(first.try_wait().unwrap().is_none(), "finished too soon");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = train(dir, &["--resume"]);
    first.kill().unwrap();
    first.wait().unwrap();
    let all = text(&second);
    assert_eq!(second.status.code(), Some(1), "{all}");
    assert!(
        all.contains("another process is training this trial")
            && all.contains(&first.id().to_string()),
        "{all}"
    );
    // A killed holder leaves its lock; the claim's own test shows a dead pid's lock is taken over.
    assert!(dir.join("runs/exp/.claims/dense.lock").is_file());
}

#[test]
fn impossible_models_and_rates_fail_cleanly_and_the_exit_code_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    experiment(
        dir,
        1,
        "[[model]]\nkind = \"dense\"\nname = \"huge\"\nhidden = [100000000, 100000000]\n\
         [[model]]\nkind = \"dense\"\nname = \"small\"\nhidden = [16]\n",
    );
    let out = train(dir, &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "a trial failed: {all}");
    assert!(all.contains("1 trial(s) failed: huge"), "{all}");
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/exp/huge/metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(metrics["status"], "failed");
    let reason = metrics["reason"].as_str().unwrap();
    assert!(
        reason.contains("parameters") && reason.contains("GB"),
        "{reason}"
    );
    assert!(
        dir.join("runs/exp/small/metrics.json").is_file(),
        "the next trial ran"
    );

    // A config sample rate outside 1 kHz - 768 kHz is refused at load with the key.
    std::fs::write(
        dir.join("bad.toml"),
        "name = \"x\"\n[data]\nlayout = \"folders\"\nroot = \"data\"\n[features]\nsample_rate = 1\n[[model]]\nkind = \"dense\"\n",
    )
    .unwrap();
    let out = earshot(dir).args(["train", "bad.toml"]).output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        all.contains("sample_rate") && all.contains("1000-768000"),
        "{all}"
    );
}

fn write_wav(path: &Path, rate: u32, samples: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..samples {
        w.write_sample(((i * 37) % 2000) as i16 - 1000).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn a_header_claiming_1_hz_or_too_much_audio_is_refused_per_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    // 200,000 samples at 1 Hz would be 55 hours once resampled to 16 kHz.
    write_wav(&dir.join("in/one_hz.wav"), 1, 200_000);
    write_wav(&dir.join("in/long.wav"), 16_000, 48_000);
    write_wav(&dir.join("in/fine.wav"), 16_000, 8_000);
    let out = earshot(dir)
        .args([
            "features",
            "in",
            "--out",
            "feats",
            "--device",
            "cpu",
            "--no-cache",
        ])
        .args(["--max-duration", "2"])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(all.contains("one_hz.wav") && all.contains("1 Hz"), "{all}");
    assert!(
        all.contains("long.wav") && all.contains("limit of 2 s"),
        "{all}"
    );
    assert!(dir.join("feats/fine.npy").is_file(), "{all}");
    assert!(!dir.join("feats/one_hz.npy").exists());
}

#[test]
fn scores_csv_quotes_awkward_file_names_as_rfc_4180_says() {
    let rows = [
        (Path::new("test/cough, \"loud\" one.wav"), 1.5, true),
        (Path::new("test/ünï côde.wav"), 0.25, false),
    ];
    let csv = earshot::report::scores_csv(rows, Some(1.0));
    // What pandas and Python's csv module read as four fields per row.
    assert_eq!(
        csv,
        "file,score,label,flag\n\"test/cough, \"\"loud\"\" one.wav\",1.500000,anomaly,1\ntest/ünï côde.wav,0.250000,normal,0\n"
    );
    let back = earshot::report::read_scores_csv(&csv);
    assert_eq!(back[0].0, "test/cough, \"loud\" one.wav");
    assert_eq!((back[0].1, back[0].2), (1.5, true));
    assert_eq!(back[1].0, "test/ünï côde.wav");
}

#[test]
fn a_manifest_row_with_a_quoted_comma_names_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    write_wav(&root.join("cough, \"loud\" one.wav"), 8000, 800);
    write_wav(&root.join("plain.wav"), 8000, 800);
    let csv = tmp.path().join("m.csv");
    std::fs::write(
        &csv,
        "path,label,split\nplain.wav,normal,train\n\"cough, \"\"loud\"\" one.wav\",anomaly,test\n",
    )
    .unwrap();
    let (files, problems) = earshot::data::list_manifest(&root, &csv).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(files.test.len(), 1);
    assert_eq!(files.test[0].0, root.join("cough, \"loud\" one.wav"));
}
