//! Our WGSL kernels (`shaders/`) as burn raw kernels: template values filled
//! per feature configuration, cached by cubecl under a key of those values.

use burn::backend::wgpu::{KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};

use super::super::{FeatureConfig, FeatureKind};

const STFT_POWER: &str = include_str!("../../../shaders/stft_power.wgsl");
const MEL_DB: &str = include_str!("../../../shaders/mel_db.wgsl");
const CLIP_MAX: &str = include_str!("../../../shaders/clip_max.wgsl");
const FINISH: &str = include_str!("../../../shaders/finish.wgsl");

/// Threads of the element-wise kernels (mel_db, finish).
pub(crate) const ELEMENTWISE_THREADS: u32 = 64;
/// Threads of the per-clip reduction.
pub(crate) const REDUCE_THREADS: u32 = 256;

/// A WGSL file and the values of its `{{ placeholders }}`.
#[derive(Debug, Clone)]
pub(crate) struct WgslKernel {
    name: &'static str,
    source: &'static str,
    values: Vec<(&'static str, String)>,
    threads: u32,
}

impl KernelSource for WgslKernel {
    fn source(&self) -> SourceTemplate {
        self.values
            .iter()
            .fold(SourceTemplate::new(self.source), |t, (k, v)| {
                t.register(*k, v.clone())
            })
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((self.name, self.values.clone()))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

impl WgslKernel {
    /// A kernel from `source` (a `shaders/` file) with its placeholder
    /// `values`, launched with `threads` per workgroup.
    pub(crate) fn new(
        name: &'static str,
        source: &'static str,
        values: Vec<(&'static str, String)>,
        threads: u32,
    ) -> Self {
        Self {
            name,
            source,
            values,
            threads,
        }
    }

    /// Threads per workgroup of the STFT kernel: one butterfly each, at most 256.
    pub(crate) fn stft_threads(n_fft: usize) -> u32 {
        (n_fft / 4).clamp(1, 256) as u32
    }

    pub(crate) fn stft_power(config: &FeatureConfig) -> Self {
        let half = config.n_fft / 2;
        let threads = Self::stft_threads(config.n_fft);
        let power_expr = if config.power == 2.0 {
            "return sq;".to_string()
        } else if config.power == 1.0 {
            "return sqrt(sq);".to_string()
        } else {
            format!("return pow(sq, {:?});", config.power / 2.0)
        };
        Self {
            name: "stft_power",
            source: STFT_POWER,
            values: vec![
                ("half", half.to_string()),
                ("log2_half", half.trailing_zeros().to_string()),
                ("bins", (half + 1).to_string()),
                ("threads", threads.to_string()),
                ("power_expr", power_expr),
            ],
            threads,
        }
    }

    pub(crate) fn mel_db(config: &FeatureConfig) -> Self {
        Self {
            name: "mel_db",
            source: MEL_DB,
            values: vec![
                ("bins", (config.n_fft / 2 + 1).to_string()),
                ("n_mels", config.n_mels.to_string()),
                ("threads", ELEMENTWISE_THREADS.to_string()),
            ],
            threads: ELEMENTWISE_THREADS,
        }
    }

    pub(crate) fn clip_max(config: &FeatureConfig) -> Self {
        Self {
            name: "clip_max",
            source: CLIP_MAX,
            values: vec![
                ("n_mels", config.n_mels.to_string()),
                ("threads", REDUCE_THREADS.to_string()),
            ],
            threads: REDUCE_THREADS,
        }
    }

    pub(crate) fn finish(config: &FeatureConfig) -> Self {
        // top_db off: a floor far below any dB value.
        let top_db = config.top_db.unwrap_or(1.0e30);
        Self {
            name: "finish",
            source: FINISH,
            values: vec![
                ("n_mels", config.n_mels.to_string()),
                ("coeffs", config.coeffs().to_string()),
                ("mfcc", (config.kind == FeatureKind::Mfcc).to_string()),
                ("top_db", format!("{top_db:?}")),
                ("threads", ELEMENTWISE_THREADS.to_string()),
            ],
            threads: ELEMENTWISE_THREADS,
        }
    }

    /// Launches on `client` with `workgroups` workgroups laid out on a 2-D grid
    /// (a dimension holds at most 65,535); returns the grid's row width in workgroups.
    pub(crate) fn launch(
        self,
        client: &burn::cubecl::client::Client,
        workgroups: u32,
        bindings: KernelArguments,
    ) {
        let (x, y) = grid(workgroups);
        let threads = self.threads;
        client.launch(
            Box::new(SourceKernel::new(self, CubeDim::new_1d(threads))),
            CubeCount::Static(x, y, 1),
            bindings,
        );
    }
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

/// Workgroups of `threads` for `values` values, one a thread, and the grid's
/// row width in workgroups: what a kernel indexing `(wg.x + wg.y * width) *
/// THREADS + lid` takes (rows counted in workgroups, never in threads).
pub(crate) fn per_value(values: usize, threads: u32) -> (u32, u32) {
    let groups = values.div_ceil(threads as usize) as u32;
    (groups, grid(groups).0)
}

/// Rows of at most 65,535 workgroups: (width, rows).
pub(crate) fn grid(workgroups: u32) -> (u32, u32) {
    const MAX: u32 = 65_535;
    let x = workgroups.clamp(1, MAX);
    (x, workgroups.div_ceil(x).max(1))
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
