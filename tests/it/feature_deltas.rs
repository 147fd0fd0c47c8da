//! `[features] deltas` against librosa.feature.delta on librosa's own MFCC
//! (fixtures made once by tests/reference/make_delta_fixtures.py).
use crate::common;

use earshot::features::Features;
use earshot::features::deltas::{delta, with_deltas};

#[test]
fn deltas_match_librosa_within_1e_4() {
    for case in [
        "chirp_default",
        "chirp_win400",
        "fsdd_anomaly_8k",
        "fsdd_normal_8k",
    ] {
        let dir = common::repo().join("tests/reference/librosa");
        let (shape, data) = common::read_npy(&dir.join(format!("{case}_mfcc.npy")));
        let mfcc = Features {
            frames: shape[0],
            coeffs: shape[1],
            data,
        };
        for (suffix, frames) in [("mfcc_delta", mfcc.frames), ("mfcc6_delta", 6)] {
            let clip = Features {
                frames,
                coeffs: mfcc.coeffs,
                data: mfcc.data[..frames * mfcc.coeffs].to_vec(),
            };
            let (_, reference) = common::read_npy(&dir.join(format!("{case}_{suffix}.npy")));
            let c = clip.coeffs;
            let stacked = with_deltas(clip.clone(), 2);
            assert_eq!(stacked.coeffs, 3 * c);
            for order in [1u8, 2] {
                let ours = delta(&clip, order);
                let theirs: Vec<f32> = reference
                    .chunks(2 * c)
                    .flat_map(|row| row[(order as usize - 1) * c..order as usize * c].to_vec())
                    .collect();
                let err = common::relative_max_error(&ours, &theirs);
                assert!(err <= 1e-4, "{case} {suffix} order {order}: {err:.2e}");
                // The stacked layout holds the same values after the coefficients.
                let in_stack: Vec<f32> = stacked
                    .data
                    .chunks(3 * c)
                    .flat_map(|row| row[order as usize * c..(order as usize + 1) * c].to_vec())
                    .collect();
                assert_eq!(in_stack, ours);
            }
        }
    }
}

#[test]
fn deltas_reach_the_models_and_are_refused_above_2() {
    let config: earshot::features::FeatureConfig =
        toml::from_str("deltas = 2\nkind = \"mfcc\"\nn_mfcc = 13").unwrap();
    assert_eq!(config.model_coeffs(), 39);
    let bad: earshot::features::FeatureConfig = toml::from_str("deltas = 3").unwrap();
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("deltas") && err.contains("0, 1 or 2"), "{err}");
}
