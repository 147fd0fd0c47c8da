//! The bottom floor for every hand-written WGSL kernel: the launcher
//! ([`WgslKernel`], workgroup grids), what the adapter allows (bindings, the
//! software drivers' loop budget), the process-wide kernel switches, and output
//! buffers. `features` and
//! `models` (and the optimiser in `train`) launch their kernels through this
//! room; none of them imports another for plumbing.

mod device;
mod launch;
pub mod switch;
mod tensor;

pub use device::{
    SOFTWARE_LOOP_BUDGET, loop_budget, loops_fit, max_bindings, on_gpu, set_enabled, supported,
    with_kernels,
};
pub use launch::{WgslKernel, grid, per_value};
pub use tensor::empty;
