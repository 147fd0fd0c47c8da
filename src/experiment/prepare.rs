//! Data for an experiment, prepared once for all its trials: files listed by
//! layout, features through the cache (in parallel, failures collected),
//! normalisation fitted on training files only, windows cut. Features our
//! WGSL kernels computed on the training device stay there too, and the
//! training and validation frames are built from them on the device.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Experiment, Progress, RunError, RunOptions};
use crate::data::{self, DataError, FileFailure, Label, LoadedClip, Normalizer, WindowSet};
use burn::prelude::{Device, Tensor};
use burn::tensor::DeviceKind;

use crate::features::{CpuExtractor, FeatureEngine, Features};

/// Prepared data: normalised windows for training, validation and test.
pub(super) struct Prepared {
    pub(super) normalizer: Normalizer,
    pub(super) train: WindowSet,
    pub(super) valid: WindowSet,
    pub(super) valid_clips: usize,
    pub(super) test: WindowSet,
    /// The training and validation sets' frames, normalised, on the training
    /// device when their features were extracted there (see
    /// [`data::device_rows`]); `None` where the host copy must go up instead.
    pub(super) device_rows: [Option<Tensor<2>>; 2],
    /// Path and label of each test clip, in window-set clip order.
    pub(super) test_clips: Vec<(PathBuf, Label)>,
    /// Normalised features of every clip, [train, valid, test], in window-set
    /// clip order (the reference detectors model whole clips and frames).
    pub(super) clip_features: [Vec<Features>; 3],
    pub(super) failures: Vec<FileFailure>,
    /// Which engine computed the features, in words.
    pub(super) features_device: String,
    /// The experiment's git commit and the dataset's fingerprint, once per run.
    pub(super) provenance: super::provenance::Provenance,
}

/// Our WGSL kernels when the run asks for them (training on wgpu), else the
/// CPU reference; a GPU that cannot take these settings falls back, said.
fn feature_engine(
    exp: &Experiment,
    opts: &RunOptions,
) -> Result<(FeatureEngine, String), RunError> {
    if opts.gpu_features {
        let (engine, why_not_gpu) = FeatureEngine::gpu_or_cpu(&exp.features)?;
        let name = match why_not_gpu {
            None => "wgpu (WGSL kernels)".to_string(),
            Some(e) => format!("cpu (GPU kernels unavailable: {e})"),
        };
        return Ok((engine, name));
    }
    Ok((
        FeatureEngine::Cpu(CpuExtractor::new(&exp.features)?),
        "cpu".into(),
    ))
}

pub(super) fn prepare(
    exp: &Experiment,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Prepared, RunError> {
    let (files, skipped) = exp.data.list()?;
    let engine = feature_engine(exp, opts)?;
    let (mut train_idx, valid_idx) =
        data::split_by_file(files.train.len(), exp.data.valid_fraction, exp.seed);
    if let Some(max) = exp.data.max_files {
        train_idx.truncate(max);
    }
    let pick = |idx: &[usize]| {
        idx.iter()
            .map(|&i| files.train[i].clone())
            .collect::<Vec<_>>()
    };
    let labels: HashMap<PathBuf, Label> = files.test.iter().cloned().collect();
    let groups = [
        pick(&train_idx),
        pick(&valid_idx),
        files.test.iter().map(|(p, _)| p.clone()).collect(),
    ];
    let total: usize = groups.iter().map(Vec::len).sum();
    let (git_commit, git_dirty) = opts
        .experiment_file
        .as_deref()
        .map_or((None, None), super::provenance::git_state);
    let provenance = super::provenance::Provenance {
        git_commit,
        git_dirty,
        dataset_fingerprint: super::provenance::dataset_fingerprint([
            &groups[0], &groups[1], &groups[2],
        ]),
        files: [groups[0].len(), groups[1].len(), groups[2].len()],
    };
    // The GPU kernels run on wgpu's default device: their output can stay for
    // training only when training runs there too. Test features are scored
    // from the host, so only training and validation keep theirs.
    let keeps = opts.gpu_features && opts.device == Device::wgpu(DeviceKind::DefaultDevice);
    let budget = |group: usize| {
        if keeps && group < 2 {
            data::RESIDENT_LIMIT_BYTES
        } else {
            0
        }
    };
    progress(Progress::Features);
    let done = AtomicUsize::new(0);
    let mut loaded: Vec<Vec<LoadedClip>> = Vec::new();
    let mut failures = skipped;
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let tick = || {
                let _ = tx.send(done.fetch_add(1, Ordering::Relaxed) + 1);
            };
            let out: Vec<_> = groups
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    data::load_features(g, &engine.0, opts.cache.as_ref(), &tick, budget(i))
                })
                .collect();
            drop(tx);
            out
        });
        for n in rx {
            progress(Progress::Files(n, total));
        }
        for (clips, fails) in worker.join().expect("feature worker") {
            loaded.push(clips);
            failures.extend(fails);
        }
    });
    let mut loaded = loaded.into_iter();
    let mut next = || loaded.next().unwrap_or_default();
    let (mut train_clips, mut valid_clips, mut test_clips) = (next(), next(), next());
    if train_clips.is_empty() {
        let detail = format!("all {} training files failed", groups[0].len());
        return Err(DataError::Empty {
            what: "training files",
            detail,
        }
        .into());
    }
    let normalizer = Normalizer::fit(
        exp.data.normalization,
        exp.features.model_coeffs(),
        train_clips.iter().map(|c| &c.features),
    );
    for clip in train_clips
        .iter_mut()
        .chain(valid_clips.iter_mut())
        .chain(test_clips.iter_mut())
    {
        normalizer.apply(&mut clip.features.data);
    }
    let cut = |clips: &[LoadedClip]| {
        WindowSet::cut(
            clips.iter().map(|c| &c.features),
            exp.data.frames,
            exp.data.hop,
        )
    };
    let (train, valid, test) = (cut(&train_clips), cut(&valid_clips), cut(&test_clips));
    let device_rows = [
        data::device_rows(&train, &train_clips, &normalizer),
        data::device_rows(&valid, &valid_clips, &normalizer),
    ];
    let test_labels = test_clips
        .iter()
        .map(|c| (c.path.clone(), labels[&c.path]))
        .collect();
    let features = |clips: Vec<LoadedClip>| clips.into_iter().map(|c| c.features).collect();
    Ok(Prepared {
        normalizer,
        train,
        valid,
        valid_clips: valid_clips.len(),
        test,
        device_rows,
        test_clips: test_labels,
        clip_features: [
            features(train_clips),
            features(valid_clips),
            features(test_clips),
        ],
        failures,
        features_device: engine.1,
        provenance,
    })
}
