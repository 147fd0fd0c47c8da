//! The feature extractor's WGSL kernels (`shaders/`): template values filled
//! per feature configuration (the launcher is [`crate::gpu::WgslKernel`]).

use super::super::{FeatureConfig, FeatureKind};
use crate::gpu::WgslKernel;

const STFT_POWER: &str = include_str!("../../../shaders/stft_power.wgsl");
const MEL_DB: &str = include_str!("../../../shaders/mel_db.wgsl");
const CLIP_MAX: &str = include_str!("../../../shaders/clip_max.wgsl");
const FINISH: &str = include_str!("../../../shaders/finish.wgsl");

/// Threads of the element-wise kernels (mel_db, finish).
pub(crate) const ELEMENTWISE_THREADS: u32 = 64;
/// Threads of the per-clip reduction.
pub(crate) const REDUCE_THREADS: u32 = 256;

/// Threads per workgroup of the STFT kernel: one butterfly each, at most 256.
pub(crate) fn stft_threads(n_fft: usize) -> u32 {
    (n_fft / 4).clamp(1, 256) as u32
}

/// The STFT and power spectrum, one frame a workgroup.
pub(crate) fn stft_power(config: &FeatureConfig) -> WgslKernel {
    let half = config.n_fft / 2;
    let threads = stft_threads(config.n_fft);
    let power_expr = if config.power == 2.0 {
        "return sq;".to_string()
    } else if config.power == 1.0 {
        "return sqrt(sq);".to_string()
    } else {
        format!("return pow(sq, {:?});", config.power / 2.0)
    };
    WgslKernel::new(
        "stft_power",
        STFT_POWER,
        vec![
            ("half", half.to_string()),
            ("log2_half", half.trailing_zeros().to_string()),
            ("bins", (half + 1).to_string()),
            ("threads", threads.to_string()),
            ("power_expr", power_expr),
        ],
        threads,
    )
}

/// The mel filterbank and dB conversion, one value a thread.
pub(crate) fn mel_db(config: &FeatureConfig) -> WgslKernel {
    WgslKernel::new(
        "mel_db",
        MEL_DB,
        vec![
            ("bins", (config.n_fft / 2 + 1).to_string()),
            ("n_mels", config.n_mels.to_string()),
            ("threads", ELEMENTWISE_THREADS.to_string()),
        ],
        ELEMENTWISE_THREADS,
    )
}

/// Each clip's largest dB value (for `top_db`), in bounded segments.
pub(crate) fn clip_max(config: &FeatureConfig) -> WgslKernel {
    WgslKernel::new(
        "clip_max",
        CLIP_MAX,
        vec![
            ("n_mels", config.n_mels.to_string()),
            ("threads", REDUCE_THREADS.to_string()),
        ],
        REDUCE_THREADS,
    )
}

/// The `top_db` floor and, for MFCC, the DCT.
pub(crate) fn finish(config: &FeatureConfig) -> WgslKernel {
    // top_db off: a floor far below any dB value.
    let top_db = config.top_db.unwrap_or(1.0e30);
    WgslKernel::new(
        "finish",
        FINISH,
        vec![
            ("n_mels", config.n_mels.to_string()),
            ("coeffs", config.coeffs().to_string()),
            ("mfcc", (config.kind == FeatureKind::Mfcc).to_string()),
            ("top_db", format!("{top_db:?}")),
            ("threads", ELEMENTWISE_THREADS.to_string()),
        ],
        ELEMENTWISE_THREADS,
    )
}

/// Values one `clip_max` thread scans at most: its loop stays far below
/// lavapipe's 65,535 iterations per invocation however long the clip.
const CLIP_MAX_PER_THREAD: usize = 64;

/// `clip_max`'s segments for clips given as (first row, rows) of `n_mels`
/// values each: `[clip, first value, values, 0]`, each at most one
/// workgroup's share; a clip of no rows has none.
pub(crate) fn clip_max_segments(clips: &[(usize, usize)], n_mels: usize) -> Vec<[u32; 4]> {
    let share = REDUCE_THREADS as usize * CLIP_MAX_PER_THREAD;
    let mut segments = Vec::new();
    for (clip, &(first_row, rows)) in clips.iter().enumerate() {
        let (first, values) = (first_row * n_mels, rows * n_mels);
        for start in (0..values).step_by(share) {
            let len = share.min(values - start);
            segments.push([clip as u32, (first + start) as u32, len as u32, 0]);
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_max_segments_cover_each_clip_once_in_bounded_shares() {
        let share = (REDUCE_THREADS as usize * CLIP_MAX_PER_THREAD) as u32;
        // Clip 0: rows 0..3 of 2 mels (6 values); clip 1: no rows; clip 2:
        // from row 3, two shares and two values (share + 1 rows of 2 mels).
        let segments = clip_max_segments(&[(0, 3), (3, 0), (3, share as usize + 1)], 2);
        assert_eq!(
            segments,
            vec![
                [0, 0, 6, 0],
                [2, 6, share, 0],
                [2, 6 + share, share, 0],
                [2, 6 + 2 * share, 2, 0],
            ]
        );
    }
}
