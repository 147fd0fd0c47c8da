//! A window set's frames built on the GPU from the features our WGSL kernels
//! left there: gathered into the set's row order and normalised on the
//! device, so training data extracted on a GPU never goes through the host
//! on its way to training. Only the row indices and the normaliser's
//! statistics go up.

use std::collections::HashMap;

use burn::prelude::*;

use super::{LoadedClip, Normalizer, WindowSet};

/// The largest set of frames kept on the device: WebGPU's default
/// storage-buffer binding limit, which every adapter meets (a larger buffer
/// could not be bound by the batch gather); larger sets go batch by batch
/// from the host.
pub const RESIDENT_LIMIT_BYTES: usize = 128 << 20;

/// The frames of `set`, which was cut from `clips` (in order), as a
/// `[n_rows, coeffs]` tensor normalised by `normalizer`, built where the
/// clips' features lie. `None` when a clip of the set has no device copy
/// (it came from the cache, or from the CPU), the copies' width differs from
/// the set's, or the set passes [`RESIDENT_LIMIT_BYTES`]: the caller then
/// uploads the host rows, which hold the same values.
pub fn device_rows(
    set: &WindowSet,
    clips: &[LoadedClip],
    normalizer: &Normalizer,
) -> Option<Tensor<2>> {
    if set.is_empty() || std::mem::size_of_val(set.rows()) > RESIDENT_LIMIT_BYTES {
        return None;
    }
    let coeffs = set.coeffs;
    // Each group's tensor once, flattened to rows, in the order first used.
    let mut parts: Vec<Tensor<2>> = Vec::new();
    let mut group_base: HashMap<usize, usize> = HashMap::new();
    let mut padded_rows = 0;
    let mut clip_base = vec![0usize; clips.len()];
    for (c, clip) in clips.iter().enumerate() {
        if clip.features.frames == 0 {
            continue; // no windows come from it
        }
        let on_device = clip.on_device.as_ref()?;
        let [count, max_frames, width] = on_device.tensor.dims();
        if width != coeffs || on_device.slot >= count || clip.features.frames > max_frames {
            return None;
        }
        let base = *group_base.entry(on_device.group).or_insert_with(|| {
            let rows = count * max_frames;
            parts.push(on_device.tensor.clone().reshape([rows, width]));
            padded_rows += rows;
            padded_rows - rows
        });
        clip_base[c] = base + on_device.slot * max_frames;
    }
    let index = |base: usize, frame: usize| i32::try_from(base + frame).ok();
    let clip_frames: Vec<usize> = clips.iter().map(|c| c.features.frames).collect();
    let ids = set
        .row_origins(&clip_frames)
        .into_iter()
        .map(|(c, frame)| index(clip_base[c], frame))
        .collect::<Option<Vec<i32>>>()?;
    let device = parts.first()?.device();
    let all = if parts.len() == 1 {
        parts.pop()?
    } else {
        Tensor::cat(parts, 0)
    };
    let count = ids.len();
    let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [count]), &device);
    let stat = |values: &[f32]| {
        Tensor::<2>::from_data(TensorData::new(values.to_vec(), [1, coeffs]), &device)
    };
    // The same expression as `Normalizer::apply`, so both give the same rounding.
    Some((all.select(0, ids) - stat(&normalizer.mean)) / stat(&normalizer.std))
}
