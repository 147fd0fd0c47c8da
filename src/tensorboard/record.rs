//! TFRecord framing, the container of TensorBoard event files: each record is
//! `u64 length`, `u32 masked CRC-32C of the length bytes`, the data, and
//! `u32 masked CRC-32C of the data`, all little-endian.

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven.
pub fn crc32c(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut crc = i as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
            *slot = crc;
        }
        table
    });
    let mut crc = !0u32;
    for &b in bytes {
        crc = table[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TensorFlow's masking of a stored CRC (so a CRC of CRCs is not trivially zero).
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c(bytes);
    (crc.rotate_right(15)).wrapping_add(0xA282_EAD8)
}

/// One framed record holding `data`.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// Splits framed bytes back into records, checking both CRCs; `None` at the
/// first damaged or cut record (a live file may end mid-record).
pub fn unframe(mut bytes: &[u8]) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Some(record) = next_record(bytes) else {
            out.push(None);
            break;
        };
        out.push(Some(bytes[12..12 + record].to_vec()));
        bytes = &bytes[record + 16..];
    }
    out
}

fn next_record(bytes: &[u8]) -> Option<usize> {
    let length_bytes: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let length_crc = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
    if masked_crc(&length_bytes) != length_crc {
        return None;
    }
    let length = usize::try_from(u64::from_le_bytes(length_bytes)).ok()?;
    let data = bytes.get(12..12usize.checked_add(length)?)?;
    let data_crc = u32::from_le_bytes(bytes.get(12 + length..16 + length)?.try_into().ok()?);
    (masked_crc(data) == data_crc).then_some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_values() {
        // RFC 3720 (iSCSI) B.4 check value and the standard "123456789" check.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn frames_round_trip_and_damage_is_caught() {
        let mut bytes = frame(b"first");
        bytes.extend(frame(b""));
        bytes.extend(frame(b"third"));
        let records = unframe(&bytes);
        assert_eq!(
            records,
            vec![
                Some(b"first".to_vec()),
                Some(Vec::new()),
                Some(b"third".to_vec())
            ]
        );
        let mut damaged = bytes.clone();
        damaged[14] ^= 1;
        assert_eq!(unframe(&damaged), vec![None]);
        let cut = &bytes[..bytes.len() - 2];
        assert_eq!(unframe(cut).last(), Some(&None));
    }
}
