//! A wgpu device lost mid-training (lavapipe in CI): the trial ends as
//! failed with the device's reason, nothing panics, and the checkpoint of the
//! last whole epoch stays valid: the same run resumes from it on the CPU and
//! finishes. The device is lost for real: the test registers its own wgpu
//! device with burn and destroys it after the first epoch, which is what a
//! driver reset or an unplugged GPU does to wgpu.

#[path = "../common/mod.rs"]
mod common;

use burn::prelude::*;
use earshot::data::WindowSet;
use earshot::models::{DenseConfig, ModelConfig};
use earshot::train::{Outcome, TrainConfig, Trial, checkpoint, train_trial};

/// Windows of a few smooth signals, `count` of 8 frames x 6 coefficients.
fn windows(count: usize, phase: f32) -> WindowSet {
    let (frames, coeffs) = (8, 6);
    let data = (0..count * frames * coeffs)
        .map(|i| ((i as f32) * 0.37 + phase).sin())
        .collect();
    WindowSet::from_windows(frames, coeffs, data, (0..count).collect())
}

#[test]
fn a_lost_device_fails_the_trial_and_keeps_the_last_checkpoint() {
    // As `earshot` does for CPU runs (cli::fix_process_settings): burn loads a
    // checkpoint's optimiser state onto its default device, which would
    // otherwise be the wgpu device this test loses.
    // SAFETY: the only test in this binary, before it starts any thread.
    unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    let (device, setup) = match Device::wgpu_options().init_with_setup() {
        Ok(found) => found,
        Err(e) => {
            assert!(common::skip_without_wgpu(true, &e.to_string()));
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (train, valid) = (windows(96, 0.0), windows(32, 1.0));
    let model = ModelConfig::Dense(DenseConfig::default());
    let cfg = TrainConfig {
        epochs: 4,
        batch_size: 32,
        ..TrainConfig::default()
    };
    let mut trial = Trial {
        name: "dense",
        model: &model,
        train: &cfg,
        seed: 7,
        dir: dir.path(),
        device,
        resume: false,
        run_id: "run-1",
        pruner: None,
    };

    let result = train_trial(&trial, (&train, &valid), &mut |report| {
        if report.epoch == 1 {
            setup.device.destroy();
        }
    })
    .expect("a lost device is the trial's failure, not an error of the run");
    let Outcome::Failed { epoch, reason } = &result.outcome else {
        panic!("expected a failed trial, got {:?}", result.outcome);
    };
    assert_eq!(*epoch, 2, "{reason}");
    assert!(
        reason.contains("device") && reason.contains("checkpoint of epoch 1"),
        "{reason}"
    );
    assert_eq!(result.epochs_done, 1);
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    assert_eq!(last["status"], "failed", "{events}");
    assert_eq!(last["reason"], reason.as_str(), "{events}");

    let kept = checkpoint::latest(&dir.path().join("checkpoints"), Some("run-1"))
        .unwrap()
        .checkpoint
        .expect("the checkpoint of epoch 1");
    assert_eq!(kept.state.epochs_done, 1);

    // The same run continues from it on the CPU and finishes.
    trial.device = Device::flex();
    trial.resume = true;
    let resumed = train_trial(&trial, (&train, &valid), &mut |_| {}).unwrap();
    assert!(
        matches!(resumed.outcome, Outcome::Done { .. }),
        "{:?}",
        resumed.outcome
    );
    assert_eq!(resumed.epochs_done, 4);
    assert!(resumed.best_valid.is_finite() && resumed.model.is_some());
}
