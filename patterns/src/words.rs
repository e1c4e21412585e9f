//! Short byte strings as zero-padded little-endian words, so that hashing and comparing
//! them is integer work rather than a loop or a `memcmp` call.
//!
//! Loads overlap instead of copying byte by byte: a string of 8 to 16 bytes is its first
//! eight bytes and its last eight shifted down past the overlap. Reading only inside the
//! slice keeps this safe however the string sits in memory.

/// The little-endian word of `bytes[at..at + 8]` (which must be in bounds).
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Up to eight bytes as one word, zero above them.
#[inline(always)]
fn up_to_eight(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    debug_assert!(len <= 8);
    if len >= 4 {
        let mut low = [0u8; 4];
        let mut high = [0u8; 4];
        low.copy_from_slice(&bytes[..4]);
        high.copy_from_slice(&bytes[len - 4..]);
        // The last four bytes, with those also in the first four shifted out.
        u64::from(u32::from_le_bytes(low))
            | (u64::from(u32::from_le_bytes(high)) >> (8 * (8 - len))) << 32
    } else {
        bytes
            .iter()
            .rev()
            .fold(0u64, |word, &b| word << 8 | u64::from(b))
    }
}

/// `bytes` (at most 24) zero-padded into three words; `None` if longer.
#[inline(always)]
pub(crate) fn three_words(bytes: &[u8]) -> Option<[u64; 3]> {
    let len = bytes.len();
    Some(match len {
        0..=8 => [up_to_eight(bytes), 0, 0],
        9..=16 => [
            word_at(bytes, 0),
            word_at(bytes, len - 8) >> (8 * (16 - len)),
            0,
        ],
        17..=24 => [
            word_at(bytes, 0),
            word_at(bytes, 8),
            word_at(bytes, len - 8) >> (8 * (24 - len)),
        ],
        _ => return None,
    })
}

/// `bytes` (at most 15) zero-padded, with their length in the top byte: equal keys
/// are equal strings. `None` if longer.
#[inline(always)]
pub(crate) fn short_key(bytes: &[u8]) -> Option<u128> {
    let len = bytes.len();
    if len > 15 {
        return None;
    }
    let [low, high, _] = three_words(bytes)?;
    Some(u128::from(low) | u128::from(high) << 64 | (len as u128) << 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain way: copy into a zeroed buffer.
    fn padded(bytes: &[u8]) -> [u64; 3] {
        let mut buffer = [0u8; 24];
        buffer[..bytes.len()].copy_from_slice(bytes);
        let word = |i: usize| u64::from_le_bytes(buffer[8 * i..8 * i + 8].try_into().unwrap());
        [word(0), word(1), word(2)]
    }

    #[test]
    fn every_length_pads_like_a_copy() {
        // Bytes that differ at every position, inside a larger buffer so that the
        // overlapping loads have neighbours they must not pick up.
        let buffer: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 1).collect();
        for start in [0, 3, 8] {
            for len in 0..=24 {
                let bytes = &buffer[start..start + len];
                assert_eq!(three_words(bytes), Some(padded(bytes)), "length {len}");
            }
            assert_eq!(three_words(&buffer[start..start + 25]), None);
        }
    }

    #[test]
    fn short_keys_differ_for_different_strings() {
        let strings: [&[u8]; 8] = [
            b"",
            b"\0",
            b"\0\0",
            b"AAAAAAAA",
            b"AAAAAAAAA",
            b"Polygon",
            b"MultiPolygon",
            b"123456789012345",
        ];
        for (i, a) in strings.iter().enumerate() {
            for (j, b) in strings.iter().enumerate() {
                assert_eq!(short_key(a) == short_key(b), i == j, "{a:?} {b:?}");
            }
        }
        assert_eq!(short_key(b"1234567890123456"), None);
    }
}
