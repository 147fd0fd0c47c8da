//! What the kernels' tests share: random inputs and the thread-count check.

use rand::RngExt;
use rand::rngs::StdRng;

/// `len` values uniform in `-scale .. scale`.
pub fn random(rng: &mut StdRng, len: usize, scale: f64) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(-scale..scale)).collect()
}

/// The float64 values as f32 (the kernels' inputs).
pub fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&v| v as f32).collect()
}

/// Asserts that `run` gives the same result on one thread and on three.
pub fn assert_same_on_1_and_3_threads<R: PartialEq + std::fmt::Debug + Send>(
    run: impl Fn() -> R + Send + Sync,
) {
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(&run)
    };
    assert_eq!(on(1), on(3));
}
