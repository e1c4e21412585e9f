//! The fast path for JSON no pattern looks inside: find where a value ends, and
//! whether it is valid, and nothing else.
//!
//! Most of an event takes this path (every coordinate of a polygon when no pattern names
//! them), so it is a single loop over the bytes with its state in registers. It answers
//! only "valid, ends here" or "invalid": on `None` the walker re-reads the value with its
//! careful path, which finds the exact error and its position. Errors are rare, so the
//! fast path never pays for reporting them, and it may also refuse valid input it finds
//! awkward (nesting near the depth limit) since the careful path has the final word.

use crate::number::number_end;

/// The byte at `i`, or 0 past the end (0 is never valid where the callers look).
#[inline(always)]
pub(crate) fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// Skips JSON whitespace at `i`; the common cases (none, or one space) cost one test.
#[inline(always)]
pub(crate) fn ws(bytes: &[u8], mut i: usize) -> usize {
    let c = at(bytes, i);
    if c > b' ' {
        return i;
    }
    if c == b' ' && at(bytes, i + 1) > b' ' {
        return i + 1;
    }
    while matches!(at(bytes, i), b' ' | b'\n' | b'\t' | b'\r') {
        i += 1;
    }
    i
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Offset of the first byte of `bytes[pos..]` that ends plain string content (quote,
/// backslash, control character), if any.
///
/// Eight bytes at a time (SWAR): in each mask below, the lowest flagged byte is a true
/// hit (a borrow can only flag bytes *above* a real one), so the lowest flag of their
/// union is the first stop byte.
#[inline(always)]
pub(crate) fn find_string_stop(bytes: &[u8], mut pos: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(chunk) = bytes.get(pos..pos + 16) {
        let hits = stops16(u128::from_le_bytes(chunk.try_into().ok()?), false);
        if hits != 0 {
            return Some(pos + hits.trailing_zeros() as usize);
        }
        pos += 16;
    }
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (LOW_BITS * u64::from(b'"'));
        let backslash = x ^ (LOW_BITS * u64::from(b'\\'));
        let zero_byte = |v: u64| v.wrapping_sub(LOW_BITS) & !v & HIGH_BITS;
        // Bytes below 0x20 (non-ASCII bytes have their top bit set and never flag).
        let control = x.wrapping_sub(LOW_BITS * 0x20) & !x & HIGH_BITS;
        let hits = zero_byte(quote) | zero_byte(backslash) | control;
        if hits != 0 {
            return Some(pos + (hits.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    while let Some(&b) = bytes.get(pos) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

/// Bit `i` set for each byte `i` of `word` (16 bytes, little-endian) that ends plain string
/// content (quote, backslash, control character) or, with `dot`, is a dot: SSE2, which
/// every x86-64 CPU has, 16 bytes in a few instructions.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(crate) fn stops16(word: u128, dot: bool) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x,
    };
    // SAFETY: these intrinsics need SSE2, which the cfg above guarantees this build
    // targets (it is part of x86-64 itself); they take no pointers.
    unsafe {
        let v = _mm_set_epi64x((word >> 64) as i64, word as i64);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Below 0x20, unsigned: the byte is its own minimum with 0x1f.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let mut hits = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        if dot {
            hits = _mm_or_si128(hits, _mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8)));
        }
        _mm_movemask_epi8(hits) as u32
    }
}

/// The end of the string whose content starts at `pos` (just after the opening quote).
#[inline(always)]
pub(crate) fn string(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let stop = find_string_stop(bytes, pos)?;
        match bytes[stop] {
            b'"' => return Some(stop + 1),
            b'\\' => {
                pos = stop + 2;
                match at(bytes, stop + 1) {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        let hex = bytes.get(pos..pos + 4)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        pos += 4;
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

/// Skips `"name" :` at `pos` (whitespace before it allowed).
#[inline(always)]
fn key(bytes: &[u8], pos: usize) -> Option<usize> {
    let pos = ws(bytes, pos);
    if at(bytes, pos) != b'"' {
        return None;
    }
    let end = string(bytes, pos + 1)?;
    // The usual separator, `": "`, in one comparison.
    if bytes.get(end..end + 2) == Some(b": ") {
        return Some(end + 2);
    }
    let pos = ws(bytes, end);
    (at(bytes, pos) == b':').then_some(pos + 1)
}

/// Where the value at `pos` (whitespace before it allowed), nested `depth` deep, ends,
/// or `None` if it is not valid JSON (or nests close to `max_depth`).
pub(crate) fn skip(bytes: &[u8], mut pos: usize, depth: usize, max_depth: usize) -> Option<usize> {
    if depth > max_depth {
        return None;
    }
    // Bit `l` set: the container open at level `l` is an object.
    let mut objects = [0u64; 8];
    let mut level = 0usize;
    let mut in_object = false;
    'value: loop {
        pos = ws(bytes, pos);
        let c = at(bytes, pos);
        match c {
            b'"' => pos = string(bytes, pos + 1)?,
            b'-' | b'0'..=b'9' => pos = number_end(bytes, pos)?,
            b'{' | b'[' => {
                pos = ws(bytes, pos + 1);
                // `{` + 2 is `}`, `[` + 2 is `]`.
                if at(bytes, pos) == c + 2 {
                    pos += 1;
                } else {
                    if depth + level + 1 > max_depth || level + 1 >= 64 * objects.len() {
                        return None;
                    }
                    in_object = c == b'{';
                    objects[level / 64] = objects[level / 64] & !(1 << (level % 64))
                        | u64::from(in_object) << (level % 64);
                    level += 1;
                    if in_object {
                        pos = key(bytes, pos)?;
                    }
                    continue 'value;
                }
            }
            b't' => pos = literal(bytes, pos, b"true")?,
            b'f' => pos = literal(bytes, pos, b"false")?,
            b'n' => pos = literal(bytes, pos, b"null")?,
            _ => return None,
        }
        // A value ended at `pos`: close what it ends, or go on to the next one.
        loop {
            if level == 0 {
                return Some(pos);
            }
            pos = ws(bytes, pos);
            let c = at(bytes, pos);
            if c == b',' {
                pos += 1;
                if in_object {
                    pos = key(bytes, pos)?;
                }
                continue 'value;
            }
            if c != if in_object { b'}' } else { b']' } {
                return None;
            }
            pos += 1;
            level -= 1;
            in_object = level > 0 && objects[(level - 1) / 64] >> ((level - 1) % 64) & 1 == 1;
        }
    }
}

#[inline(always)]
fn literal(bytes: &[u8], pos: usize, word: &[u8]) -> Option<usize> {
    (bytes.get(pos..pos + word.len()) == Some(word)).then_some(pos + word.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    // The walker's pieces: valid and broken tokens of every kind.
    use crate::flatten::tests::PIECES;

    /// The fast path accepts exactly what serde_json accepts (the careful path has the
    /// final word, but a fast path that accepted invalid JSON would never ask it).
    fn agrees_with_serde(text: &str) {
        let fast = skip(text.as_bytes(), 0, 0, 256);
        let parsed = serde_json::from_str::<serde_json::Value>(text);
        match (fast, &parsed) {
            (Some(end), _) if end == text.len() => {
                if let Err(e) = &parsed {
                    assert!(e.to_string().contains("out of range"), "{text:?}: {e}");
                }
            }
            // A valid value followed by more text: serde_json must fail on the rest only.
            (Some(end), _) => {
                let prefix = serde_json::from_str::<serde_json::Value>(&text[..end]);
                assert!(
                    prefix.is_ok() || prefix.is_err_and(|e| e.to_string().contains("out of range")),
                    "{text:?} up to {end}"
                );
                assert!(parsed.is_err() || text[end..].trim().is_empty(), "{text:?}");
            }
            (None, Ok(_)) => panic!("{text:?} is valid JSON"),
            (None, Err(_)) => {}
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        #[test]
        fn fast_skip_accepts_what_serde_json_accepts(
            parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..24)
        ) {
            agrees_with_serde(&parts.concat());
        }
    }

    /// Every byte value at every place of the word, with and without dots.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[test]
    fn sixteen_byte_stops_flag_exactly_the_stop_bytes() {
        for b in 0..=255u8 {
            for at in 0..16 {
                let mut word = [b'a'; 16];
                word[at] = b;
                for dot in [false, true] {
                    let stop = b == b'"' || b == b'\\' || b < 0x20 || (dot && b == b'.');
                    assert_eq!(
                        stops16(u128::from_le_bytes(word), dot),
                        u32::from(stop) << at,
                        "{b:#x} at {at}, dot {dot}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_skip_finds_value_ends() {
        for (text, end) in [
            ("1, 2", Some(1)),
            ("{\"a\": [1, {\"b\": null}]} ,", Some(23)),
            ("\"x\\\"y\"]", Some(6)),
            ("-0.5e+3}", Some(7)),
            ("[]", Some(2)),
            ("{ }", Some(3)),
            ("[1,]", None),
            ("{\"a\" 1}", None),
            ("{\"a\":1,}", None),
            ("01", Some(1)),
        ] {
            assert_eq!(skip(text.as_bytes(), 0, 0, 256), end, "{text:?}");
        }
        // Nesting at the limit is left to the careful path.
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        assert_eq!(skip(deep.as_bytes(), 0, 0, 256), None);
    }
}
