//! The few protobuf messages of a TensorBoard event file, encoded by hand:
//! `Event` (wall time, step, file version or summary), `Summary.Value` (a
//! scalar, or the HParams plugin's session records). Fields are written in
//! field-number order, as protobuf's own serialisers do, so the bytes equal
//! theirs (held to files written by tensorboard in `tests/it/tensorboard.rs`).

/// A protobuf message under construction.
#[derive(Default)]
struct Message(Vec<u8>);

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const BYTES: u32 = 2;
const FIXED32: u32 = 5;

impl Message {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u32) {
        self.varint(u64::from((field << 3) | wire));
    }
    fn int(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v as u64);
        }
    }
    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 || v.is_sign_negative() {
            self.key(field, FIXED64);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn float_always(&mut self, field: u32, v: f32) {
        self.key(field, FIXED32);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, BYTES);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
    }
    fn string(&mut self, field: u32, v: &str) {
        if !v.is_empty() {
            self.bytes(field, v.as_bytes());
        }
    }
    fn message(&mut self, field: u32, m: Message) {
        self.bytes(field, &m.0);
    }
}

/// One value of a summary.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryValue {
    /// A scalar under `tag`.
    Scalar {
        /// e.g. `loss/train`.
        tag: String,
        /// The value (TensorBoard stores scalars as f32).
        value: f32,
    },
    /// The HParams plugin's session start: the trial's hyperparameters.
    SessionStart {
        /// (name, value).
        hparams: Vec<(String, HParam)>,
        /// Seconds since the epoch.
        start_time: f64,
    },
    /// The HParams plugin's session end.
    SessionEnd {
        /// 1 success, 2 failure (the plugin's `Status`).
        status: i64,
        /// Seconds since the epoch.
        end_time: f64,
    },
}

/// A hyperparameter value (`google.protobuf.Value`).
#[derive(Debug, Clone, PartialEq)]
pub enum HParam {
    /// A number.
    Number(f64),
    /// Text.
    Text(String),
    /// A flag.
    Flag(bool),
}

/// An `Event` holding the file-version header.
pub fn file_version_event(wall_time: f64) -> Vec<u8> {
    let mut event = Message::default();
    event.double(1, wall_time);
    event.string(3, "brain.Event:2");
    event.0
}

/// An `Event` holding a summary of `values` at `step`.
pub fn summary_event(wall_time: f64, step: i64, values: &[SummaryValue]) -> Vec<u8> {
    let mut summary = Message::default();
    for value in values {
        summary.message(1, summary_value(value));
    }
    let mut event = Message::default();
    event.double(1, wall_time);
    event.int(2, step);
    event.message(5, summary);
    event.0
}

fn summary_value(value: &SummaryValue) -> Message {
    let mut m = Message::default();
    match value {
        SummaryValue::Scalar { tag, value } => {
            m.string(1, tag);
            m.float_always(2, *value);
        }
        SummaryValue::SessionStart { .. } | SummaryValue::SessionEnd { .. } => {
            let (tag, data) = hparams_plugin_data(value);
            m.string(1, tag);
            m.message(8, null_tensor());
            let mut plugin = Message::default();
            plugin.string(1, "hparams");
            plugin.bytes(2, &data.0);
            let mut metadata = Message::default();
            metadata.message(1, plugin);
            m.message(9, metadata);
        }
    }
    m
}

/// The plugin's tag and `HParamsPluginData` (version 0, so not written).
fn hparams_plugin_data(value: &SummaryValue) -> (&'static str, Message) {
    let mut data = Message::default();
    match value {
        SummaryValue::SessionStart {
            hparams,
            start_time,
        } => {
            let mut info = Message::default();
            // Map entries in the order given (protobuf leaves map order open).
            for (name, hparam) in hparams {
                let mut entry = Message::default();
                entry.string(1, name);
                entry.message(2, protobuf_value(hparam));
                info.message(1, entry);
            }
            info.double(5, *start_time);
            data.message(3, info);
            ("_hparams_/session_start_info", data)
        }
        SummaryValue::SessionEnd { status, end_time } => {
            let mut info = Message::default();
            info.int(1, *status);
            info.double(2, *end_time);
            data.message(4, info);
            ("_hparams_/session_end_info", data)
        }
        SummaryValue::Scalar { .. } => unreachable!("scalars carry no plugin data"),
    }
}

fn protobuf_value(value: &HParam) -> Message {
    let mut m = Message::default();
    match value {
        // Set oneof members are written even when zero.
        HParam::Number(v) => {
            m.key(2, FIXED64);
            m.0.extend_from_slice(&v.to_le_bytes());
        }
        HParam::Text(s) => m.bytes(3, s.as_bytes()),
        HParam::Flag(b) => {
            m.key(4, VARINT);
            m.varint(u64::from(*b));
        }
    }
    m
}

/// The plugin's placeholder tensor: float, shape `[0]`.
fn null_tensor() -> Message {
    let mut shape = Message::default();
    shape.message(2, Message::default());
    let mut tensor = Message::default();
    tensor.int(1, 1);
    tensor.message(2, shape);
    tensor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_the_null_tensor_match_protobuf() {
        let mut m = Message::default();
        m.varint(300);
        assert_eq!(m.0, [0xAC, 0x02]);
        // tensorboard's NULL_TENSOR serialises to 08 01 12 02 12 00.
        assert_eq!(null_tensor().0, [0x08, 0x01, 0x12, 0x02, 0x12, 0x00]);
    }
}
