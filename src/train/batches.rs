//! Where batches of windows come from. On a GPU the frames the windows are
//! cut from live on the device, and each batch is cut and gathered there
//! (one small upload of row indices and one dispatch), so an epoch moves
//! almost nothing across PCIe and overlapping windows take no more device
//! memory than their frames. The frames are built there from the features
//! our WGSL kernels left on the same device when a run has them
//! ([`TrialData::on_device`]), else uploaded once. On the CPU, and for sets
//! past [`RESIDENT_LIMIT_BYTES`], each batch is copied from the host. All
//! three give the same values.

use burn::prelude::*;

use crate::data::WindowSet;
use crate::gpu;

pub use crate::data::RESIDENT_LIMIT_BYTES;

/// What one trial trains and validates on.
#[derive(Clone, Copy)]
pub struct TrialData<'a> {
    /// The training windows.
    pub train: &'a WindowSet,
    /// The validation windows.
    pub valid: &'a WindowSet,
    /// Each set's frames already on a device, `[train, valid]`, as
    /// [`crate::data::device_rows`] builds them; used when that device is the
    /// trial's.
    pub on_device: [Option<&'a Tensor<2>>; 2],
}

impl<'a> From<(&'a WindowSet, &'a WindowSet)> for TrialData<'a> {
    fn from((train, valid): (&'a WindowSet, &'a WindowSet)) -> Self {
        Self {
            train,
            valid,
            on_device: [None, None],
        }
    }
}

impl<'a> TrialData<'a> {
    /// Training batches (with autodiff) and validation batches on `device`.
    pub fn batches(&self, device: &Device) -> (Batches<'a>, Batches<'a>) {
        let on = |set: &'a WindowSet, rows: Option<&Tensor<2>>, autodiff: bool| match rows
            .filter(|r| r.device() == *device)
        {
            Some(rows) if autodiff => {
                Batches::from_device_rows(set, Tensor::from_inner(rows.clone()))
            }
            Some(rows) => Batches::from_device_rows(set, rows.clone()),
            None if autodiff => Batches::new(set, &device.clone().autodiff()),
            None => Batches::new(set, device),
        };
        (
            on(self.train, self.on_device[0], true),
            on(self.valid, self.on_device[1], false),
        )
    }
}

/// Batches of one window set on one device.
pub struct Batches<'a> {
    set: &'a WindowSet,
    device: Device,
    /// The set's frames, `[n_rows, coeffs]`, when they live on the device.
    resident: Option<Tensor<2>>,
    /// Whether those frames were built on the device (nothing uploaded).
    built_on_device: bool,
}

impl<'a> Batches<'a> {
    /// Batches of `set` on `device`, its frames resident there when it is a
    /// GPU and they fit [`RESIDENT_LIMIT_BYTES`].
    pub fn new(set: &'a WindowSet, device: &Device) -> Self {
        let bytes = std::mem::size_of_val(set.rows());
        let on_gpu = gpu::on_gpu(device);
        let resident = (on_gpu && !set.is_empty() && bytes <= RESIDENT_LIMIT_BYTES).then(|| {
            let shape = [set.rows().len() / set.coeffs.max(1), set.coeffs];
            Tensor::<2>::from_data(TensorData::new(set.rows().to_vec(), shape), device)
        });
        Self {
            set,
            device: device.clone(),
            resident,
            built_on_device: false,
        }
    }

    /// Batches of `set` gathered from `rows`, its frames already on the
    /// device the batches are made on (see [`crate::data::device_rows`]).
    pub fn from_device_rows(set: &'a WindowSet, rows: Tensor<2>) -> Self {
        assert_eq!(
            rows.dims(),
            [set.rows().len() / set.coeffs.max(1), set.coeffs],
            "device rows of another window set"
        );
        Self {
            set,
            device: rows.device(),
            resident: Some(rows),
            built_on_device: true,
        }
    }

    /// Batches copied from the host for every call, whatever the device.
    pub fn from_host(set: &'a WindowSet, device: &Device) -> Self {
        Self {
            set,
            device: device.clone(),
            resident: None,
            built_on_device: false,
        }
    }

    /// The window set.
    pub fn set(&self) -> &WindowSet {
        self.set
    }

    /// The device the batches are made on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether the windows' frames live on the device.
    pub fn is_resident(&self) -> bool {
        self.resident.is_some()
    }

    /// Windows `indices` as a `[batch, frames, coeffs]` tensor.
    pub fn get(&self, indices: &[usize]) -> Tensor<3> {
        match &self.resident {
            Some(rows) => {
                let ids: Vec<i32> = self
                    .set
                    .row_indices(indices)
                    .into_iter()
                    .map(|r| r as i32)
                    .collect();
                let count = ids.len();
                let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [count]), &self.device);
                rows.clone().select(0, ids).reshape([
                    indices.len(),
                    self.set.frames,
                    self.set.coeffs,
                ])
            }
            None => batch_tensor(self.set, indices, &self.device),
        }
    }

    /// Bytes copied host to device by one pass over every window (after the
    /// one-time upload of a resident set): the row indices, or the windows.
    pub fn upload_bytes_per_pass(&self) -> usize {
        let rows = self.set.len() * self.set.frames;
        match self.resident {
            Some(_) => rows * std::mem::size_of::<i32>(),
            None => rows * self.set.coeffs * std::mem::size_of::<f32>(),
        }
    }

    /// Bytes of the set's frames kept on the device (0 when they are not).
    pub fn resident_bytes(&self) -> usize {
        match self.resident {
            Some(_) => std::mem::size_of_val(self.set.rows()),
            None => 0,
        }
    }

    /// Bytes uploaded once to put the frames on the device: none when they
    /// were built there from the GPU's own features.
    pub fn resident_upload_bytes(&self) -> usize {
        if self.built_on_device {
            0
        } else {
            self.resident_bytes()
        }
    }
}

/// `batch` cut into as few near-equal micro-batches of at most `per_part`
/// windows as there can be, none smaller than 2 (batch statistics need two).
pub fn micro_batches(batch: &[usize], per_part: usize) -> Vec<&[usize]> {
    let parts = batch
        .len()
        .div_ceil(per_part.max(1))
        .min(batch.len() / 2)
        .max(1);
    let (base, extra) = (batch.len() / parts, batch.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 0..parts {
        let len = base + usize::from(p < extra);
        out.push(&batch[start..start + len]);
        start += len;
    }
    out
}

/// Host data of windows `indices` as a `[batch, frames, coeffs]` tensor.
pub(super) fn batch_tensor(set: &WindowSet, indices: &[usize], device: &Device) -> Tensor<3> {
    let data = TensorData::new(set.gather(indices), [indices.len(), set.frames, set.coeffs]);
    Tensor::from_data(data, device)
}

#[cfg(test)]
mod tests {
    use super::micro_batches;

    #[test]
    fn micro_batches_are_near_equal_cover_the_batch_and_keep_two_windows() {
        let batch: Vec<usize> = (0..10).collect();
        let lens = |per: usize| -> Vec<usize> {
            micro_batches(&batch, per).iter().map(|p| p.len()).collect()
        };
        assert_eq!(lens(64), [10]);
        assert_eq!(lens(4), [4, 3, 3]);
        assert_eq!(lens(5), [5, 5]);
        assert_eq!(lens(1), [2, 2, 2, 2, 2]);
        let joined: Vec<usize> = micro_batches(&batch, 3).concat();
        assert_eq!(joined, batch);
        assert_eq!(micro_batches(&[7], 1), [&[7][..]]);
        assert_eq!(micro_batches(&[7, 8, 9], 1).len(), 1);
    }
}
