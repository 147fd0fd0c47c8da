//! `score = "mahalanobis" | "latent_gmm"` for the autoencoders: fitted on the
//! training windows, saved, and the same scores again from `eval` and
//! `detect`; a scorer that cannot be fitted fails its trial, not the run.
use crate::common;

use crate::common::earshot;

use earshot::records::TrialMetrics;

fn scores(path: &std::path::Path) -> Vec<(String, f64)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].parse().unwrap())
        })
        .collect()
}

#[test]
fn fitted_scorers_score_the_same_in_training_eval_and_detect() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::synth_data(dir, 10, 3, 4);
    std::fs::write(
        dir.join("exp.toml"),
        "name = \"s\"\nseed = 2\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = 8\nhop = 4\n\
         [features]\nn_mels = 32\nn_mfcc = 10\nn_fft = 512\nhop_length = 256\n\
         [[model]]\nkind = \"dense\"\nname = \"maha\"\nhidden = [16]\nscore = \"mahalanobis\"\n\
         [[model]]\nkind = \"cae\"\nname = \"lgmm\"\nscore = \"latent_gmm\"\nlatent_components = 2\n\
         [[model]]\nkind = \"dense\"\nname = \"codes_knn\"\nhidden = [16]\nscore = \"latent_knn\"\nlatent_neighbors = 2\n\
         [[model]]\nkind = \"dense\"\nname = \"too_many\"\nhidden = [16]\nscore = \"latent_gmm\"\nlatent_components = 500\n\
         [train]\nepochs = 2\nbatch_size = 16\n",
    )
    .unwrap();
    let out = earshot(dir)
        .args(["train", "exp.toml", "--device", "cpu"])
        .output()
        .unwrap();
    // One trial failed (exit 3), the others finished.
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    let failed = TrialMetrics::read(&dir.join("runs/s/too_many/metrics.json")).unwrap();
    assert_eq!(failed.status.word(), "failed");
    let reason = failed.reason.unwrap_or_default();
    assert!(reason.contains("latent_components is 500"), "{reason}");

    for (trial, method) in [
        ("maha", "mahalanobis"),
        ("lgmm", "latent_gmm"),
        ("codes_knn", "latent_knn"),
    ] {
        let trial_dir = dir.join("runs/s").join(trial);
        let metrics = TrialMetrics::read(&trial_dir.join("metrics.json")).unwrap();
        assert_eq!(metrics.status.word(), "done");
        assert!(metrics.auc.is_some());
        let scorer: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(trial_dir.join("model/scorer.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(scorer["method"], method);
        let trained = scores(&trial_dir.join("scores.csv"));
        assert_eq!(trained.len(), 6);

        // eval re-scores through the detector path: the same numbers.
        common::ok(
            &earshot(dir)
                .args(["eval", trial_dir.to_str().unwrap()])
                .output()
                .unwrap(),
        );
        let again = scores(&trial_dir.join("scores.csv"));
        for ((f1, a), (f2, b)) in trained.iter().zip(&again) {
            assert_eq!(f1, f2);
            assert!(
                (a - b).abs() <= 1e-6 * a.abs().max(1.0),
                "{trial} {f1}: {a} vs {b}"
            );
        }
        // detect on one file gives its score too (scores.csv's paths are
        // relative to the root metrics.json names).
        let (file, expected) = &trained[0];
        let root = TrialMetrics::read(&trial_dir.join("metrics.json"))
            .unwrap()
            .data_root
            .expect("metrics.json names the data root");
        let file = root.join(file).display().to_string();
        let file = &file;
        let out = common::ok(
            &earshot(dir)
                .args([
                    "detect",
                    "--model",
                    trial_dir.to_str().unwrap(),
                    file,
                    "--json",
                ])
                .output()
                .unwrap(),
        );
        let line: serde_json::Value =
            serde_json::from_str(out.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
        let got = line["score"].as_f64().unwrap();
        assert!(
            (got - expected).abs() <= 1e-5 * expected.abs().max(1.0),
            "{got} vs {expected}"
        );
    }
}

#[test]
fn a_clip_summary_makes_one_frame_per_clip_and_needs_frames_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::synth_data(dir, 10, 3, 8);
    let exp = |frames: usize| {
        format!(
            "name = \"c\"\nseed = 2\n[data]\nlayout = \"folders\"\nroot = \"data\"\nframes = {frames}\nhop = 1\n\
             [features]\nkind = \"logmel\"\nn_mels = 16\nn_fft = 512\nhop_length = 256\nsummary = \"clip\"\n\
             [[model]]\nkind = \"dense\"\nhidden = [8]\nbottleneck = 4\nscore = \"latent_knn\"\n\
             [train]\nepochs = 2\nbatch_size = 4\n"
        )
    };
    std::fs::write(dir.join("bad.toml"), exp(8)).unwrap();
    let out = earshot(dir)
        .args(["train", "bad.toml", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        common::text(&out).contains("set frames = 1"),
        "{}",
        common::text(&out)
    );
    std::fs::write(dir.join("good.toml"), exp(1)).unwrap();
    common::ok(
        &earshot(dir)
            .args(["train", "good.toml", "--device", "cpu"])
            .output()
            .unwrap(),
    );
    let metrics = TrialMetrics::read(&dir.join("runs/c/dense/metrics.json")).unwrap();
    assert_eq!(metrics.status.word(), "done");
    // One window per clip: the training clips (less validation) are the windows.
    let normalizer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/c/dense/model/normalizer.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(normalizer["mean"].as_array().unwrap().len(), 32);
    assert_eq!(metrics.windows, 3, "one window per normal test clip");
}
