//! Hand-written CPU kernels for burn's Flex backend, used where burn's cost per
//! operation dominates a model: an LSTM over a whole sequence ([`lstm`]) is one
//! operation here instead of ~15 burn operations per time step, and a
//! convolution ([`conv`]) is im2col and one matmul per chunk of samples. Each kernel is
//! plain Rust over `f32` slices (tested against float64 references) and is
//! wired into autodiff by [`lstm_op`] and [`conv_op`] through burn's
//! backend-extension API; [`supported`] says where they run.

mod bridge;
pub mod conv;
pub mod conv_op;
pub mod gru;
pub mod gru_op;
pub mod lstm;
pub mod lstm_op;
#[cfg(test)]
mod test_util;

pub use bridge::{enabled_by_environment, set_enabled, supported, with_kernels};

/// Sequences per parallel chunk of the recurrent kernels: fixed, for results
/// independent of the thread count; 16 keeps the matmuls efficient and still
/// splits a batch of 64 four ways.
pub const SEQUENCE_CHUNK: usize = 16;

pub use crate::models::ops::SequenceDims;

/// Each parallel chunk's slice (`chunk_len` values) of a buffer written chunk
/// by chunk, or, when the buffer is not `wanted`, `None` for each of `chunks`.
fn chunk_slots(
    buf: &mut [f32],
    chunk_len: usize,
    chunks: usize,
    wanted: bool,
) -> Vec<Option<&mut [f32]>> {
    if wanted {
        buf.chunks_mut(chunk_len.max(1)).map(Some).collect()
    } else {
        (0..chunks).map(|_| None).collect()
    }
}

/// The sum of the chunks' partial results, each the concatenation of parts of
/// `sizes`, added in chunk order (the same numbers whatever the thread count).
fn sum_in_order(partials: &[Vec<f32>], sizes: &[usize]) -> Vec<Vec<f32>> {
    let mut sums: Vec<Vec<f32>> = sizes.iter().map(|&s| vec![0.0; s]).collect();
    for partial in partials {
        let mut rest = partial.as_slice();
        for sum in &mut sums {
            let (part, tail) = rest.split_at(sum.len());
            sum.iter_mut().zip(part).for_each(|(acc, v)| *acc += v);
            rest = tail;
        }
    }
    sums
}

/// Where a matrix lies in a slice: element `(r, c)` at `offset + r * row_stride + c * col_stride`.
#[derive(Debug, Clone, Copy)]
pub struct Strided {
    /// Rows of the view.
    pub rows: usize,
    /// Columns of the view.
    pub cols: usize,
    /// Index of its first value.
    pub offset: usize,
    /// Step between rows.
    pub row_stride: usize,
    /// Step between columns.
    pub col_stride: usize,
}

impl Strided {
    /// A row-major `rows x cols` matrix whose rows are `row_stride` apart.
    pub fn rows(rows: usize, cols: usize, offset: usize, row_stride: usize) -> Self {
        Self {
            rows,
            cols,
            offset,
            row_stride,
            col_stride: 1,
        }
    }

    /// The same elements read as the transpose.
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            offset: self.offset,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// One past the largest index it touches (0 when empty).
    fn end(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return 0;
        }
        self.offset + (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`, single-threaded
/// (callers parallelise over independent rows so results do not depend on the
/// thread count). Panics on mismatched shapes or a view past its slice: both
/// are bugs of the caller, never of user input.
pub fn matmul(
    dst: &mut [f32],
    d: Strided,
    lhs: &[f32],
    l: Strided,
    rhs: &[f32],
    r: Strided,
    accumulate: bool,
) {
    assert!(
        d.rows == l.rows && d.cols == r.cols && l.cols == r.rows,
        "matmul shapes {}x{} = {}x{} · {}x{}",
        d.rows,
        d.cols,
        l.rows,
        l.cols,
        r.rows,
        r.cols
    );
    assert!(d.end() <= dst.len() && l.end() <= lhs.len() && r.end() <= rhs.len());
    if d.rows == 0 || d.cols == 0 {
        return;
    }
    if l.cols == 0 {
        if !accumulate {
            for i in 0..d.rows {
                for j in 0..d.cols {
                    dst[d.offset + i * d.row_stride + j * d.col_stride] = 0.0;
                }
            }
        }
        return;
    }
    // SAFETY: every index gemm touches lies within the views, checked above,
    // and `dst` does not alias `lhs` or `rhs` (distinct borrows).
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            l.cols,
            dst.as_mut_ptr().add(d.offset),
            d.col_stride as isize,
            d.row_stride as isize,
            accumulate,
            lhs.as_ptr().add(l.offset),
            l.col_stride as isize,
            l.row_stride as isize,
            rhs.as_ptr().add(r.offset),
            r.col_stride as isize,
            r.row_stride as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Runs `f` compiled for AVX2 and FMA where the CPU has them, so the loops
/// inside it vectorise 8 wide instead of SSE2's 4 (the same results: Rust does
/// not contract `a * b + c` into an FMA on its own).
#[inline(always)]
pub fn with_wide_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn wide<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features `wide` is compiled for.
            return unsafe { wide(f) };
        }
    }
    f()
}

/// `e^x` for `f32` without a libm call, so loops over it vectorise: `x = n ln2 + r`
/// with `|r| <= ln2 / 2`, `e^r` by its Taylor series to degree 7 (relative error
/// below 2e-8 on that interval, under f32 rounding), `2^n` through the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so n * LN2_HI is exact for |n| < 2^11.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    // `shifted` keeps ROUND's exponent, so its bits minus ROUND's bits are n:
    // an integer without a float-to-int conversion (scalar on x86).
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((k + 127) as u32) << 23)
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x = 2 sigmoid(2x) - 1`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp(-2.0 * x)) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_sigmoid_tanh_match_float64() {
        let mut worst = [0.0f64; 3];
        for i in -20_000..=20_000 {
            let x = i as f32 * 0.004; // -80 .. 80
            let xd = x as f64;
            let rel = |a: f32, b: f64| ((a as f64 - b) / b.abs().max(1e-30)).abs();
            worst[0] = worst[0].max(rel(exp(x), xd.exp()));
            worst[1] = worst[1].max((sigmoid(x) as f64 - 1.0 / (1.0 + (-xd).exp())).abs());
            worst[2] = worst[2].max((tanh(x) as f64 - xd.tanh()).abs());
        }
        assert!(worst[0] < 5e-7, "exp relative error {}", worst[0]);
        assert!(worst[1] < 2e-7, "sigmoid absolute error {}", worst[1]);
        assert!(worst[2] < 4e-7, "tanh absolute error {}", worst[2]);
        assert_eq!(exp(-200.0), exp(-87.0));
        assert!(exp(200.0).is_finite());
    }

    #[test]
    fn matmul_with_transposed_and_strided_views() {
        // a: 2x3 row-major, b: 3x2 stored as its transpose (2x3), dst inside a wider row.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let bt = [7.0, 9.0, 11.0, 8.0, 10.0, 12.0];
        let mut dst = [100.0; 8];
        let d = Strided::rows(2, 2, 1, 4);
        matmul(
            &mut dst,
            d,
            &a,
            Strided::rows(2, 3, 0, 3),
            &bt,
            Strided::rows(2, 3, 0, 3).t(),
            false,
        );
        assert_eq!(dst, [100.0, 58.0, 64.0, 100.0, 100.0, 139.0, 154.0, 100.0]);
        matmul(
            &mut dst,
            d,
            &a,
            Strided::rows(2, 3, 0, 3),
            &bt,
            Strided::rows(2, 3, 0, 3).t(),
            true,
        );
        assert_eq!(dst[1], 116.0);
    }
}
