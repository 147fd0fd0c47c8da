//! Fixed-length windows of consecutive feature frames: the models' samples.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::features::Features;

/// Windows `[count, frames, coeffs]`, each remembering the clip it came from.
///
/// Overlapping windows share their frames: the set keeps each clip's frames
/// once (`rows`, `[n_rows, coeffs]`) and every window as the row it starts
/// at, so a hop of 1 over 5-frame windows holds a fifth of the values, and a
/// GPU gathers batches from the rows where they lie.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSet {
    /// Frames per window.
    pub frames: usize,
    /// Coefficients per frame.
    pub coeffs: usize,
    rows: Vec<f32>,
    starts: Vec<usize>,
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
            rows: Vec::new(),
            starts: Vec::new(),
            clip: Vec::new(),
        };
        let hop = hop.max(1);
        for (index, clip) in clips.into_iter().enumerate() {
            set.coeffs = clip.coeffs;
            if clip.frames == 0 {
                continue;
            }
            let first_row = set.rows.len() / clip.coeffs.max(1);
            if clip.frames < frames {
                for t in 0..frames {
                    set.rows.extend_from_slice(clip.frame(t % clip.frames));
                }
                set.starts.push(first_row);
                set.clip.push(index);
                continue;
            }
            let windows = (clip.frames - frames) / hop + 1;
            // Frames after the last window belong to none: not kept.
            let used = (windows - 1) * hop + frames;
            set.rows.extend_from_slice(&clip.data[..used * clip.coeffs]);
            for w in 0..windows {
                set.starts.push(first_row + w * hop);
                set.clip.push(index);
            }
        }
        set
    }

    /// A set of windows given one after another (`count * frames * coeffs`
    /// values, no frames shared), from clips `clip`.
    pub fn from_windows(frames: usize, coeffs: usize, data: Vec<f32>, clip: Vec<usize>) -> Self {
        assert_eq!(
            data.len(),
            clip.len() * frames * coeffs,
            "one window of frames x coeffs per clip entry"
        );
        Self {
            frames,
            coeffs,
            rows: data,
            starts: (0..clip.len()).map(|i| i * frames).collect(),
            clip,
        }
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.clip.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.clip.is_empty()
    }

    /// Bytes of one window's values.
    pub fn window_bytes(&self) -> usize {
        self.frames * self.coeffs * std::mem::size_of::<f32>()
    }

    /// Window `i` as `[frames, coeffs]`.
    pub fn window(&self, i: usize) -> &[f32] {
        let start = self.starts[i] * self.coeffs;
        &self.rows[start..start + self.frames * self.coeffs]
    }

    /// The windows at `indices`, concatenated (a batch's host data).
    pub fn gather(&self, indices: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * self.frames * self.coeffs);
        for &i in indices {
            out.extend_from_slice(self.window(i));
        }
        out
    }

    /// The frames the windows are cut from, `[n_rows, coeffs]` row-major.
    pub fn rows(&self) -> &[f32] {
        &self.rows
    }

    /// Where each of [`Self::rows`] came from, as `(clip, frame)`, for a set
    /// made by [`Self::cut`], given the frame count of every clip it was cut
    /// from (in the order given): what a device builds the rows with from the clips'
    /// features where they already lie.
    pub fn row_origins(&self, clip_frames: &[usize]) -> Vec<(usize, usize)> {
        let mut origins = Vec::with_capacity(self.rows.len() / self.coeffs.max(1));
        let mut w = 0;
        while w < self.clip.len() {
            let clip = self.clip[w];
            let first_row = self.starts[w];
            let last = w + self.clip[w..].iter().take_while(|&&c| c == clip).count() - 1;
            let rows = self.starts[last] + self.frames - first_row;
            // A clip shorter than one window was wrapped around to fill it.
            let frames = clip_frames[clip].max(1);
            origins.extend((0..rows).map(|r| (clip, r % frames)));
            w = last + 1;
        }
        origins
    }

    /// The rows of the windows at `indices`, window after window: what a
    /// gather from [`Self::rows`] takes to build their batch.
    pub fn row_indices(&self, indices: &[usize]) -> Vec<usize> {
        indices
            .iter()
            .flat_map(|&i| self.starts[i]..self.starts[i] + self.frames)
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(frames: usize, coeffs: usize, offset: f32) -> Features {
        Features {
            frames,
            coeffs,
            data: (0..frames * coeffs).map(|i| offset + i as f32).collect(),
        }
    }

    #[test]
    fn overlapping_windows_share_rows_and_read_as_if_copied() {
        // 7 frames, windows of 3 every 2 frames: starts 0, 2, 4; frame 6 is
        // in the last window. A 2-frame clip wraps into one window of 3.
        let clips = [clip(7, 2, 0.0), clip(2, 2, 100.0), clip(4, 2, 200.0)];
        let set = WindowSet::cut(&clips, 3, 2);
        assert_eq!(set.len(), 3 + 1 + 1);
        assert_eq!(set.clip, [0, 0, 0, 1, 2]);
        // Hand-worked: window 1 of clip 0 is frames 2..5.
        assert_eq!(set.window(1), [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(set.window(3), [100.0, 101.0, 102.0, 103.0, 100.0, 101.0]);
        // Clip 2 (4 frames) has one window, frames 0..3; its frame 3 is dropped.
        assert_eq!(set.window(4), [200.0, 201.0, 202.0, 203.0, 204.0, 205.0]);
        assert_eq!(set.rows().len(), (7 + 3 + 3) * 2);
        let gathered = set.gather(&[4, 1]);
        let by_rows: Vec<f32> = set
            .row_indices(&[4, 1])
            .iter()
            .flat_map(|&r| set.rows()[r * 2..r * 2 + 2].to_vec())
            .collect();
        assert_eq!(gathered, by_rows);
        let copied = WindowSet::from_windows(3, 2, set.gather(&[0, 1, 2, 3, 4]), set.clip.clone());
        for i in 0..5 {
            assert_eq!(copied.window(i), set.window(i));
        }
    }

    #[test]
    fn row_origins_name_the_clip_frame_of_every_row() {
        // Clip 1 has no frames (no windows); clip 2 is wrapped.
        let clips = [
            clip(7, 2, 0.0),
            clip(0, 2, 50.0),
            clip(2, 2, 100.0),
            clip(4, 2, 200.0),
        ];
        let set = WindowSet::cut(&clips, 3, 2);
        let origins = set.row_origins(&[7, 0, 2, 4]);
        assert_eq!(origins.len() * 2, set.rows().len());
        let rebuilt: Vec<f32> = origins
            .iter()
            .flat_map(|&(c, t)| clips[c].frame(t).to_vec())
            .collect();
        assert_eq!(rebuilt, set.rows());
        assert_eq!(origins[7..10], [(2, 0), (2, 1), (2, 0)]);
    }
}
