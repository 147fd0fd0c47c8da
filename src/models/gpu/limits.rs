//! Loop iterations one thread of the model kernels runs, counted so that a
//! caller can ask [`crate::gpu::loops_fit`] whether the adapter's loop budget
//! holds them before it launches (burn's operations run where it would not).

/// Loop iterations of one thread of the dense-block kernels (the larger of
/// forward and backward, with room for the short loops the compiler keeps):
/// the product sixteen rows (or inputs) at a time, and passes over the rows.
pub fn dense_block_iterations(rows: usize, inputs: usize) -> usize {
    let forward = rows.div_ceil(16) * (inputs + 1) + 3 * rows;
    let backward = inputs.div_ceil(16) * (rows + 1) + 4 * rows;
    forward.max(backward) + 64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::SOFTWARE_LOOP_BUDGET;

    #[test]
    fn iteration_counts_grow_with_the_shapes_the_loops_run_over() {
        // The bench's first dense block, 64 rows of 640 inputs: the weight
        // gradient's 40 groups of inputs over the rows, and four passes.
        assert_eq!(dense_block_iterations(64, 640), 40 * 65 + 4 * 64 + 64);
        assert!(dense_block_iterations(64, 640) < SOFTWARE_LOOP_BUDGET);
        assert!(dense_block_iterations(4_096, 640) > SOFTWARE_LOOP_BUDGET);
    }
}
