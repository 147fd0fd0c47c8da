//! The safetensors file format, written here: an 8-byte little-endian header
//! length, a JSON header (`{name: {dtype, shape, data_offsets}}` plus
//! `__metadata__` of strings), padded with spaces to 8 bytes, then the raw
//! little-endian tensor bytes in header order. The `safetensors` crate would
//! turn on hashbrown's `serde` feature, rebuilding much of burn for ~80 lines.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One f32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// The name (unique in the file).
    pub name: String,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Errors reading a safetensors file.
#[derive(Debug, thiserror::Error)]
pub enum SafetensorsError {
    /// The bytes are not a safetensors file this module reads.
    #[error("not a safetensors file: {0}")]
    Format(String),
}

/// The file's bytes: `tensors` in name order (as the reference writer sorts
/// them) and `metadata`.
pub fn serialize(tensors: &[NamedTensor], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut sorted: Vec<&NamedTensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), json!(metadata));
    }
    let mut offset = 0usize;
    for t in &sorted {
        let end = offset + 4 * t.data.len();
        header.insert(
            t.name.clone(),
            json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut header = serde_json::to_vec(&Value::Object(header)).expect("json");
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for t in sorted {
        for v in &t.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Reads back what [`serialize`] writes (F32 tensors only).
pub fn deserialize(
    bytes: &[u8],
) -> Result<(Vec<NamedTensor>, BTreeMap<String, String>), SafetensorsError> {
    let bad = |s: &str| SafetensorsError::Format(s.to_string());
    let len = bytes.get(..8).ok_or_else(|| bad("shorter than 8 bytes"))?;
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_add(8))
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("header longer than the file"))?;
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes[8..end]).map_err(|e| bad(&format!("header: {e}")))?;
    let data = &bytes[end..];
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::new();
    for (name, entry) in header {
        if name == "__metadata__" {
            metadata = serde_json::from_value(entry).map_err(|e| bad(&e.to_string()))?;
            continue;
        }
        if entry["dtype"] != "F32" {
            return Err(bad(&format!("{name}: only F32 tensors are read")));
        }
        let shape: Vec<usize> =
            serde_json::from_value(entry["shape"].clone()).map_err(|e| bad(&e.to_string()))?;
        let [start, stop]: [usize; 2] = serde_json::from_value(entry["data_offsets"].clone())
            .map_err(|e| bad(&e.to_string()))?;
        let raw = data
            .get(start..stop)
            .filter(|r| r.len() == 4 * shape.iter().product::<usize>())
            .ok_or_else(|| bad(&format!("{name}: offsets do not fit its shape")))?;
        let values = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        tensors.push(NamedTensor {
            name,
            shape,
            data: values,
        });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((tensors, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_worked_file_has_the_documented_bytes() {
        let t = NamedTensor {
            name: "w".into(),
            shape: vec![2],
            data: vec![1.0, -2.0],
        };
        let bytes = serialize(std::slice::from_ref(&t), &BTreeMap::new());
        let header = br#"{"w":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}}"#;
        let padded = header.len().div_ceil(8) * 8;
        assert_eq!(&bytes[..8], &(padded as u64).to_le_bytes());
        assert_eq!(&bytes[8..8 + header.len()], header);
        assert!(
            bytes[8 + header.len()..8 + padded]
                .iter()
                .all(|&b| b == b' ')
        );
        assert_eq!(&bytes[8 + padded..], &[0, 0, 128, 63, 0, 0, 0, 192]);
        let meta = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let (back, back_meta) = deserialize(&serialize(std::slice::from_ref(&t), &meta)).unwrap();
        assert_eq!((back, back_meta), (vec![t], meta));
        assert!(deserialize(&bytes[..12]).is_err());
    }
}
