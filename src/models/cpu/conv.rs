//! 2-D convolution and transposed convolution, forward and backward, on the CPU.
//!
//! Both are seen through one geometry: a *big* image (the convolution's input,
//! the transposed convolution's output) and a *small* grid of window positions
//! (the convolution's output, the transposed convolution's input). With
//! `cols = im2col(big)` (one row per `(channel, kh, kw)` of a window, one
//! column per window position) and the weight as a matrix
//! `W [small channels, big channels * kh * kw]` — burn's layout for both
//! `Conv2d` (`[out, in, kh, kw]`) and `ConvTranspose2d` (`[in, out, kh, kw]`):
//!
//! | | convolution | transposed convolution |
//! |---|---|---|
//! | forward | `small = W · cols(big)` | `big = col2im(Wᵀ · small)` |
//! | input gradient | `dbig = col2im(Wᵀ · dsmall)` | `dsmall = W · cols(dbig)` |
//! | weight gradient | `dW = dsmall · cols(big)ᵀ` | `dW = small · cols(dbig)ᵀ` |
//!
//! Tensors are NCHW. Samples are processed in chunks of [`CHUNK`] (a matmul
//! per chunk, in channel-major order) in parallel; weight gradients are summed
//! in chunk order, so results do not depend on the thread count.

use rayon::prelude::*;

use super::{Strided, matmul};

/// Samples per parallel chunk (fixed, for results independent of threads).
pub const CHUNK: usize = 8;

/// The two sides of one convolution and its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    /// Channels, height, width of the big image.
    pub big: [usize; 3],
    /// Channels, height, width of the small grid.
    pub small: [usize; 3],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl ConvGeometry {
    fn big_len(&self) -> usize {
        self.big.iter().product()
    }
    fn small_len(&self) -> usize {
        self.small.iter().product()
    }
    fn positions(&self) -> usize {
        self.small[1] * self.small[2]
    }
    /// Rows of `cols`: one per channel and kernel offset.
    fn patch(&self) -> usize {
        self.big[0] * self.kernel[0] * self.kernel[1]
    }
    /// The window size of a convolution `big -> small` (floor division, as burn).
    pub fn small_size(big: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
        (big + 2 * padding)
            .checked_sub(kernel)
            .map(|n| n / stride + 1)
    }

    fn check(&self, big: &[f32], small: &[f32], weight: &[f32]) {
        assert_eq!(big.len(), self.batch * self.big_len(), "big image shape");
        assert_eq!(
            small.len(),
            self.batch * self.small_len(),
            "small grid shape"
        );
        assert_eq!(weight.len(), self.small[0] * self.patch(), "weight shape");
        for axis in 0..2 {
            let want = Self::small_size(
                self.big[axis + 1],
                self.kernel[axis],
                self.stride[axis],
                self.padding[axis],
            );
            assert_eq!(
                want,
                Some(self.small[axis + 1]),
                "window count on axis {axis}"
            );
        }
    }

    /// `cols [patch, samples * positions]` of `samples` big images.
    fn im2col(&self, big: &[f32], samples: usize, cols: &mut [f32]) {
        let [c_n, h_n, w_n] = self.big;
        let [_, oh_n, ow_n] = self.small;
        let [kh_n, kw_n] = self.kernel;
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let width = samples * oh_n * ow_n;
        for c in 0..c_n {
            for kh in 0..kh_n {
                for kw in 0..kw_n {
                    let row = &mut cols[((c * kh_n + kh) * kw_n + kw) * width..][..width];
                    for s in 0..samples {
                        let plane = &big[(s * c_n + c) * h_n * w_n..][..h_n * w_n];
                        for oh in 0..oh_n {
                            let out = &mut row[(s * oh_n + oh) * ow_n..][..ow_n];
                            let ih = (oh * sh + kh).wrapping_sub(ph);
                            if ih >= h_n {
                                out.fill(0.0);
                                continue;
                            }
                            let line = &plane[ih * w_n..][..w_n];
                            for (ow, v) in out.iter_mut().enumerate() {
                                let iw = (ow * sw + kw).wrapping_sub(pw);
                                *v = if iw < w_n { line[iw] } else { 0.0 };
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds `cols` back into `samples` big images: the adjoint of [`Self::im2col`].
    fn col2im(&self, cols: &[f32], samples: usize, big: &mut [f32]) {
        let [c_n, h_n, w_n] = self.big;
        let [_, oh_n, ow_n] = self.small;
        let [kh_n, kw_n] = self.kernel;
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let width = samples * oh_n * ow_n;
        for c in 0..c_n {
            for kh in 0..kh_n {
                for kw in 0..kw_n {
                    let row = &cols[((c * kh_n + kh) * kw_n + kw) * width..][..width];
                    for s in 0..samples {
                        let plane = &mut big[(s * c_n + c) * h_n * w_n..][..h_n * w_n];
                        for oh in 0..oh_n {
                            let ih = (oh * sh + kh).wrapping_sub(ph);
                            if ih >= h_n {
                                continue;
                            }
                            let line = &mut plane[ih * w_n..][..w_n];
                            for (ow, v) in row[(s * oh_n + oh) * ow_n..][..ow_n].iter().enumerate()
                            {
                                let iw = (ow * sw + kw).wrapping_sub(pw);
                                if iw < w_n {
                                    line[iw] += v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `[samples, channels, positions]` to `[channels, samples * positions]` and back.
fn swap_outer(
    src: &[f32],
    samples: usize,
    channels: usize,
    positions: usize,
    to_channel_major: bool,
) -> Vec<f32> {
    let mut out = vec![0.0; src.len()];
    for s in 0..samples {
        for c in 0..channels {
            let sample_major = (s * channels + c) * positions;
            let channel_major = (c * samples + s) * positions;
            let (from, to) = if to_channel_major {
                (sample_major, channel_major)
            } else {
                (channel_major, sample_major)
            };
            out[to..to + positions].copy_from_slice(&src[from..from + positions]);
        }
    }
    out
}

/// Which side a call computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A convolution: big image in, small grid out.
    Conv,
    /// A transposed convolution: small grid in, big image out.
    Transposed,
}

/// The forward pass: `x` is the big image for [`Direction::Conv`], the small
/// grid for [`Direction::Transposed`]; `bias` has one value per output channel.
pub fn forward(
    g: ConvGeometry,
    direction: Direction,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (in_len, out_len, out_channels, out_plane) = match direction {
        Direction::Conv => (g.big_len(), g.small_len(), g.small[0], g.positions()),
        Direction::Transposed => (g.small_len(), g.big_len(), g.big[0], g.big[1] * g.big[2]),
    };
    match direction {
        Direction::Conv => g.check(x, &vec![0.0; g.batch * g.small_len()], weight),
        Direction::Transposed => g.check(&vec![0.0; g.batch * g.big_len()], x, weight),
    }
    if let Some(bias) = bias {
        assert_eq!(bias.len(), out_channels, "one bias per output channel");
    }
    let mut out = vec![0.0; g.batch * out_len];
    if g.batch == 0 {
        return out;
    }
    let (patch, positions, small_c) = (g.patch(), g.positions(), g.small[0]);
    out.par_chunks_mut(CHUNK * out_len)
        .zip(x.par_chunks(CHUNK * in_len))
        .for_each(|(out, x)| {
            let samples = out.len() / out_len;
            let width = samples * positions;
            match direction {
                Direction::Conv => {
                    let mut cols = vec![0.0; patch * width];
                    g.im2col(x, samples, &mut cols);
                    let mut small = vec![0.0; small_c * width];
                    let d = Strided::rows(small_c, width, 0, width);
                    matmul(
                        &mut small,
                        d,
                        weight,
                        Strided::rows(small_c, patch, 0, patch),
                        &cols,
                        Strided::rows(patch, width, 0, width),
                        false,
                    );
                    out.copy_from_slice(&swap_outer(&small, samples, small_c, positions, false));
                }
                Direction::Transposed => {
                    let small = swap_outer(x, samples, small_c, positions, true);
                    let mut cols = vec![0.0; patch * width];
                    let d = Strided::rows(patch, width, 0, width);
                    matmul(
                        &mut cols,
                        d,
                        weight,
                        Strided::rows(small_c, patch, 0, patch).t(),
                        &small,
                        Strided::rows(small_c, width, 0, width),
                        false,
                    );
                    g.col2im(&cols, samples, out);
                }
            }
            if let Some(bias) = bias {
                for (plane, b) in out.chunks_exact_mut(out_plane).zip(bias.iter().cycle()) {
                    plane.iter_mut().for_each(|v| *v += b);
                }
            }
        });
    out
}

/// Gradients of a loss with respect to the inputs of [`forward`].
#[derive(Debug, Clone)]
pub struct ConvGrads {
    pub x: Vec<f32>,
    pub weight: Vec<f32>,
    /// One per output channel.
    pub bias: Vec<f32>,
}

/// The backward pass for `grad_out`, the loss gradient of [`forward`]'s output.
pub fn backward(
    g: ConvGeometry,
    direction: Direction,
    x: &[f32],
    weight: &[f32],
    grad_out: &[f32],
) -> ConvGrads {
    let (big_len, small_len) = (g.big_len(), g.small_len());
    let (in_len, out_len, out_channels) = match direction {
        Direction::Conv => (big_len, small_len, g.small[0]),
        Direction::Transposed => (small_len, big_len, g.big[0]),
    };
    match direction {
        Direction::Conv => g.check(x, grad_out, weight),
        Direction::Transposed => g.check(grad_out, x, weight),
    }
    let (patch, positions, small_c) = (g.patch(), g.positions(), g.small[0]);
    let w = Strided::rows(small_c, patch, 0, patch);
    let mut grad_x = vec![0.0; x.len()];
    let partials: Vec<(Vec<f32>, Vec<f32>)> = grad_x
        .par_chunks_mut((CHUNK * in_len).max(1))
        .zip(x.par_chunks((CHUNK * in_len).max(1)))
        .zip(grad_out.par_chunks((CHUNK * out_len).max(1)))
        .map(|((grad_x, x), grad_out)| {
            let samples = x.len() / in_len;
            let width = samples * positions;
            let c = Strided::rows(patch, width, 0, width);
            let sm = Strided::rows(small_c, width, 0, width);
            let mut grad_w = vec![0.0; small_c * patch];
            let dw = Strided::rows(small_c, patch, 0, patch);
            let mut cols = vec![0.0; patch * width];
            let grad_b = match direction {
                Direction::Conv => {
                    g.im2col(x, samples, &mut cols);
                    let d_small = swap_outer(grad_out, samples, small_c, positions, true);
                    matmul(&mut grad_w, dw, &d_small, sm, &cols, c.t(), false);
                    let mut d_cols = cols;
                    matmul(&mut d_cols, c, weight, w.t(), &d_small, sm, false);
                    g.col2im(&d_cols, samples, grad_x);
                    d_small
                        .chunks_exact(width)
                        .map(|row| row.iter().sum())
                        .collect()
                }
                Direction::Transposed => {
                    g.im2col(grad_out, samples, &mut cols);
                    let small = swap_outer(x, samples, small_c, positions, true);
                    matmul(&mut grad_w, dw, &small, sm, &cols, c.t(), false);
                    let mut d_small = small;
                    matmul(&mut d_small, sm, weight, w, &cols, c, false);
                    grad_x
                        .copy_from_slice(&swap_outer(&d_small, samples, small_c, positions, false));
                    let plane = g.big[1] * g.big[2];
                    let mut sums = vec![0.0; out_channels];
                    for (k, p) in grad_out.chunks_exact(plane).enumerate() {
                        sums[k % out_channels] += p.iter().sum::<f32>();
                    }
                    sums
                }
            };
            (grad_w, grad_b)
        })
        .collect();
    let mut grad_weight = vec![0.0; small_c * patch];
    let mut grad_bias = vec![0.0; out_channels];
    for (w, b) in &partials {
        grad_weight.iter_mut().zip(w).for_each(|(acc, v)| *acc += v);
        grad_bias.iter_mut().zip(b).for_each(|(acc, v)| *acc += v);
    }
    ConvGrads {
        x: grad_x,
        weight: grad_weight,
        bias: grad_bias,
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
