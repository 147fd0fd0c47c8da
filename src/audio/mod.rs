//! Audio ingest: decode any supported file to mono `f32` at a chosen sample rate,
//! chunk by chunk, so long recordings never sit whole in memory.
//!
//! WAV goes through `hound`; FLAC, MP3 and Ogg Vorbis through `symphonia`;
//! resampling through `rubato`.

mod compressed;
mod discover;
mod resample;
mod wav;

use std::path::{Path, PathBuf};

pub use discover::{AUDIO_EXTENSIONS, DiscoveredFile, discover};
pub use resample::StreamResampler;

/// Samples handed out per chunk (per channel, before resampling).
pub const CHUNK_FRAMES: usize = 16_384;

/// Sample rates accepted from file headers and configs, in Hz: below this range
/// a header is almost surely corrupt (and resampling it up would multiply the
/// work), above it no real recorder goes.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// Audio decoded per file at most unless told otherwise: 24 hours.
pub const DEFAULT_MAX_DURATION_S: f64 = 24.0 * 3600.0;

/// An audio file that could not be used, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct AudioError {
    /// The file the error concerns.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: AudioErrorKind,
}

/// What went wrong while reading an audio file.
#[derive(Debug, thiserror::Error)]
pub enum AudioErrorKind {
    /// The file could not be opened or read.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not in a format its extension claims.
    #[error(
        "not a valid {expected} file ({detail}); check that the file is audio and its extension is right"
    )]
    NotAudio {
        /// The format the extension promised.
        expected: &'static str,
        /// What the decoder saw.
        detail: String,
    },
    /// The header promises more audio than the file holds.
    #[error(
        "the file is truncated: its header declares {declared} samples but it ends after {read}; re-export or re-copy it"
    )]
    Truncated {
        /// Samples per channel the header declares.
        declared: u64,
        /// Samples per channel actually present.
        read: u64,
    },
    /// A codec or sample format that is not supported.
    #[error(
        "unsupported encoding: {0}; supported are WAV (PCM 8/16/24/32-bit, float 32-bit), FLAC, MP3 and Ogg Vorbis (convert e.g. with `ffmpeg -i IN -c:a pcm_s16le OUT.wav`)"
    )]
    Unsupported(String),
    /// The header declares no channels.
    #[error("the header declares 0 channels")]
    NoChannels,
    /// The header declares a sample rate no recording has.
    #[error(
        "the header declares a sample rate of {0} Hz, outside 1,000-768,000 Hz; the file is corrupt or not audio"
    )]
    SampleRate(u32),
    /// More audio than the per-file limit.
    #[error(
        "longer than the limit of {limit_s} s of audio per file (--max-duration, or [data] max_duration); split the recording or raise the limit"
    )]
    TooLong {
        /// The limit in seconds.
        limit_s: f64,
    },
    /// The file decodes to no samples at all.
    #[error("the file holds no audio samples")]
    Empty,
    /// A float sample is NaN or infinite.
    #[error("sample {index} (per channel) is NaN or infinite; the file is corrupt")]
    NonFinite {
        /// Index of the first bad sample frame.
        index: u64,
    },
    /// The decoder failed part way.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// The resampler could not be built or run.
    #[error("resampling from {from} Hz to {to} Hz failed: {detail}")]
    Resample {
        /// Source rate.
        from: u32,
        /// Target rate.
        to: u32,
        /// The resampler's message.
        detail: String,
    },
}

/// What a file declares about itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceInfo {
    /// Native sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count (mixed down to mono on reading).
    pub channels: u16,
    /// Samples per channel, when the container says.
    pub frames: Option<u64>,
}

/// A decoder that yields mono samples at the file's native rate.
pub(crate) trait MonoSource: Send {
    /// What the file declares.
    fn info(&self) -> SourceInfo;
    /// Appends the next mono samples to `out`; returns `false` at the end.
    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioErrorKind>;
}

/// Reads an audio file as mono `f32` chunks at a target sample rate.
pub struct AudioReader {
    path: PathBuf,
    max_frames: u64,
    source: Box<dyn MonoSource>,
    resampler: Option<StreamResampler>,
    target_rate: u32,
    native: Vec<f32>,
    frames_read: u64,
    finished: bool,
}

impl AudioReader {
    /// Opens `path`; `target_rate` of `None` keeps the native rate. At most
    /// [`DEFAULT_MAX_DURATION_S`] of audio is decoded.
    pub fn open(path: &Path, target_rate: Option<u32>) -> Result<Self, AudioError> {
        Self::open_limited(path, target_rate, DEFAULT_MAX_DURATION_S)
    }

    /// Opens `path`, refusing it (before or while decoding) once it holds more
    /// than `max_duration_s` seconds of audio.
    pub fn open_limited(
        path: &Path,
        target_rate: Option<u32>,
        max_duration_s: f64,
    ) -> Result<Self, AudioError> {
        let err = |kind| AudioError {
            path: path.to_path_buf(),
            kind,
        };
        let source = open_source(path).map_err(err)?;
        let info = source.info();
        if !SAMPLE_RATES.contains(&info.sample_rate) {
            return Err(err(AudioErrorKind::SampleRate(info.sample_rate)));
        }
        let max_frames = (max_duration_s * info.sample_rate as f64).ceil() as u64;
        if info.frames.is_some_and(|f| f > max_frames) {
            return Err(err(AudioErrorKind::TooLong {
                limit_s: max_duration_s,
            }));
        }
        let target = target_rate.unwrap_or(info.sample_rate);
        let resampler = if target != info.sample_rate {
            Some(StreamResampler::new(info.sample_rate, target).map_err(err)?)
        } else {
            None
        };
        Ok(Self {
            path: path.to_path_buf(),
            max_frames,
            source,
            resampler,
            target_rate: target,
            native: Vec::with_capacity(CHUNK_FRAMES),
            frames_read: 0,
            finished: false,
        })
    }

    /// What the file declares.
    pub fn info(&self) -> SourceInfo {
        self.source.info()
    }

    /// The sample rate of the samples handed out.
    pub fn sample_rate(&self) -> u32 {
        self.target_rate
    }

    /// Whether the samples are resampled from another rate.
    pub fn is_resampled(&self) -> bool {
        self.resampler.is_some()
    }

    /// Replaces `out` with the next chunk of mono samples; `Ok(false)` once the file is done.
    pub fn read_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        out.clear();
        while out.is_empty() && !self.finished {
            self.native.clear();
            let more = self
                .source
                .next_chunk(&mut self.native)
                .map_err(|kind| self.error(kind))?;
            self.frames_read += self.native.len() as u64;
            if self.frames_read > self.max_frames {
                let limit_s = self.max_frames as f64 / self.source.info().sample_rate as f64;
                return Err(self.error(AudioErrorKind::TooLong { limit_s }));
            }
            if let Some(i) = self.native.iter().position(|s| !s.is_finite()) {
                let index = self.frames_read - self.native.len() as u64 + i as u64;
                return Err(self.error(AudioErrorKind::NonFinite { index }));
            }
            match self.resampler.as_mut() {
                Some(r) => r.push(&self.native, out).map_err(|kind| AudioError {
                    path: self.path.clone(),
                    kind,
                })?,
                None => out.extend_from_slice(&self.native),
            }
            if !more {
                self.finished = true;
                if self.frames_read == 0 {
                    return Err(self.error(AudioErrorKind::Empty));
                }
                if let Some(r) = self.resampler.as_mut() {
                    r.finish(out).map_err(|kind| AudioError {
                        path: self.path.clone(),
                        kind,
                    })?;
                }
            }
        }
        Ok(!out.is_empty())
    }

    fn error(&self, kind: AudioErrorKind) -> AudioError {
        AudioError {
            path: self.path.clone(),
            kind,
        }
    }
}

/// A whole decoded clip.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Mono samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Their sample rate.
    pub sample_rate: u32,
    /// What the file declared.
    pub source: SourceInfo,
}

/// Decodes a whole file into memory (for clips; long recordings should use
/// [`AudioReader`]); at most [`DEFAULT_MAX_DURATION_S`] of audio.
pub fn load(path: &Path, target_rate: Option<u32>) -> Result<Clip, AudioError> {
    load_limited(path, target_rate, DEFAULT_MAX_DURATION_S)
}

/// [`load`], refusing more than `max_duration_s` seconds of audio.
pub fn load_limited(
    path: &Path,
    target_rate: Option<u32>,
    max_duration_s: f64,
) -> Result<Clip, AudioError> {
    let mut reader = AudioReader::open_limited(path, target_rate, max_duration_s)?;
    let mut samples = Vec::new();
    let mut chunk = Vec::new();
    while reader.read_chunk(&mut chunk)? {
        samples.extend_from_slice(&chunk);
    }
    Ok(Clip {
        samples,
        sample_rate: reader.sample_rate(),
        source: reader.info(),
    })
}

fn open_source(path: &Path) -> Result<Box<dyn MonoSource>, AudioErrorKind> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if ext == "wav" || ext == "wave" {
        Ok(Box::new(wav::WavSource::open(path)?))
    } else {
        Ok(Box::new(compressed::CompressedSource::open(path, &ext)?))
    }
}

/// Averages interleaved frames into mono, as librosa's `to_mono` does.
pub(crate) fn mix_to_mono(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|f| f.iter().sum::<f32>() * scale),
    );
}
