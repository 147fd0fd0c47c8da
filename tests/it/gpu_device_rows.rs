//! Training frames built on the GPU from our WGSL kernels' own output: the
//! features stay on the device, are gathered into window rows and normalised
//! there, and must equal the host's normalised rows. Runs on lavapipe in CI,
//! on the real adapter on a GPU machine; without an adapter it skips locally
//! and fails under CI=true.
use crate::common;

use std::collections::HashSet;
use std::path::PathBuf;

use earshot::data::{self, LoadedClip, Normalization, Normalizer, RESIDENT_LIMIT_BYTES, WindowSet};
use earshot::features::cache::FeatureCache;
use earshot::features::{FeatureConfig, FeatureEngine};

/// 40 generated 1 s clips with three others of other lengths among them
/// (one shorter than a window, one real recording), 43 files: two GPU groups.
fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    common::synth_data(dir, 40, 1, 11);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("data/train/normal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 40);
    paths.insert(5, common::fixture("short_16k_pcm16.wav"));
    paths.insert(
        20,
        common::real_data().join("fsdd/train/normal/0_george_0.wav"),
    );
    paths.insert(36, common::fixture("chirp_16k_float.wav"));
    paths
}

fn gpu_engine(config: &FeatureConfig) -> Option<FeatureEngine> {
    match FeatureEngine::gpu_or_cpu(config).unwrap() {
        (engine, None) => Some(engine),
        (_, Some(e)) => {
            assert!(common::skip_without_wgpu(true, &e.to_string()));
            None
        }
    }
}

fn load(paths: &[PathBuf], engine: &FeatureEngine, budget: usize) -> Vec<LoadedClip> {
    load_cached(paths, engine, None, budget)
}

fn load_cached(
    paths: &[PathBuf],
    engine: &FeatureEngine,
    cache: Option<&FeatureCache>,
    budget: usize,
) -> Vec<LoadedClip> {
    let (clips, failures) = data::load_features(paths, engine, cache, &|| {}, budget);
    assert!(failures.is_empty(), "{failures:?}");
    clips
}

/// The host's rows of `clips` normalised and cut as `prepare` does.
fn host_set(clips: &[LoadedClip], normalizer: &Normalizer) -> WindowSet {
    let mut normalised: Vec<_> = clips.iter().map(|c| c.features.clone()).collect();
    for features in &mut normalised {
        normalizer.apply(&mut features.data);
    }
    WindowSet::cut(&normalised, 8, 3)
}

/// The files of [`files`] in a scratch folder, the GPU engine at default
/// settings, and their features kept on the device with the full budget.
fn loaded_on_device() -> Option<(
    tempfile::TempDir,
    Vec<PathBuf>,
    FeatureEngine,
    Vec<LoadedClip>,
)> {
    let tmp = tempfile::tempdir().unwrap();
    let paths = files(tmp.path());
    let engine = gpu_engine(&FeatureConfig::default())?;
    let clips = load(&paths, &engine, RESIDENT_LIMIT_BYTES);
    Some((tmp, paths, engine, clips))
}

#[test]
fn frames_built_on_the_gpu_equal_the_hosts_normalised_rows() {
    let Some((_tmp, _, _, clips)) = loaded_on_device() else {
        return;
    };
    assert_eq!(clips.len(), 43);
    assert!(clips.iter().all(|c| c.on_device.is_some()));
    let groups: HashSet<usize> = clips
        .iter()
        .map(|c| c.on_device.as_ref().unwrap().group)
        .collect();
    assert_eq!(
        groups.len(),
        2,
        "43 files make two GPU groups of at most 32"
    );

    for method in [Normalization::Zscore, Normalization::Global] {
        let normalizer = Normalizer::fit(method, 20, clips.iter().map(|c| &c.features));
        let set = host_set(&clips, &normalizer);
        let rows = data::device_rows(&set, &clips, &normalizer).expect("rows built on the GPU");
        assert_eq!(rows.dims(), [set.rows().len() / 20, 20]);
        let built = rows.into_data().try_to_vec::<f32>().unwrap();
        let worst = built
            .iter()
            .zip(set.rows())
            .map(|(b, h)| (b - h).abs() / h.abs().max(1.0))
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "{method:?}: worst difference {worst}");
    }
}

#[test]
fn clips_without_a_device_copy_leave_the_set_to_the_host() {
    let Some((tmp, paths, engine, all)) = loaded_on_device() else {
        return;
    };
    let normalizer = Normalizer::fit(Normalization::Zscore, 20, all.iter().map(|c| &c.features));
    let set = host_set(&all, &normalizer);

    // No budget: nothing kept.
    let none = load(&paths, &engine, 0);
    assert!(none.iter().all(|c| c.on_device.is_none()));
    assert!(data::device_rows(&set, &none, &normalizer).is_none());

    // A budget of the first group's tensor: the second group goes to the host
    // alone, and the set, which needs both, is not built on the device.
    let [count, max_frames, coeffs] = all[0].on_device.as_ref().unwrap().tensor.dims();
    let partial = load(&paths, &engine, count * max_frames * coeffs * 4);
    let kept: Vec<bool> = partial.iter().map(|c| c.on_device.is_some()).collect();
    assert_eq!(kept.iter().filter(|&&k| k).count(), 32, "{kept:?}");
    assert!(kept[..32].iter().all(|&k| k));
    assert!(data::device_rows(&set, &partial, &normalizer).is_none());

    // Features read from the cache are on the host: no device copy.
    let cache = FeatureCache::new(tmp.path().join("cache"));
    let _ = load_cached(&paths, &engine, Some(&cache), RESIDENT_LIMIT_BYTES);
    let cached = load_cached(&paths, &engine, Some(&cache), RESIDENT_LIMIT_BYTES);
    assert!(cached.iter().all(|c| c.on_device.is_none()));
    assert_eq!(
        host_set(&cached, &normalizer).rows(),
        set.rows(),
        "the cache holds what the GPU computed"
    );

    // Deltas change the features after extraction: they are finished on the host.
    let with_deltas = FeatureConfig {
        deltas: 1,
        ..FeatureConfig::default()
    };
    let engine = gpu_engine(&with_deltas).unwrap();
    let finished = load(&paths, &engine, RESIDENT_LIMIT_BYTES);
    assert!(finished.iter().all(|c| c.on_device.is_none()));
    assert_eq!(finished[0].features.coeffs, 40);
}
