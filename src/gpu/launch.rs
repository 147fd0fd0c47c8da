//! Our WGSL files (`shaders/`) as burn raw kernels: template values filled per
//! shape, cached by cubecl under a key of those values, launched on a grid of
//! workgroups that respects WebGPU's 65,535 per dimension.

use burn::backend::wgpu::{KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};

/// A WGSL file and the values of its `{{ placeholders }}`.
#[derive(Debug, Clone)]
pub struct WgslKernel {
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
    pub fn new(
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

    /// Launches on `client` with `workgroups` workgroups laid out on a 2-D grid
    /// (a dimension holds at most 65,535; see [`grid`]).
    pub fn launch(
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

/// Workgroups of `threads` for `values` values, one a thread, and the grid's
/// row width in workgroups: what a kernel indexing `(wg.x + wg.y * width) *
/// THREADS + lid` takes (rows counted in workgroups, never in threads).
pub fn per_value(values: usize, threads: u32) -> (u32, u32) {
    let groups = values.div_ceil(threads as usize) as u32;
    (groups, grid(groups).0)
}

/// Rows of at most 65,535 workgroups: (width, rows).
pub fn grid(workgroups: u32) -> (u32, u32) {
    const MAX: u32 = 65_535;
    let x = workgroups.clamp(1, MAX);
    (x, workgroups.div_ceil(x).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_keep_each_dimension_within_webgpu_limits() {
        assert_eq!(grid(0), (1, 1));
        assert_eq!(grid(10), (10, 1));
        assert_eq!(grid(65_535), (65_535, 1));
        assert_eq!(grid(65_536), (65_535, 2));
        assert_eq!(per_value(129, 64), (3, 3));
    }
}
