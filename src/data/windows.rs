//! Fixed-length windows of consecutive feature frames: the models' samples.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::features::Features;

/// Windows `[count, frames, coeffs]`, each remembering the clip it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSet {
    /// Frames per window.
    pub frames: usize,
    /// Coefficients per frame.
    pub coeffs: usize,
    /// `count * frames * coeffs` values.
    pub data: Vec<f32>,
    /// Index of the source clip of each window.
    pub clip: Vec<usize>,
}

impl WindowSet {
    /// Cuts every clip into windows of `frames` with `hop`. A clip shorter than
    /// one window is wrapped around (repeated) to fill exactly one, so short
    /// sounds still count, with their own statistics.
    pub fn cut<'a>(
        clips: impl IntoIterator<Item = &'a Features>,
        frames: usize,
        hop: usize,
    ) -> Self {
        let mut set = Self {
            frames,
            coeffs: 0,
            data: Vec::new(),
            clip: Vec::new(),
        };
        for (index, clip) in clips.into_iter().enumerate() {
            set.coeffs = clip.coeffs;
            if clip.frames == 0 {
                continue;
            }
            if clip.frames < frames {
                for t in 0..frames {
                    set.data.extend_from_slice(clip.frame(t % clip.frames));
                }
                set.clip.push(index);
                continue;
            }
            let mut start = 0;
            while start + frames <= clip.frames {
                set.data.extend_from_slice(
                    &clip.data[start * clip.coeffs..(start + frames) * clip.coeffs],
                );
                set.clip.push(index);
                start += hop;
            }
        }
        set
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.clip.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.clip.is_empty()
    }

    /// Window `i` as `[frames, coeffs]`.
    pub fn window(&self, i: usize) -> &[f32] {
        let size = self.frames * self.coeffs;
        &self.data[i * size..(i + 1) * size]
    }

    /// The windows at `indices`, concatenated (a batch's host data).
    pub fn gather(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.frames * self.coeffs);
        for &i in indices {
            out.extend_from_slice(self.window(i));
        }
        out
    }
}

/// Splits `count` files into (train, valid) index lists, by a seeded shuffle.
/// At least one file stays in training; validation gets `round(count * fraction)`.
pub fn split_by_file(count: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let valid = ((count as f64 * fraction).round() as usize).min(count.saturating_sub(1));
    let valid_part = order.split_off(count - valid);
    (order, valid_part)
}
