//! WAV through `hound`, read sample by sample into bounded chunks.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use hound::{SampleFormat, WavReader};

use super::{AudioErrorKind, CHUNK_FRAMES, MonoSource, SourceInfo, mix_to_mono};

pub(crate) struct WavSource {
    reader: WavReader<BufReader<File>>,
    info: SourceInfo,
    format: SampleFormat,
    scale: f32,
    interleaved: Vec<f32>,
    frames_done: u64,
}

impl WavSource {
    pub(crate) fn open(path: &Path) -> Result<Self, AudioErrorKind> {
        let file = File::open(path)?;
        let reader = WavReader::new(BufReader::new(file)).map_err(map_hound)?;
        let spec = reader.spec();
        match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Int, 8 | 16 | 24 | 32) | (SampleFormat::Float, 32) => {}
            (format, bits) => {
                return Err(AudioErrorKind::Unsupported(format!(
                    "WAV {format:?} {bits}-bit"
                )));
            }
        }
        let info = SourceInfo {
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            frames: Some(u64::from(reader.duration())),
        };
        if spec.sample_rate == 0 {
            return Err(AudioErrorKind::NotAudio {
                expected: "WAV",
                detail: "sample rate 0 in the header".into(),
            });
        }
        // Integer PCM is scaled to [-1, 1) by 2^(bits-1), as librosa and soundfile do.
        let scale = match spec.sample_format {
            SampleFormat::Int => 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32,
            SampleFormat::Float => 1.0,
        };
        Ok(Self {
            reader,
            info,
            format: spec.sample_format,
            scale,
            interleaved: Vec::with_capacity(CHUNK_FRAMES * spec.channels as usize),
            frames_done: 0,
        })
    }
}

impl MonoSource for WavSource {
    fn info(&self) -> SourceInfo {
        self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioErrorKind> {
        let channels = self.info.channels as usize;
        let wanted = CHUNK_FRAMES * channels;
        self.interleaved.clear();
        let scale = self.scale;
        let result = match self.format {
            SampleFormat::Int => fill(
                self.reader.samples::<i32>().take(wanted),
                &mut self.interleaved,
                |s| s as f32 * scale,
            ),
            SampleFormat::Float => fill(
                self.reader.samples::<f32>().take(wanted),
                &mut self.interleaved,
                |s| s,
            ),
        };
        let got_frames = (self.interleaved.len() / channels) as u64;
        if let Err(e) = result {
            return Err(match e {
                hound::Error::IoError(io) if is_short_read(&io) => AudioErrorKind::Truncated {
                    declared: self.info.frames.unwrap_or(0),
                    read: self.frames_done + got_frames,
                },
                other => map_hound(other),
            });
        }
        self.frames_done += got_frames;
        mix_to_mono(&self.interleaved, channels, out);
        Ok(self.interleaved.len() == wanted)
    }
}

fn fill<S, I: Iterator<Item = hound::Result<S>>>(
    samples: I,
    out: &mut Vec<f32>,
    convert: impl Fn(S) -> f32,
) -> hound::Result<()> {
    for s in samples {
        out.push(convert(s?));
    }
    Ok(())
}

fn map_hound(e: hound::Error) -> AudioErrorKind {
    match e {
        hound::Error::IoError(io) if is_short_read(&io) => AudioErrorKind::NotAudio {
            expected: "WAV",
            detail: "the header is cut short".into(),
        },
        hound::Error::IoError(io) => AudioErrorKind::Io(io),
        hound::Error::FormatError("file contains zero channels") => AudioErrorKind::NoChannels,
        hound::Error::FormatError(msg) => AudioErrorKind::NotAudio {
            expected: "WAV",
            detail: msg.into(),
        },
        hound::Error::Unsupported => {
            AudioErrorKind::Unsupported("WAV encoding other than integer PCM or IEEE float".into())
        }
        hound::Error::TooWide | hound::Error::InvalidSampleFormat => {
            AudioErrorKind::Unsupported("WAV sample width or format".into())
        }
        hound::Error::UnfinishedSample => AudioErrorKind::Truncated {
            declared: 0,
            read: 0,
        },
    }
}

/// hound reports running out of bytes either as `UnexpectedEof` or as its own message.
fn is_short_read(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::UnexpectedEof
        || e.to_string().contains("Failed to read enough bytes")
}
