//! The .npy format and the feature cache.

use earshot::features::cache::FeatureCache;
use earshot::features::{FeatureConfig, FeatureKind, Features, npy};

#[test]
fn npy_header_is_what_numpy_writes_and_round_trips() {
    let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
    let mut bytes = Vec::new();
    npy::write_f32(&mut bytes, &[3, 4], &data).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!(
        (10 + header_len) % 64,
        0,
        "numpy aligns the data to 64 bytes"
    );
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"));
    assert!(header.ends_with('\n'));
    assert_eq!(bytes.len(), 10 + header_len + 48);
    assert_eq!(npy::read_f32(&bytes[..]).unwrap(), (vec![3, 4], data));
    assert!(npy::read_f32(&b"\x93NUMPX\x01\x00\x00\x00"[..]).is_err());
}

#[test]
fn cache_hits_for_the_same_file_and_config_only() {
    let tmp = tempfile::tempdir().unwrap();
    let audio = tmp.path().join("clip.wav");
    std::fs::write(&audio, b"pretend audio").unwrap();
    let cache = FeatureCache::new(tmp.path().join("cache"));
    let config = FeatureConfig::default();
    let features = Features {
        frames: 2,
        coeffs: 20,
        data: (0..40).map(|i| i as f32).collect(),
    };
    assert!(cache.get(&audio, &config).is_none());
    cache.put(&audio, &config, &features).unwrap();
    assert_eq!(cache.get(&audio, &config), Some(features.clone()));

    let logmel = FeatureConfig {
        kind: FeatureKind::Logmel,
        ..config.clone()
    };
    assert!(
        cache.get(&audio, &logmel).is_none(),
        "another config misses"
    );
    std::fs::write(&audio, b"pretend audio, edited and longer").unwrap();
    assert!(
        cache.get(&audio, &config).is_none(),
        "an edited file misses"
    );
}
