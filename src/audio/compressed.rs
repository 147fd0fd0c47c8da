//! FLAC, MP3 and Ogg Vorbis (and anything else symphonia probes) packet by packet.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{AudioErrorKind, MonoSource, SourceInfo, mix_to_mono};

pub(crate) struct CompressedSource {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    info: SourceInfo,
    buffer: Option<SampleBuffer<f32>>,
}

impl CompressedSource {
    pub(crate) fn open(path: &Path, extension: &str) -> Result<Self, AudioErrorKind> {
        let file = File::open(path)?;
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if !extension.is_empty() {
            hint.with_extension(extension);
        }
        let probed = symphonia::default::get_probe()
            .format(
                &hint,
                stream,
                &FormatOptions::default(),
                &MetadataOptions::default(),
            )
            .map_err(|e| match e {
                SymphoniaError::IoError(io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
                    AudioErrorKind::Io(io)
                }
                other => {
                    AudioErrorKind::Unsupported(format!("no decoder recognises the file ({other})"))
                }
            })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| {
                AudioErrorKind::Unsupported("the container holds no audio track".into())
            })?;
        let params = &track.codec_params;
        let decoder = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(|e| AudioErrorKind::Unsupported(format!("codec {:?}: {e}", params.codec)))?;
        let channels = params.channels.map(|c| c.count() as u16);
        if channels == Some(0) {
            return Err(AudioErrorKind::NoChannels);
        }
        let sample_rate = params.sample_rate.ok_or_else(|| AudioErrorKind::NotAudio {
            expected: "audio",
            detail: "the stream declares no sample rate".into(),
        })?;
        let info = SourceInfo {
            sample_rate,
            channels: channels.unwrap_or(1),
            frames: params.n_frames,
        };
        Ok(Self {
            track_id: track.id,
            format,
            decoder,
            info,
            buffer: None,
        })
    }
}

impl MonoSource for CompressedSource {
    fn info(&self) -> SourceInfo {
        self.info
    }

    fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioErrorKind> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(false);
                }
                Err(SymphoniaError::ResetRequired) => return Ok(false),
                Err(e) => return Err(AudioErrorKind::Decode(e.to_string())),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                // A corrupt packet is skipped, as players do; the rest of the stream is usable.
                Err(SymphoniaError::DecodeError(_)) => continue,
                Err(e) => return Err(AudioErrorKind::Decode(e.to_string())),
            };
            let spec = *decoded.spec();
            let channels = spec.channels.count();
            if channels == 0 {
                return Err(AudioErrorKind::NoChannels);
            }
            let needed = decoded.capacity() as u64;
            let buffer = match &mut self.buffer {
                Some(b) if b.capacity() as u64 >= needed * channels as u64 => b,
                slot => slot.insert(SampleBuffer::new(needed, spec)),
            };
            buffer.copy_interleaved_ref(decoded);
            mix_to_mono(buffer.samples(), channels, out);
            return Ok(true);
        }
    }
}
