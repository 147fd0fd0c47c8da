//! Streaming resampling through rubato's synchronous FFT resampler.

use rubato::{FftFixedIn, Resampler};

use super::AudioErrorKind;

/// Input samples per resampler call.
const CHUNK_IN: usize = 4096;

/// Resamples a mono stream chunk by chunk, trimming the resampler's delay so that
/// output sample `k` lines up with input time `k / to`, and the output has
/// `ceil(len * to / from)` samples.
pub struct StreamResampler {
    inner: FftFixedIn<f32>,
    from: u32,
    to: u32,
    pending: Vec<f32>,
    scratch_out: Vec<Vec<f32>>,
    delay_left: usize,
    consumed: u64,
    produced: u64,
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioErrorKind> {
        let inner =
            FftFixedIn::<f32>::new(from as usize, to as usize, CHUNK_IN, 2, 1).map_err(|e| {
                AudioErrorKind::Resample {
                    from,
                    to,
                    detail: e.to_string(),
                }
            })?;
        let delay_left = inner.output_delay();
        let scratch_out = vec![vec![0.0; inner.output_frames_max()]];
        Ok(Self {
            inner,
            from,
            to,
            pending: Vec::with_capacity(CHUNK_IN * 2),
            scratch_out,
            delay_left,
            consumed: 0,
            produced: 0,
        })
    }

    /// Feeds `input`, appending whatever output is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioErrorKind> {
        self.pending.extend_from_slice(input);
        self.consumed += input.len() as u64;
        let mut offset = 0;
        let pending = std::mem::take(&mut self.pending);
        while pending.len() - offset >= self.inner.input_frames_next() {
            let need = self.inner.input_frames_next();
            self.run(Some(&pending[offset..offset + need]), out)?;
            offset += need;
        }
        self.pending = pending;
        self.pending.drain(..offset);
        Ok(())
    }

    /// Flushes the tail; call once after the last [`push`](Self::push).
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioErrorKind> {
        let expected = (self.consumed * self.to as u64).div_ceil(self.from as u64);
        let tail = std::mem::take(&mut self.pending);
        self.run_partial(&tail, out, expected)?;
        // Zeros push the last real samples out of the filter's delay line.
        while self.produced < expected {
            self.run_partial(&[], out, expected)?;
        }
        Ok(())
    }

    fn run_partial(
        &mut self,
        input: &[f32],
        out: &mut Vec<f32>,
        expected: u64,
    ) -> Result<(), AudioErrorKind> {
        let mut padded = input.to_vec();
        padded.resize(self.inner.input_frames_next(), 0.0);
        let before = out.len();
        self.run(Some(&padded), out)?;
        let excess = self.produced.saturating_sub(expected) as usize;
        out.truncate(out.len() - excess.min(out.len() - before));
        self.produced -= excess as u64;
        Ok(())
    }

    fn run(&mut self, chunk: Option<&[f32]>, out: &mut Vec<f32>) -> Result<(), AudioErrorKind> {
        let input = [chunk.unwrap_or(&[])];
        let (_, written) = self
            .inner
            .process_into_buffer(&input, &mut self.scratch_out, None)
            .map_err(|e| AudioErrorKind::Resample {
                from: self.from,
                to: self.to,
                detail: e.to_string(),
            })?;
        let fresh = &self.scratch_out[0][..written];
        let skip = self.delay_left.min(fresh.len());
        self.delay_left -= skip;
        out.extend_from_slice(&fresh[skip..]);
        self.produced += (written - skip) as u64;
        Ok(())
    }
}
