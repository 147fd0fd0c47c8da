//! The reference detectors against scikit-learn, on fixtures made once by
//! tests/reference/make_detector_fixtures.py (no Python at test time).
use crate::common;

use earshot::features::Features;
use earshot::models::reference::{
    CovarianceKind, FitOptions, Fitted, Gmm, GmmConfig, KnnConfig, ReferenceConfig,
};
use serde_json::Value;

fn fixture() -> Value {
    let path = common::repo().join("tests/reference/sklearn/detectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn assert_rel(ours: &[f64], theirs: &[f64], tol: f64, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let rel = (a - b).abs() / b.abs().max(1.0);
        assert!(
            rel < tol,
            "{what}[{i}]: ours {a}, scikit-learn {b} (rel {rel:.2e})"
        );
    }
}

#[test]
fn em_from_the_same_start_matches_gaussian_mixture() {
    let fixture = fixture();
    for case in fixture["gmm"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let d = case["dims"].as_u64().unwrap() as usize;
        let kind = match case["covariance"].as_str().unwrap() {
            "full" => CovarianceKind::Full,
            _ => CovarianceKind::Diag,
        };
        let covariances: Vec<Vec<f64>> = case["covariances_init"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        let start = Gmm::from_covariances(
            d,
            kind,
            floats(&case["weights_init"]),
            floats(&case["means_init"]),
            &covariances,
        )
        .unwrap();
        let opts = FitOptions {
            components: covariances.len(),
            covariance: kind,
            reg_covar: 1e-3,
            max_iter: 100,
            tol: 1e-3,
            seed: 0,
        };
        let fitted = Gmm::fit_from(start, &floats(&case["x"]), &opts).unwrap();
        assert_eq!(
            fitted.iterations as u64,
            case["n_iter"].as_u64().unwrap(),
            "{name}: EM iterations"
        );
        assert_eq!(
            fitted.converged,
            case["converged"].as_bool().unwrap(),
            "{name}"
        );
        assert_rel(&fitted.weights, &floats(&case["weights"]), 1e-9, name);
        assert_rel(&fitted.means, &floats(&case["means"]), 1e-9, name);
        let scores = fitted.score_samples(&floats(&case["query"]));
        assert_rel(&scores, &floats(&case["score_samples"]), 1e-9, name);
    }
}

#[test]
fn a_converged_fit_from_our_own_start_reaches_scikit_learns_likelihood() {
    let c = &fixture()["converged"];
    let d = c["dims"].as_u64().unwrap() as usize;
    let x = floats(&c["x"]);
    let opts = FitOptions {
        components: 3,
        covariance: CovarianceKind::Full,
        reg_covar: 1e-3,
        max_iter: 500,
        tol: 1e-6,
        seed: 7,
    };
    let g = Gmm::fit(&x, d, &opts).unwrap();
    let mean: f64 = g.score_samples(&x).iter().sum::<f64>() / (x.len() / d) as f64;
    let theirs = c["mean_log_likelihood"].as_f64().unwrap();
    assert!(
        ((mean - theirs) / theirs).abs() < 1e-4,
        "ours {mean}, scikit-learn {theirs}"
    );
}

#[test]
fn knn_on_standardised_vectors_matches_nearest_neighbors() {
    let k = &fixture()["knn"];
    let d = k["dims"].as_u64().unwrap() as usize;
    // Each vector as a one-frame clip with the `mean` statistic: the vector itself.
    let clip = |v: &[f64]| Features {
        frames: 1,
        coeffs: d,
        data: v.iter().map(|&x| x as f32).collect(),
    };
    let train: Vec<Features> = floats(&k["train"]).chunks(d).map(clip).collect();
    let config: KnnConfig = toml::from_str("k = 3\nstats = [\"mean\"]").unwrap();
    let model = ReferenceConfig::Knn(&config)
        .fit(&train.iter().collect::<Vec<_>>(), 0)
        .unwrap();
    assert_rel(
        &model.standardizer.mean,
        &floats(&k["scaler_mean"]),
        1e-6,
        "scaler mean",
    );
    assert_rel(
        &model.standardizer.scale,
        &floats(&k["scaler_scale"]),
        1e-6,
        "scaler scale",
    );
    let scores: Vec<f64> = floats(&k["query"])
        .chunks(d)
        .map(|q| model.score(&clip(q))[0] as f64)
        .collect();
    // f32 features on the way in: agreement to single precision.
    assert_rel(&scores, &floats(&k["scores"]), 1e-5, "knn scores");
}

#[test]
fn bad_inputs_give_reasons_not_panics() {
    let clip = |v: Vec<f32>| Features {
        frames: v.len() / 2,
        coeffs: 2,
        data: v,
    };
    let two = [
        clip(vec![0.0, 1.0, 2.0, 3.0]),
        clip(vec![1.0, 1.0, 2.0, 5.0]),
    ];
    let refs: Vec<&Features> = two.iter().collect();
    let many: GmmConfig = toml::from_str("components = 5").unwrap();
    let err = ReferenceConfig::Gmm(&many).fit(&refs, 0).unwrap_err();
    assert!(
        err.contains("components is 5") && err.contains("1..=2"),
        "{err}"
    );
    let knn: KnnConfig = toml::from_str("k = 3").unwrap();
    let err = ReferenceConfig::Knn(&knn).fit(&refs, 0).unwrap_err();
    assert!(err.contains("k is 3"), "{err}");
    let nan = [
        clip(vec![0.0, f32::NAN, 2.0, 3.0]),
        clip(vec![1.0, 1.0, 2.0, 5.0]),
    ];
    let err = ReferenceConfig::Knn(&toml::from_str("k = 1").unwrap())
        .fit(&nan.iter().collect::<Vec<_>>(), 0)
        .unwrap_err();
    assert!(err.contains("NaN"), "{err}");
    // A constant feature: standardised to zero, kept invertible by reg_covar; scores finite.
    let constant: Vec<Features> = (0..6)
        .map(|i| clip(vec![1.0, i as f32, 1.0, (i * i) as f32]))
        .collect();
    let gmm: GmmConfig = toml::from_str("stats = [\"mean\"]").unwrap();
    let model = ReferenceConfig::Gmm(&gmm)
        .fit(&constant.iter().collect::<Vec<_>>(), 0)
        .unwrap();
    assert!(matches!(model.fitted, Fitted::Gmm(_)));
    assert!(model.score(&constant[0])[0].is_finite());
    let no_reg: GmmConfig = toml::from_str("stats = [\"mean\"]\nreg_covar = 0.0").unwrap();
    let err = ReferenceConfig::Gmm(&no_reg)
        .fit(&constant.iter().collect::<Vec<_>>(), 0)
        .unwrap_err();
    assert!(
        err.contains("singular") && err.contains("reg_covar"),
        "{err}"
    );
}
