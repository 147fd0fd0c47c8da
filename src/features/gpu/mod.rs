//! The GPU feature path: our WGSL kernels (`shaders/`) launched on burn's own
//! wgpu device and queue. Per batch of clips: audio goes up once, then
//! `stft_power` + `mel_db` per launch (one launch unless the batch passes the
//! device's buffer limit), `clip_max`, `finish`; the dispatch count does not
//! grow with the number of clips. Held to [`CpuExtractor`](super::CpuExtractor)
//! within 1e-4 of each clip's largest value.

mod adapters;
pub(crate) mod kernels;
mod plan;

pub use adapters::{
    AdapterSelection, AdapterSummary, NO_ADAPTER, select_adapter, training_backend,
    wgpu_adapter_summaries, wgpu_adapters,
};

use burn::backend::Wgpu;
use burn::backend::wgpu::CubeBackend;
use burn::cubecl::client::Client;
use burn::cubecl::server::{Handle, KernelArguments};
use burn::cubecl::wgpu::WgpuDevice;
use burn::prelude::Device;
use burn::tensor::{DeviceKind, Tensor};

use super::mel::{MelFilterbank, dct_ortho};
use super::{FeatureBatch, FeatureConfig, FeatureError, FeatureKind, cpu::hann_window};
use crate::gpu::grid;
use kernels::ELEMENTWISE_THREADS;

/// FFT lengths the kernels handle: powers of two whose half-spectrum fits
/// WebGPU's guaranteed 16 KiB of workgroup memory.
pub const SUPPORTED_N_FFT: [usize; 7] = [64, 128, 256, 512, 1024, 2048, 4096];

/// Buffers are kept below this even where the device allows more, so a batch
/// never holds more than a few hundred MiB of device memory at once.
const DEFAULT_BUFFER_LIMIT: u64 = 256 << 20;

/// Counts of one extraction, for benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuStats {
    /// Compute dispatches.
    pub dispatches: usize,
    /// Bytes written to the device (audio and frame tables).
    pub bytes_up: u64,
    /// Bytes read back to the host.
    pub bytes_down: u64,
}

/// Features computed on the wgpu device, `[clips, max_frames, coeffs]`, zero past each clip's end.
#[derive(Debug, Clone)]
pub struct GpuFeatures {
    /// The features, on the wgpu device.
    pub tensor: Tensor<3>,
    /// Frames of each clip.
    pub frames: Vec<usize>,
}

/// Batched MFCC / log-mel extraction with our WGSL kernels.
pub struct GpuExtractor {
    config: FeatureConfig,
    client: Client,
    window: Handle,
    twiddles: Handle,
    bands: Handle,
    weights: Handle,
    dct: Handle,
    buffer_limit: u64,
}

impl std::fmt::Debug for GpuExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuExtractor")
            .field("config", &self.config)
            .field("buffer_limit", &self.buffer_limit)
            .finish_non_exhaustive()
    }
}

fn f32_bytes(values: &[f32]) -> &[u8] {
    bytemuck::cast_slice(values)
}

impl GpuExtractor {
    /// Validates `config`, finds the wgpu device burn trains on, and uploads the
    /// window, twiddles, mel bank and DCT basis once.
    pub fn new(config: &FeatureConfig) -> Result<Self, FeatureError> {
        config.validate()?;
        if !SUPPORTED_N_FFT.contains(&config.n_fft) {
            return Err(FeatureError::Config {
                field: "n_fft",
                reason: format!(
                    "is {}; the GPU kernels take a power of two in {SUPPORTED_N_FFT:?} (use --device cpu for other lengths)",
                    config.n_fft
                ),
            });
        }
        if wgpu_adapters().is_empty() {
            return Err(FeatureError::Device(NO_ADAPTER.to_string()));
        }
        let device = burn::cubecl::Device::Wgpu(WgpuDevice::default());
        let client = std::panic::catch_unwind(|| device.client()).map_err(|_| {
            FeatureError::Device(
                "the wgpu device could not be opened (see the message above)".into(),
            )
        })?;
        let device_limit = client.properties().memory.max_page_size;
        let (n_fft, half) = (config.n_fft, config.n_fft / 2);

        let window = hann_window(n_fft, config.window_length());
        let mut twiddles = Vec::with_capacity(half / 2 + half + 1);
        let turn = |k: usize, n: usize| {
            let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
            [a.cos() as f32, a.sin() as f32]
        };
        twiddles.extend((0..half / 2).map(|k| turn(k, half)));
        twiddles.extend((0..=half).map(|k| turn(k, n_fft)));
        let bank = MelFilterbank::for_config(config);
        let mut bands = Vec::with_capacity(config.n_mels + 1);
        let mut weights = Vec::new();
        for band in &bank.bands {
            bands.push([band.start as u32, weights.len() as u32]);
            weights.extend_from_slice(&band.weights);
        }
        bands.push([0, weights.len() as u32]);
        if weights.is_empty() {
            weights.push(0.0); // a binding cannot be empty
        }
        let dct = match config.kind {
            FeatureKind::Mfcc => dct_ortho(config.n_mfcc, config.n_mels),
            FeatureKind::Logmel => vec![0.0],
        };
        Ok(Self {
            config: config.clone(),
            window: client.create_from_slice(f32_bytes(&window)),
            twiddles: client.create_from_slice(bytemuck::cast_slice(&twiddles)),
            bands: client.create_from_slice(bytemuck::cast_slice(&bands)),
            weights: client.create_from_slice(f32_bytes(&weights)),
            dct: client.create_from_slice(f32_bytes(&dct)),
            buffer_limit: device_limit.min(DEFAULT_BUFFER_LIMIT),
            client,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Keeps every device buffer below `bytes` (more launches, same numbers).
    pub fn with_buffer_limit(mut self, bytes: u64) -> Self {
        self.buffer_limit = bytes.min(self.buffer_limit);
        self
    }

    /// Features of `clips` as a tensor on the wgpu device burn trains on,
    /// without a trip through the host: the last kernel writes straight into
    /// the buffer of a tensor burn allocated.
    pub fn extract_tensor(&self, clips: &[&[f32]]) -> Result<GpuFeatures, FeatureError> {
        let (plans, max_frames) = self.plan(clips)?;
        let coeffs = self.config.coeffs();
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let tensor = Tensor::<3>::zeros([clips.len(), max_frames, coeffs], &device);
        let output = tensor.clone().try_into_primitive::<Wgpu>().map_err(|e| {
            FeatureError::Device(format!("the wgpu tensor is not a wgpu tensor: {e:?}"))
        })?;
        let output = output
            .client
            .clone()
            .resolve_tensor_float::<CubeBackend>(output);
        let mut stats = GpuStats::default();
        let mut frames = Vec::with_capacity(clips.len());
        for batch in &plans {
            let at = batch.first_clip * max_frames * coeffs;
            self.run_batch(
                &clips[batch.first_clip..],
                batch,
                &output.handle,
                at,
                max_frames,
                &mut stats,
            );
            frames.extend(batch.clips.iter().map(|&(_, f)| f));
        }
        // Our launches sit on this thread's cubecl stream, burn's own ops on its
        // fusion stream: submit ours now so the device queue orders every later
        // burn op on the tensor after them, and surface a failed launch here.
        let failed = |e: burn::cubecl::server::ServerError| {
            FeatureError::Device(format!("the GPU feature kernels failed: {e}"))
        };
        self.client.flush().map_err(failed)?;
        self.client.check([&output.handle]).map_err(failed)?;
        Ok(GpuFeatures { tensor, frames })
    }

    /// Features of `clips`, read back to the host.
    pub fn extract_batch(&self, clips: &[&[f32]]) -> Result<FeatureBatch, FeatureError> {
        self.extract_batch_with_stats(clips).map(|(b, _)| b)
    }

    /// [`extract_batch`](Self::extract_batch) with dispatch and transfer counts.
    pub fn extract_batch_with_stats(
        &self,
        clips: &[&[f32]],
    ) -> Result<(FeatureBatch, GpuStats), FeatureError> {
        let (plans, max_frames) = self.plan(clips)?;
        let coeffs = self.config.coeffs();
        let mut out = FeatureBatch {
            frames: Vec::with_capacity(clips.len()),
            max_frames,
            coeffs,
            data: vec![0.0; clips.len() * max_frames * coeffs],
        };
        let mut stats = GpuStats::default();
        for batch in &plans {
            let size = batch.clips.len() * batch.max_frames * coeffs;
            let output = self.client.empty(size * 4);
            self.run_batch(
                &clips[batch.first_clip..],
                batch,
                &output,
                0,
                batch.max_frames,
                &mut stats,
            );
            let bytes = self.client.read_one(output).map_err(|e| {
                FeatureError::Device(format!("the GPU feature kernels failed: {e}"))
            })?;
            stats.bytes_down += bytes.len() as u64;
            // The read-back bytes carry no alignment promise: decode rather than cast.
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            for (c, &(_, frames)) in batch.clips.iter().enumerate() {
                let src = &values[c * batch.max_frames * coeffs..][..frames * coeffs];
                let at = (batch.first_clip + c) * max_frames * coeffs;
                out.data[at..at + src.len()].copy_from_slice(src);
                out.frames.push(frames);
            }
        }
        Ok((out, stats))
    }

    /// Checks the clips and cuts them into batches; returns the longest clip's frames too.
    fn plan(&self, clips: &[&[f32]]) -> Result<(Vec<plan::BatchPlan>, usize), FeatureError> {
        if clips.is_empty() {
            return Err(FeatureError::EmptyBatch);
        }
        for (c, clip) in clips.iter().enumerate() {
            if let Some(bad) = clip.iter().find(|v| !v.is_finite()) {
                return Err(FeatureError::Config {
                    field: "audio",
                    reason: format!("clip {c} holds a non-finite sample ({bad})"),
                });
            }
        }
        let lengths: Vec<usize> = clips.iter().map(|c| c.len()).collect();
        let plans = plan::plan(&self.config, &lengths, self.buffer_limit)?;
        let max_frames = plans.iter().map(|p| p.max_frames).max().unwrap_or(0);
        Ok((plans, max_frames))
    }

    fn upload(&self, bytes: &[u8], stats: &mut GpuStats) -> Handle {
        stats.bytes_up += bytes.len() as u64;
        self.client.create_from_slice(bytes)
    }

    /// One planned batch through the four kernels, written as
    /// `[clips, max_frames, coeffs]` into `output` from value `at` on.
    fn run_batch(
        &self,
        clips: &[&[f32]],
        batch: &plan::BatchPlan,
        output: &Handle,
        at: usize,
        max_frames: usize,
        stats: &mut GpuStats,
    ) {
        let c = &self.config;
        let bins = c.n_fft / 2 + 1;
        let client = &self.client;
        let mel_db = client.empty(batch.rows * c.n_mels * 4);
        for launch in &batch.launches {
            let mut audio = Vec::with_capacity(launch.samples);
            for (clip, range) in &launch.spans {
                audio.extend_from_slice(&clips[*clip][range.clone()]);
            }
            let samples = self.upload(f32_bytes(&audio), stats);
            let frames = self.upload(bytemuck::cast_slice(&launch.frames), stats);
            let n = launch.frames.len() as u32;
            let power = client.empty(n as usize * bins * 4);

            let (width, _) = grid(n);
            let params = client.create_from_slice(bytemuck::cast_slice(&[n, width]));
            kernels::stft_power(c).launch(
                client,
                n,
                KernelArguments::new().with_buffers(vec![
                    samples.binding(),
                    frames.clone().binding(),
                    self.window.clone().binding(),
                    self.twiddles.clone().binding(),
                    power.clone().binding(),
                    params.binding(),
                ]),
            );
            let groups = (n * c.n_mels as u32).div_ceil(ELEMENTWISE_THREADS);
            let (width, _) = grid(groups);
            let params =
                client.create_from_slice(bytemuck::cast_slice(&[n, width * ELEMENTWISE_THREADS]));
            kernels::mel_db(c).launch(
                client,
                groups,
                KernelArguments::new().with_buffers(vec![
                    power.binding(),
                    frames.binding(),
                    self.bands.clone().binding(),
                    self.weights.clone().binding(),
                    mel_db.clone().binding(),
                    params.binding(),
                ]),
            );
            stats.dispatches += 2;
        }

        let n_clips = batch.clips.len() as u32;
        let table: Vec<[u32; 4]> = batch
            .clips
            .iter()
            .map(|&(first, rows)| [first as u32, rows as u32, 0, 0])
            .collect();
        let clip_table = self.upload(bytemuck::cast_slice(&table), stats);
        let segments = kernels::clip_max_segments(&batch.clips, c.n_mels);
        let n_segments = segments.len() as u32;
        let segment_table = self.upload(bytemuck::cast_slice(&segments), stats);
        // Zero: below every maximum's bits, so the first segment's always wins.
        let clip_max = self.upload(&vec![0u8; batch.clips.len() * 4], stats);
        let (width, _) = grid(n_segments);
        let params = client.create_from_slice(bytemuck::cast_slice(&[n_segments, width]));
        kernels::clip_max(c).launch(
            client,
            n_segments,
            KernelArguments::new().with_buffers(vec![
                mel_db.clone().binding(),
                segment_table.binding(),
                clip_max.clone().binding(),
                params.binding(),
            ]),
        );

        let values = batch.clips.len() * max_frames * c.coeffs();
        let groups = (values as u32).div_ceil(ELEMENTWISE_THREADS);
        let (width, _) = grid(groups);
        let params = client.create_from_slice(bytemuck::cast_slice(&[
            n_clips,
            max_frames as u32,
            width * ELEMENTWISE_THREADS,
            at as u32,
        ]));
        kernels::finish(c).launch(
            client,
            groups,
            KernelArguments::new().with_buffers(vec![
                mel_db.binding(),
                clip_table.binding(),
                clip_max.binding(),
                self.dct.clone().binding(),
                output.clone().binding(),
                params.binding(),
            ]),
        );
        stats.dispatches += 2;
    }
}
