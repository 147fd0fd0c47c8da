//! Detector metrics against scikit-learn (tests/reference/make_sklearn_fixtures.py).

mod common;

use earshot::eval::{ClipScore, Confusion, clip_scores, partial_auc, percentile, roc_auc};

fn close(a: f64, b: f64, what: &str, case: &str) {
    assert!(
        (a - b).abs() < 1e-9,
        "{case} {what}: ours {a} vs scikit-learn {b}"
    );
}

#[test]
fn metrics_match_scikit_learn() {
    let path = common::repo().join("tests/reference/sklearn/metrics.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let scores: Vec<f64> = case["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let labels: Vec<bool> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap() == 1)
            .collect();
        let f = |k: &str| case[k].as_f64().unwrap();
        close(roc_auc(&scores, &labels).unwrap(), f("auc"), "auc", name);
        close(
            partial_auc(&scores, &labels, 0.1).unwrap(),
            f("pauc"),
            "pauc",
            name,
        );
        let c = Confusion::at(&scores, &labels, f("threshold"));
        let counts = [
            c.true_positive,
            c.false_positive,
            c.true_negative,
            c.false_negative,
        ];
        let expected = ["tp", "fp", "tn", "fn"].map(|k| case[k].as_u64().unwrap() as usize);
        assert_eq!(counts, expected, "{name} confusion");
        close(c.precision(), f("precision"), "precision", name);
        close(c.recall(), f("recall"), "recall", name);
        close(c.f1(), f("f1"), "f1", name);
        close(percentile(&scores, 90.0).unwrap(), f("p90"), "p90", name);
        close(percentile(&scores, 50.0).unwrap(), f("p50"), "p50", name);
    }
}

#[test]
fn auc_is_undefined_with_one_class() {
    assert_eq!(roc_auc(&[0.1, 0.5], &[false, false]), None);
    assert_eq!(partial_auc(&[0.1, 0.5], &[true, true], 0.1), None);
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn clip_scores_reduce_windows() {
    let scores = clip_scores(&[1.0, 3.0, 5.0, 2.0], &[0, 0, 2, 2], 3, ClipScore::Mean);
    assert_eq!(scores, vec![Some(2.0), None, Some(3.5)]);
    let worst = clip_scores(&[1.0, 3.0, 5.0, 2.0], &[0, 0, 2, 2], 3, ClipScore::Max);
    assert_eq!(worst, vec![Some(3.0), None, Some(5.0)]);
}
