//! Detector metrics against scikit-learn (tests/reference/make_sklearn_fixtures.py).
use crate::common;

use earshot::eval::{
    ClipScore, Confusion, Gamma, Pooling, clip_scores, max_f1_threshold, partial_auc, percentile,
    roc_auc,
};

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
    let pool = |how, top_k, percentile| Pooling {
        how,
        top_k,
        percentile,
    };
    let scores = clip_scores(
        &[1.0, 3.0, 5.0, 2.0],
        &[0, 0, 2, 2],
        3,
        pool(ClipScore::Mean, 3, 0.0),
    );
    assert_eq!(scores, vec![Some(2.0), None, Some(3.5)]);
    let worst = clip_scores(
        &[1.0, 3.0, 5.0, 2.0],
        &[0, 0, 2, 2],
        3,
        pool(ClipScore::Max, 3, 0.0),
    );
    assert_eq!(worst, vec![Some(3.0), None, Some(5.0)]);
    // Top-2 mean of [4, 1, 6, 2] is (6 + 4) / 2; a clip with fewer windows uses them all.
    let top = clip_scores(
        &[4.0, 1.0, 6.0, 2.0, 7.0],
        &[0, 0, 0, 0, 1],
        2,
        pool(ClipScore::TopkMean, 2, 0.0),
    );
    assert_eq!(top, vec![Some(5.0), Some(7.0)]);
    // numpy.percentile([4, 1, 6, 2], 90) = 5.4 (linear interpolation: 4 + 0.7 * (6 - 4)).
    let p90 = clip_scores(
        &[4.0, 1.0, 6.0, 2.0, 7.0],
        &[0, 0, 0, 0, 1],
        2,
        pool(ClipScore::Percentile, 1, 90.0),
    );
    assert!((p90[0].unwrap() - 5.4).abs() < 1e-12, "{p90:?}");
    assert_eq!(p90[1], Some(7.0));
}

#[test]
fn gamma_fit_and_quantiles_match_scipy() {
    let path = common::repo().join("tests/reference/sklearn/metrics.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = fixture["gamma"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let values: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let g = Gamma::fit(&values).unwrap();
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
        let f = |k: &str| case[k].as_f64().unwrap();
        // scipy's optimiser stops at ~1e-5 relative; ours solves the likelihood equation exactly.
        assert!(
            rel(g.shape, f("shape")) < 1e-4,
            "{name} shape {} vs {}",
            g.shape,
            f("shape")
        );
        assert!(
            rel(g.scale, f("scale")) < 1e-4,
            "{name} scale {} vs {}",
            g.scale,
            f("scale")
        );
        assert!(
            rel(g.quantile(0.9), f("q90")) < 1e-4,
            "{name} q90 {} vs {}",
            g.quantile(0.9),
            f("q90")
        );
        assert!(rel(g.quantile(0.99), f("q99")) < 1e-4, "{name} q99");
    }
    assert!(Gamma::fit(&[1.0]).is_none(), "one value has no spread");
    assert!(
        Gamma::fit(&[2.0, 2.0, 2.0]).is_none(),
        "equal values have no spread"
    );
}

#[test]
fn max_f1_threshold_is_the_best_cut() {
    // Hand-worked: cutting between 0.7 and 0.8 flags both anomalies and nothing
    // else (F1 1); cutting below 0.7 adds a false alarm (F1 0.8).
    let scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9];
    let labels = [false, false, false, false, true, true];
    let t = max_f1_threshold(&scores, &labels).unwrap();
    assert!(t > 0.7 && t < 0.8, "{t}");
    assert_eq!(Confusion::at(&scores, &labels, t).f1(), 1.0);
    assert_eq!(max_f1_threshold(&scores, &[false; 6]), None);
    // Overlapping classes: 0.6 is an anomaly below a normal 0.65.
    let scores = [0.1, 0.6, 0.65, 0.7, 0.9];
    let labels = [false, true, false, true, true];
    let t = max_f1_threshold(&scores, &labels).unwrap();
    // Cut below 0.6: TP 3 FP 1 -> F1 6/7 = 0.857; cut at 0.675: TP 2 FP 0 FN 1 -> F1 0.8.
    assert!(t > 0.1 && t < 0.6, "{t}");
    assert!((Confusion::at(&scores, &labels, t).f1() - 6.0 / 7.0).abs() < 1e-12);
}
