//! NumPy `.npy` files (format version 1.0) of little-endian `float32`, the
//! interchange format of feature output and the feature cache.

use std::io::{self, Read, Write};

const MAGIC: &[u8] = b"\x93NUMPY";

/// Writes a C-order `float32` array of `shape` holding `data`.
pub fn write_f32<W: Write>(mut out: W, shape: &[usize], data: &[f32]) -> io::Result<()> {
    assert_eq!(
        shape.iter().product::<usize>(),
        data.len(),
        "shape must cover the data"
    );
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    // Magic (6) + version (2) + length (2) + header + newline is padded to 64 bytes.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    out.write_all(MAGIC)?;
    out.write_all(&[1, 0])?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    let mut bytes = Vec::with_capacity(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&bytes)
}

/// Reads a C-order little-endian `float32` array: its shape and data.
pub fn read_f32<R: Read>(mut input: R) -> io::Result<(Vec<usize>, Vec<f32>)> {
    let invalid = |msg: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a float32 .npy file: {msg}"),
        )
    };
    let mut preamble = [0u8; 10];
    input.read_exact(&mut preamble)?;
    if &preamble[..6] != MAGIC {
        return Err(invalid("bad magic"));
    }
    let header_len = match preamble[6] {
        1 => u16::from_le_bytes([preamble[8], preamble[9]]) as usize,
        2 | 3 => {
            let mut rest = [0u8; 2];
            input.read_exact(&mut rest)?;
            u32::from_le_bytes([preamble[8], preamble[9], rest[0], rest[1]]) as usize
        }
        v => return Err(invalid(&format!("version {v}"))),
    };
    let mut header = vec![0u8; header_len];
    input.read_exact(&mut header)?;
    let header = String::from_utf8_lossy(&header);
    if !header.contains("'descr': '<f4'") || !header.contains("'fortran_order': False") {
        return Err(invalid(&format!("header {header:?}")));
    }
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| invalid("no shape"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| invalid("bad shape")))
        .collect::<io::Result<Vec<_>>>()?;
    let count: usize = shape.iter().product();
    let mut bytes = vec![0u8; count * 4];
    input.read_exact(&mut bytes)?;
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, data))
}
