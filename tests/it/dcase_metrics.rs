//! DCASE 2021-2025: names with sections and domains, the year's figures held
//! to the challenge evaluators' definitions (fixtures from
//! tests/reference/make_dcase_fixtures.py), submission files, and a folder
//! mixing years refused.
use crate::common;

use crate::common::earshot;

use std::path::{Path, PathBuf};

use earshot::data::parse_dcase;
use earshot::data::synth::{SynthCounts, write_dataset};
use earshot::eval::dcase::dcase_metrics;
use earshot::records::TrialMetrics;

fn close(a: Option<f64>, b: &serde_json::Value) {
    let (a, b) = (a.unwrap(), b.as_f64().unwrap());
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn figures_equal_the_evaluators_on_generated_scores() {
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo().join("tests/reference/dcase/fixtures.json"))
            .unwrap(),
    )
    .unwrap();
    let rows: Vec<_> = fixture["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = parse_dcase(Path::new(f["name"].as_str().unwrap())).unwrap();
            (name, f["score"].as_f64().unwrap())
        })
        .collect();
    for year in [2021u16, 2023] {
        let expected = &fixture["expected"][year.to_string()];
        let m = dcase_metrics(&rows, year, "fan").unwrap();
        close(m.official_score, &expected["official_score"]);
        for (ours, theirs) in m
            .sections
            .iter()
            .zip(expected["sections"].as_array().unwrap())
        {
            assert_eq!(ours.section, theirs["section"]);
            close(ours.auc_source, &theirs["auc_source"]);
            close(ours.auc_target, &theirs["auc_target"]);
            if year == 2021 {
                close(ours.pauc_source, &theirs["pauc_source"]);
                close(ours.pauc_target, &theirs["pauc_target"]);
            } else {
                close(ours.pauc, &theirs["pauc"]);
            }
        }
    }
}

/// A DCASE 2023-style machine folder from generated clips: two sections,
/// source and target domains.
fn dcase_folder(root: &Path) {
    for (section, seed) in [("00", 11u64), ("01", 12)] {
        let tmp = root.join(format!(".gen{section}"));
        let counts = SynthCounts {
            train: 8,
            test_normal: 4,
            test_anomaly: 4,
            seconds: 1.0,
        };
        write_dataset(&tmp, counts, seed).unwrap();
        let moved = |from: &str, to_dir: &str, stem: &dyn Fn(usize) -> String| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(tmp.join(from))
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wav"))
                .collect();
            files.sort();
            std::fs::create_dir_all(root.join(to_dir)).unwrap();
            for (i, f) in files.iter().enumerate() {
                std::fs::rename(f, root.join(to_dir).join(format!("{}.wav", stem(i)))).unwrap();
            }
        };
        let domain = |i: usize| if i % 4 == 3 { "target" } else { "source" };
        moved("train/normal", "train", &|i| {
            format!("section_{section}_{}_train_normal_{i:04}_a_1", domain(i))
        });
        moved("test/normal", "test", &|i| {
            format!("section_{section}_{}_test_normal_{i:04}", domain(i + 1))
        });
        moved("test/anomaly", "test", &|i| {
            format!("section_{section}_{}_test_anomaly_{i:04}", domain(i + 1))
        });
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

/// `earshot train` of a kNN detector on `dir/fan` (run `runs/d/knn`), with
/// `data_lines` added to `[data]`.
fn train_knn_on_fan(dir: &Path, data_lines: &str) {
    std::fs::write(
        dir.join("exp.toml"),
        format!(
            "name = \"d\"\nseed = 1\n[data]\nlayout = \"dcase\"\nroot = \"fan\"\nframes = 8\nhop = 4\n\
             {data_lines}[features]\nn_mels = 32\nn_fft = 512\nhop_length = 256\n[[model]]\nkind = \"knn\"\n"
        ),
    )
    .unwrap();
    common::ok(
        &earshot(dir)
            .args(["train", "exp.toml", "--device", "cpu"])
            .output()
            .unwrap(),
    );
}

#[test]
fn a_dcase_2023_folder_gets_its_figures_submission_files_and_the_same_again_from_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dcase_folder(&dir.join("fan"));
    train_knn_on_fan(dir, "");
    let trial = dir.join("runs/d/knn");
    let metrics = TrialMetrics::read(&trial.join("metrics.json")).unwrap();
    let dcase = metrics.dcase.clone().expect("a dcase block");
    assert_eq!((dcase.year, dcase.machine.as_str()), (2023, "fan"));
    let sections: Vec<&str> = dcase.sections.iter().map(|s| s.section.as_str()).collect();
    assert_eq!(sections, ["section_00", "section_01"]);
    assert_eq!(dcase.sections[0].files, 8);
    assert!(dcase.official_score.is_some_and(|s| s > 0.0 && s <= 1.0));
    for section in ["00", "01"] {
        let scores = std::fs::read_to_string(trial.join(format!(
            "dcase/anomaly_score_fan_section_{section}_test.csv"
        )))
        .unwrap();
        assert_eq!(scores.lines().count(), 8);
        assert!(
            scores.starts_with(&format!("section_{section}_")),
            "{scores}"
        );
        let decisions = std::fs::read_to_string(trial.join(format!(
            "dcase/decision_result_fan_section_{section}_test.csv"
        )))
        .unwrap();
        assert!(
            decisions
                .lines()
                .all(|l| l.ends_with(",0") || l.ends_with(",1"))
        );
    }
    let report = std::fs::read_to_string(trial.join("report.md")).unwrap();
    assert!(report.contains("## DCASE 2023 (fan)"), "{report}");

    common::ok(
        &earshot(dir)
            .args(["eval", trial.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    let again = TrialMetrics::read(&trial.join("metrics.json")).unwrap();
    assert_eq!(again.dcase.unwrap().official_score, dcase.official_score);
}

#[test]
fn a_folder_mixing_2020_and_2021_names_is_refused_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dcase_folder(&dir.join("fan"));
    let old = dir.join("fan/train/normal_id_00_00000000.wav");
    std::fs::copy(
        std::fs::read_dir(dir.join("fan/train"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path(),
        &old,
    )
    .unwrap();
    std::fs::write(
        dir.join("exp.toml"),
        "name = \"d\"\n[data]\nlayout = \"dcase\"\nroot = \"fan\"\n[[model]]\nkind = \"knn\"\n",
    )
    .unwrap();
    let out = earshot(dir)
        .args(["train", "exp.toml", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = common::text(&out);
    assert!(
        text.contains("a mix of DCASE 2020 names") && text.contains("normal_id_00_00000000.wav"),
        "{text}"
    );
}

#[test]
fn a_dcase_2021_folder_reads_its_source_test_and_target_test_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fan = dir.join("fan");
    dcase_folder(&fan);
    // 2021 (MIMII DUE, ToyADMOS2) keeps test clips by domain in two folders.
    for entry in std::fs::read_dir(fan.join("test")).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        let folder = if name.contains("_target_") {
            "target_test"
        } else {
            "source_test"
        };
        std::fs::create_dir_all(fan.join(folder)).unwrap();
        std::fs::rename(entry.path(), fan.join(folder).join(&name)).unwrap();
    }
    std::fs::remove_dir(fan.join("test")).unwrap();
    assert!(fan.join("source_test").is_dir() && fan.join("target_test").is_dir());
    train_knn_on_fan(dir, "dcase_year = 2021\n");
    let metrics = TrialMetrics::read(&dir.join("runs/d/knn/metrics.json")).unwrap();
    let dcase = metrics.dcase.expect("a dcase block");
    assert_eq!(dcase.year, 2021);
    // Every test clip of both folders is scored: 8 per section, both domains.
    assert_eq!(
        dcase.sections.iter().map(|s| s.files).collect::<Vec<_>>(),
        [8, 8]
    );
    assert!(dcase.official_score.is_some_and(|s| s > 0.0 && s <= 1.0));
}
