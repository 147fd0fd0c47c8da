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

use super::{Strided, chunk_slots, matmul, sum_in_order};
pub use crate::models::ops::conv::{ConvGeometry, Direction};

/// Samples per parallel chunk (fixed, for results independent of threads).
pub const CHUNK: usize = 8;

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
    fn check_window(&self, weight: &[f32]) {
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
        self.walk(samples, |row, count, inside| {
            let out = &mut cols[row..][..count];
            let Some((line, segment)) = inside else {
                out.fill(0.0);
                return;
            };
            out[..segment.lo].fill(0.0);
            out[segment.hi..].fill(0.0);
            let taken = big[line + segment.first..].iter().step_by(segment.stride);
            out[segment.lo..segment.hi]
                .iter_mut()
                .zip(taken)
                .for_each(|(v, x)| *v = *x);
        });
    }

    /// Adds `cols` back into `samples` big images: the adjoint of [`Self::im2col`].
    fn col2im(&self, cols: &[f32], samples: usize, big: &mut [f32]) {
        self.walk(samples, |row, _, inside| {
            if let Some((line, segment)) = inside {
                let from = &cols[row..][segment.lo..segment.hi];
                let into = big[line + segment.first..]
                    .iter_mut()
                    .step_by(segment.stride);
                into.zip(from).for_each(|(x, v)| *x += v);
            }
        });
    }

    /// Calls `visit(cols offset, positions, inside)` for every window row of
    /// `cols`, with `inside` the big offset of the image line it reads and the
    /// segment of it that lands inside the image, or `None` where the whole row
    /// falls in the padding. Which positions land inside depends only on the
    /// kernel offset, so it is worked out once per offset.
    fn walk(&self, samples: usize, mut visit: impl FnMut(usize, usize, Option<(usize, Segment)>)) {
        let [c_n, h_n, w_n] = self.big;
        let [_, oh_n, ow_n] = self.small;
        let [kh_n, kw_n] = self.kernel;
        let [sh, sw] = self.stride;
        let [ph, pw] = self.padding;
        let width = samples * oh_n * ow_n;
        for kh in 0..kh_n {
            let (oh_lo, oh_hi) = inside(oh_n, sh, kh, ph, h_n);
            for kw in 0..kw_n {
                let (lo, hi) = inside(ow_n, sw, kw, pw, w_n);
                let segment = Segment {
                    lo,
                    hi,
                    first: (lo * sw + kw).saturating_sub(pw),
                    stride: sw,
                };
                for c in 0..c_n {
                    let row = ((c * kh_n + kh) * kw_n + kw) * width;
                    for s in 0..samples {
                        let plane = (s * c_n + c) * h_n * w_n;
                        for oh in 0..oh_n {
                            let at = row + (s * oh_n + oh) * ow_n;
                            let inside = (oh_lo..oh_hi).contains(&oh) && lo < hi;
                            let line = inside.then(|| (plane + (oh * sh + kh - ph) * w_n, segment));
                            visit(at, ow_n, line);
                        }
                    }
                }
            }
        }
    }
}

/// The part of one window row inside the image: positions `lo..hi`
/// read the image line from `first` every `stride` values.
#[derive(Debug, Clone, Copy)]
struct Segment {
    lo: usize,
    hi: usize,
    first: usize,
    stride: usize,
}

/// The window positions `lo..hi` (of `count`) whose offset `k` lands inside
/// a line of `len` values: `0 <= i * stride + k - pad < len`.
fn inside(count: usize, stride: usize, k: usize, pad: usize, len: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(k).div_ceil(stride).min(count);
    let hi = (len + pad)
        .saturating_sub(k)
        .div_ceil(stride)
        .clamp(lo, count);
    (lo, hi)
}

/// `[samples, channels, positions]` to `[channels, samples * positions]`
/// (`to_channel_major`) or back, into `dst`.
fn swap_outer(
    src: &[f32],
    dst: &mut [f32],
    samples: usize,
    channels: usize,
    positions: usize,
    to_channel_major: bool,
) {
    for s in 0..samples {
        for c in 0..channels {
            let sample_major = (s * channels + c) * positions;
            let channel_major = (c * samples + s) * positions;
            let (from, to) = if to_channel_major {
                (sample_major, channel_major)
            } else {
                (channel_major, sample_major)
            };
            dst[to..to + positions].copy_from_slice(&src[from..from + positions]);
        }
    }
}

impl ConvGeometry {
    /// Values per sample of the input and of the output, and output channels.
    fn sides(&self, direction: Direction) -> (usize, usize, usize) {
        match direction {
            Direction::Conv => (self.big_len(), self.small_len(), self.small[0]),
            Direction::Transposed => (self.small_len(), self.big_len(), self.big[0]),
        }
    }

    fn check_call(&self, direction: Direction, x: &[f32], weight: &[f32], out: usize) {
        let (big, small) = match direction {
            Direction::Conv => (x.len(), out),
            Direction::Transposed => (out, x.len()),
        };
        assert_eq!(big, self.batch * self.big_len(), "big image shape");
        assert_eq!(small, self.batch * self.small_len(), "small grid shape");
        self.check_window(weight);
    }
}

/// A forward pass's output, and for a convolution the `cols` of each chunk,
/// which its backward pass needs again.
#[derive(Debug, Clone)]
pub struct ConvForward {
    /// The output, laid out as the call's output tensor.
    pub out: Vec<f32>,
    /// Each chunk's im2col of the big image (a convolution's; empty when not training).
    pub cols: Vec<Vec<f32>>,
}

/// The forward pass: `x` is the big image for [`Direction::Conv`], the small
/// grid for [`Direction::Transposed`]; `bias` has one value per output channel.
/// `keep_cols`: keep a convolution's im2col for [`backward`] (training);
/// without it memory stays one chunk's (inference).
pub fn forward(
    g: ConvGeometry,
    direction: Direction,
    (x, weight, bias): (&[f32], &[f32], Option<&[f32]>),
    keep_cols: bool,
) -> ConvForward {
    let (in_len, out_len, out_channels) = g.sides(direction);
    g.check_call(direction, x, weight, g.batch * out_len);
    if let Some(bias) = bias {
        assert_eq!(bias.len(), out_channels, "one bias per output channel");
    }
    let mut out = vec![0.0; g.batch * out_len];
    if g.batch == 0 {
        return ConvForward {
            out,
            cols: Vec::new(),
        };
    }
    let (patch, positions, small_c) = (g.patch(), g.positions(), g.small[0]);
    let w = Strided::rows(small_c, patch, 0, patch);
    let cols = out
        .par_chunks_mut(CHUNK * out_len)
        .zip(x.par_chunks(CHUNK * in_len))
        .map(|(out, x)| {
            let samples = out.len() / out_len;
            let width = samples * positions;
            let (c, sm) = (
                Strided::rows(patch, width, 0, width),
                Strided::rows(small_c, width, 0, width),
            );
            let mut cols = vec![0.0; patch * width];
            match direction {
                Direction::Conv => {
                    g.im2col(x, samples, &mut cols);
                    let mut small = vec![0.0; small_c * width];
                    matmul(&mut small, sm, weight, w, &cols, c, false);
                    swap_outer(&small, out, samples, small_c, positions, false);
                }
                Direction::Transposed => {
                    let mut small = vec![0.0; small_c * width];
                    swap_outer(x, &mut small, samples, small_c, positions, true);
                    matmul(&mut cols, c, weight, w.t(), &small, sm, false);
                    g.col2im(&cols, samples, out);
                    cols = Vec::new();
                }
            }
            if let Some(bias) = bias {
                let plane = out_len / out_channels;
                for (plane, b) in out.chunks_exact_mut(plane).zip(bias.iter().cycle()) {
                    plane.iter_mut().for_each(|v| *v += b);
                }
            }
            if keep_cols { cols } else { Vec::new() }
        })
        .collect();
    ConvForward { out, cols }
}

/// Gradients of a loss with respect to the inputs of [`forward`]; `x` is empty
/// when it was not asked for.
#[derive(Debug, Clone)]
pub struct ConvGrads {
    /// By the input (empty when not asked for).
    pub x: Vec<f32>,
    /// By the weight, in burn's layout.
    pub weight: Vec<f32>,
    /// One per output channel.
    pub bias: Vec<f32>,
}

/// The backward pass for `grad_out`, the loss gradient of [`forward`]'s
/// output; `cols` is what the forward pass kept (a convolution's only) and
/// `want_x` whether the input's gradient is needed (not for the data).
pub fn backward(
    g: ConvGeometry,
    direction: Direction,
    (x, weight, cols): (&[f32], &[f32], &[Vec<f32>]),
    grad_out: &[f32],
    want_x: bool,
) -> ConvGrads {
    let (in_len, out_len, out_channels) = g.sides(direction);
    g.check_call(direction, x, weight, grad_out.len());
    let (patch, positions, small_c) = (g.patch(), g.positions(), g.small[0]);
    let w = Strided::rows(small_c, patch, 0, patch);
    let dw = Strided::rows(small_c, patch, 0, patch);
    let mut grad_x = vec![0.0; if want_x { x.len() } else { 0 }];
    let slots = chunk_slots(&mut grad_x, CHUNK * in_len, g.batch.div_ceil(CHUNK), want_x);
    let partials: Vec<Vec<f32>> = slots
        .into_par_iter()
        .enumerate()
        .map(|(chunk, grad_x)| {
            let samples = CHUNK.min(g.batch - chunk * CHUNK);
            let width = samples * positions;
            let x = &x[chunk * CHUNK * in_len..][..samples * in_len];
            let grad_out = &grad_out[chunk * CHUNK * out_len..][..samples * out_len];
            let (c, sm) = (
                Strided::rows(patch, width, 0, width),
                Strided::rows(small_c, width, 0, width),
            );
            let mut grad_w = vec![0.0; small_c * patch];
            let mut small = vec![0.0; small_c * width];
            let grad_b = match direction {
                Direction::Conv => {
                    let cols = &cols[chunk];
                    swap_outer(grad_out, &mut small, samples, small_c, positions, true);
                    matmul(&mut grad_w, dw, &small, sm, cols, c.t(), false);
                    if let Some(grad_x) = grad_x {
                        let mut d_cols = vec![0.0; patch * width];
                        matmul(&mut d_cols, c, weight, w.t(), &small, sm, false);
                        g.col2im(&d_cols, samples, grad_x);
                    }
                    small
                        .chunks_exact(width)
                        .map(|row| row.iter().sum())
                        .collect()
                }
                Direction::Transposed => {
                    let mut cols = vec![0.0; patch * width];
                    g.im2col(grad_out, samples, &mut cols);
                    swap_outer(x, &mut small, samples, small_c, positions, true);
                    matmul(&mut grad_w, dw, &small, sm, &cols, c.t(), false);
                    if let Some(grad_x) = grad_x {
                        matmul(&mut small, sm, weight, w, &cols, c, false);
                        swap_outer(&small, grad_x, samples, small_c, positions, false);
                    }
                    let mut sums = vec![0.0; out_channels];
                    let plane = out_len / out_channels;
                    for (k, p) in grad_out.chunks_exact(plane).enumerate() {
                        sums[k % out_channels] += p.iter().sum::<f32>();
                    }
                    sums
                }
            };
            grad_w.extend(grad_b);
            grad_w
        })
        .collect();
    let [grad_weight, grad_bias]: [Vec<f32>; 2] =
        sum_in_order(&partials, &[small_c * patch, out_channels])
            .try_into()
            .expect("two parts");
    ConvGrads {
        x: grad_x,
        weight: grad_weight,
        bias: grad_bias,
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
