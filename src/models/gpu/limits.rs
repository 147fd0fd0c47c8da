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

/// Loop iterations of one thread of the recurrent kernels over `steps` steps
/// (`gates` gate columns per unit, `threads` a workgroup), counting every
/// loop the compiler might keep: per step the gates' dot products, the
/// backward pass's `dpre U^T`, the input copy and the unit loops.
pub fn recurrent_iterations(
    input: usize,
    hidden: usize,
    steps: usize,
    gates: usize,
    threads: usize,
) -> usize {
    let columns = gates * hidden;
    let per_step = columns.div_ceil(threads) * (hidden + 1)
        + hidden.div_ceil(threads) * (columns + 4)
        + input.div_ceil(threads)
        + 2;
    steps * per_step + 2 * hidden.div_ceil(threads) + 64
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
        // The bench's LSTM (hidden 64, 32 steps) fits; 2,000 steps do not.
        let lstm = |steps| recurrent_iterations(20, 64, steps, 4, 256);
        assert_eq!(lstm(1), 65 + 260 + 1 + 2 + 2 + 64);
        assert!(lstm(32) < SOFTWARE_LOOP_BUDGET);
        assert!(lstm(2_000) > SOFTWARE_LOOP_BUDGET);
    }
}
