//! Where a JSON container ends, found from its structure alone: quotes, backslashes and
//! brackets, 64 bytes at a time, without validating anything in between.
//!
//! This is the first stage of simdjson (a bitmask per kind of byte, the in-string mask by
//! a prefix XOR of the unescaped quotes) reduced to what skipping needs: brackets outside
//! strings are counted until the one that closes the container. It is what
//! [`crate::Matcher::matches_trusted_str_into`] skips unnamed subtrees with, for text
//! already known to be valid JSON; on invalid text it returns *some* position or `None`,
//! never reads out of bounds and never panics.
//!
//! The masks of a block come from AVX2 when the CPU has it (checked at run time with
//! `is_x86_feature_detected!`), else from a portable loop; both give the same masks for
//! every block, and the tests check that they do.

/// The bytes of one 64-byte block that matter for structure, one bit per byte (bit `i`
/// for byte `i`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
}

/// How a block's masks are computed.
trait Classify {
    fn masks(block: &[u8; 64]) -> Masks;

    /// The bytes of `block` equal to one of `set`.
    fn any_of(block: &[u8; 64], set: &[u8]) -> u64;

    /// Bit `i` of the result is the XOR of bits `0..=i` of `x`.
    #[inline(always)]
    fn prefix_xor(x: u64) -> u64 {
        prefix_xor(x)
    }
}

/// Any CPU: a byte at a time (which the compiler vectorizes where it can).
struct Portable;

impl Classify for Portable {
    #[inline(always)]
    fn masks(block: &[u8; 64]) -> Masks {
        let mut m = Masks::default();
        for (i, &b) in block.iter().enumerate() {
            // `{` and `[` differ only in bit 5, as do `}` and `]`.
            let folded = b | 0x20;
            m.quote |= u64::from(b == b'"') << i;
            m.backslash |= u64::from(b == b'\\') << i;
            m.open |= u64::from(folded == b'{') << i;
            m.close |= u64::from(folded == b'}') << i;
        }
        m
    }

    #[inline(always)]
    fn any_of(block: &[u8; 64], set: &[u8]) -> u64 {
        let mut m = 0u64;
        for (i, b) in block.iter().enumerate() {
            m |= u64::from(set.contains(b)) << i;
        }
        m
    }
}

#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    fn masks(block: &[u8; 64]) -> Masks {
        // SAFETY: `Avx2` is only used by `end_avx2`, which is only called after
        // `is_x86_feature_detected!("avx2")` said the CPU has AVX2.
        unsafe { masks_avx2(block) }
    }

    #[inline(always)]
    fn any_of(block: &[u8; 64], set: &[u8]) -> u64 {
        // SAFETY: as above.
        unsafe { any_of_avx2(block, set) }
    }

    #[inline(always)]
    fn prefix_xor(x: u64) -> u64 {
        // SAFETY: as above; `end_avx2` also requires `pclmulqdq`.
        unsafe { prefix_xor_clmul(x) }
    }
}

/// [`prefix_xor`] as one carry-less multiplication by all ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set1_epi8, _mm_set_epi64x,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// [`Portable::masks`] with AVX2: two 32-byte halves, four comparisons each.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn masks_avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    let mut m = Masks::default();
    for half in 0..2 {
        // SAFETY: `block` is 64 bytes, so the 32 bytes at `32 * half` (0 or 32) are inside
        // it; `loadu` has no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * half).cast::<__m256i>()) };
        let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        let shift = 32 * half;
        let quote = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)));
        let backslash = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)));
        let open = _mm256_movemask_epi8(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'{' as i8)));
        let close = _mm256_movemask_epi8(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8)));
        m.quote |= u64::from(quote as u32) << shift;
        m.backslash |= u64::from(backslash as u32) << shift;
        m.open |= u64::from(open as u32) << shift;
        m.close |= u64::from(close as u32) << shift;
    }
    m
}

/// [`Portable::any_of`] with AVX2: one comparison per byte of `set` and half block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn any_of_avx2(block: &[u8; 64], set: &[u8]) -> u64 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_setzero_si256,
    };
    let mut m = 0u64;
    for half in 0..2 {
        // SAFETY: as in `masks_avx2`.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * half).cast::<__m256i>()) };
        let mut hits = _mm256_setzero_si256();
        for &b in set {
            hits = _mm256_or_si256(hits, _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8)));
        }
        m |= u64::from(_mm256_movemask_epi8(hits) as u32) << (32 * half);
    }
    m
}

/// Where the object or array whose opening bracket is at `start` ends (just past its
/// closing bracket), if `bytes` is valid JSON there; `None` if no bracket closes it.
/// Nothing inside is validated, and `{` may be closed by `]`: the caller vouches for the
/// text.
#[inline]
pub(crate) fn container_end(bytes: &[u8], start: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features `end_avx2` enables.
        return unsafe { end_avx2(bytes, start) };
    }
    end_with::<Portable>(bytes, start)
}

/// Whether the CPU has what [`end_avx2`] needs (every AVX2 CPU has the other two).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
}

/// [`container_end`] compiled with AVX2 (and `popcnt`, `pclmulqdq`), so that
/// [`masks_avx2`] and [`prefix_xor_clmul`] inline into its loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,pclmulqdq")]
fn end_avx2(bytes: &[u8], start: usize) -> Option<usize> {
    end_with::<Avx2>(bytes, start)
}

/// The scan, whichever way masks are computed.
#[inline(always)]
fn end_with<C: Classify>(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    // Open brackets (outside strings) not yet closed, before the current block.
    let mut depth = 0u64;
    // All ones when the previous block ended inside a string.
    let mut in_string = 0u64;
    // 1 when the previous block ended with a backslash that escapes this block's first byte.
    let mut carry = 0u64;
    loop {
        let masks = match bytes.get(pos..pos + 64) {
            Some(chunk) => C::masks(chunk.try_into().ok()?),
            None => {
                let rest = bytes.get(pos..).filter(|rest| !rest.is_empty())?;
                // Zero bytes classify as nothing.
                let mut block = [0u8; 64];
                block[..rest.len()].copy_from_slice(rest);
                C::masks(&block)
            }
        };
        let escaped = escaped_bytes(masks.backslash, &mut carry);
        // Bit set from an opening quote up to (not including) its closing quote.
        let strings = C::prefix_xor(masks.quote & !escaped) ^ in_string;
        in_string = ((strings as i64) >> 63) as u64;
        let open = masks.open & !strings;
        let close = masks.close & !strings;
        let closes = u64::from(close.count_ones());
        if closes == 0 || closes < depth {
            // The depth cannot reach zero in this block.
            depth = depth + u64::from(open.count_ones()) - closes;
        } else {
            let mut brackets = open | close;
            while brackets != 0 {
                let bit = brackets & brackets.wrapping_neg();
                if open & bit != 0 {
                    depth += 1;
                } else {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(pos + bit.trailing_zeros() as usize + 1);
                    }
                }
                brackets ^= bit;
            }
        }
        pos += 64;
    }
}

/// For the object whose `{` is at `start`, when it is *flat* (no object or array inside
/// it, no backslash anywhere in it): calls `string` with the position of the opening
/// quote of every string in it whose first byte is one of `first` (keys and values alike,
/// in order; others too, at times), and returns where the object ends (just past its
/// `}`) and how many strings it holds. `None` as soon as the object proves not flat, or `string`
/// returns `false`: the caller then walks it the careful way, so `string` must only
/// note what it saw until the end is known.
///
/// A walked object whose children are all leaves is read this way in trusted mode
/// ([`crate::Matcher::matches_trusted_str_into`]): without backslashes every quote
/// delimits a string, so the opening quotes are found 64 bytes at a time and only those
/// are compared with the names patterns use, instead of stepping over each key and
/// value. Nothing is validated; on invalid text the answer is some position or `None`.
#[inline]
pub(crate) fn flat_object(
    bytes: &[u8],
    start: usize,
    first: &[u8],
    string: impl FnMut(usize) -> bool,
) -> Option<(usize, usize)> {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU has the features `flat_avx2` enables.
        return unsafe { flat_avx2(bytes, start, first, string) };
    }
    flat_with::<Portable>(bytes, start, first, string)
}

/// [`flat_object`] compiled with AVX2 (and `pclmulqdq`), as [`end_avx2`] is.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,pclmulqdq")]
fn flat_avx2(
    bytes: &[u8],
    start: usize,
    first: &[u8],
    string: impl FnMut(usize) -> bool,
) -> Option<(usize, usize)> {
    flat_with::<Avx2>(bytes, start, first, string)
}

/// The scan of [`flat_object`], whichever way masks are computed.
#[inline(always)]
fn flat_with<C: Classify>(
    bytes: &[u8],
    start: usize,
    first: &[u8],
    mut string: impl FnMut(usize) -> bool,
) -> Option<(usize, usize)> {
    let mut pos = start;
    let mut strings_seen = 0;
    // All ones when the previous block ended inside a string.
    let mut in_string = 0u64;
    // The object's own `{`, bit 0 of the first block.
    let mut own = 1u64;
    loop {
        let mut padded = [0u8; 64];
        let block: &[u8; 64] = match bytes.get(pos..pos + 64) {
            Some(chunk) => chunk.try_into().ok()?,
            None => {
                let rest = bytes.get(pos..).filter(|rest| !rest.is_empty())?;
                padded[..rest.len()].copy_from_slice(rest);
                &padded
            }
        };
        let masks = C::masks(block);
        // The bytes before the block's first backslash: there, every quote delimits.
        let plain = masks.backslash.wrapping_sub(1) & !masks.backslash;
        let strings = C::prefix_xor(masks.quote) ^ in_string;
        in_string = ((strings as i64) >> 63) as u64;
        let brackets = (masks.open | masks.close) & !strings & !own & plain;
        own = 0;
        let (before, end) = if brackets != 0 {
            let first = brackets & brackets.wrapping_neg();
            if masks.open & first != 0 {
                return None;
            }
            (first - 1, Some(pos + first.trailing_zeros() as usize + 1))
        } else if plain != u64::MAX {
            return None;
        } else {
            (u64::MAX, None)
        };
        // A quote followed by one of `first` (the next block's first byte is not looked at).
        let followed = (C::any_of(block, first) >> 1) | 1 << 63;
        strings_seen += (masks.quote & strings & before).count_ones() as usize;
        let mut opening = masks.quote & strings & before & followed;
        while opening != 0 {
            if !string(pos + opening.trailing_zeros() as usize) {
                return None;
            }
            opening &= opening - 1;
        }
        if let Some(end) = end {
            return Some((end, strings_seen));
        }
        pos += 64;
    }
}

/// The bytes a backslash escapes, given the block's backslashes and `carry` (1 when the
/// previous block's last byte was an escaping backslash); updates `carry` for the next
/// block. One step per escape: events have few.
#[inline(always)]
fn escaped_bytes(backslash: u64, carry: &mut u64) -> u64 {
    let mut escaped = *carry;
    *carry = 0;
    // Escaping backslashes, lowest first; an escaped backslash escapes nothing.
    let mut escapes = backslash & !escaped;
    while escapes != 0 {
        let i = escapes.trailing_zeros();
        if i == 63 {
            *carry = 1;
        } else {
            escaped |= 1 << (i + 1);
        }
        escapes &= !(1 << i) & !escaped;
    }
    escaped
}

/// Bit `i` of the result is the XOR of bits `0..=i` of `x`.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every implementation the CPU running the tests has, by name.
    fn ends(bytes: &[u8], start: usize) -> Vec<(&'static str, Option<usize>)> {
        #[allow(unused_mut)]
        let mut ends = vec![("portable", end_with::<Portable>(bytes, start))];
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU has the features `end_avx2` enables.
            ends.push(("avx2", unsafe { end_avx2(bytes, start) }));
        }
        ends
    }

    /// The end every implementation finds, which must be the same; and for valid JSON,
    /// where the validating skip ends.
    fn agreed_end(text: &[u8], start: usize) -> Option<usize> {
        let ends = ends(text, start);
        for (name, end) in &ends {
            assert_eq!(
                *end,
                ends[0].1,
                "{name} vs portable on {:?}",
                String::from_utf8_lossy(text)
            );
        }
        ends[0].1
    }

    fn check_valid(text: &str) {
        let validated = crate::skip::skip(text.as_bytes(), 0, 0, 10_000);
        assert!(validated.is_some(), "not valid JSON: {text}");
        assert_eq!(agreed_end(text.as_bytes(), 0), validated, "{text}");
        // The same value with text after it, and at every offset in a 64-byte block.
        for lead in [1, 31, 63, 64, 65] {
            let shifted = format!("{}{text}, \"]\"}}", " ".repeat(lead));
            assert_eq!(
                agreed_end(shifted.as_bytes(), lead),
                validated.map(|end| end + lead),
                "{shifted}"
            );
        }
    }

    #[test]
    fn containers_end_where_the_validating_skip_ends() {
        for text in [
            "{}",
            "[]",
            r#"{"a": [1, {"b": "}"}], "c": "]\"]"}"#,
            r#"["\\", "\\\"", "\\\\\"]", "[{"]"#,
            r#"{"k\"}": {"\\\\": "\\\\\\\\"}}"#,
            r#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
        ] {
            check_valid(text);
        }
    }

    /// A string whose backslashes fall on every position around a block boundary: the
    /// escape carried from one block into the next.
    #[test]
    fn escapes_across_block_boundaries() {
        for run in 1..6 {
            for lead in 50..70 {
                let content = format!("{}{}", "x".repeat(lead), "\\".repeat(2 * run));
                // An even run escapes itself, and the quote after it closes the string.
                check_valid(&format!("[\"{content}\", \"{content}\\\"]\"]"));
            }
        }
    }

    #[test]
    fn unclosed_containers_have_no_end() {
        for text in ["[", "{\"a\": [1, 2]", "[\"]\"", "[\"\\\"]", "{\"a\": \"}"] {
            assert_eq!(agreed_end(text.as_bytes(), 0), None, "{text}");
        }
    }

    fn json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| f.to_string()),
            // Strings of the bytes that matter, escaped as JSON escapes them.
            proptest::collection::vec(
                prop_oneof![
                    Just('"'),
                    Just('\\'),
                    Just('{'),
                    Just('}'),
                    Just('['),
                    Just(']'),
                    Just('a'),
                    Just('é')
                ],
                0..40
            )
            .prop_map(|chars| serde_json::Value::String(chars.into_iter().collect()).to_string()),
        ];
        leaf.prop_recursive(6, 200, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(|fields| {
                    let fields: Vec<String> = fields
                        .into_iter()
                        .map(|(k, v)| {
                            let key = serde_json::Value::String(k).to_string();
                            format!("{key}:{v}")
                        })
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn valid_json_ends_where_the_validating_skip_ends(inner in json()) {
            check_valid(&format!("[{inner}]"));
            check_valid(&format!("{{\"k\": {inner}}}"));
        }

        /// Any bytes: the implementations agree, and nothing panics.
        #[test]
        fn implementations_agree_on_any_bytes(
            bytes in proptest::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b'\\'), Just(b'{'), Just(b'}'), Just(b'['), Just(b']'),
                    Just(b'x'), Just(0u8), any::<u8>()
                ],
                0..300
            ),
            start in 0usize..300
        ) {
            agreed_end(&bytes, start);
            agreed_flat(&bytes, start, b"\"x");
            let masks_of = |at: usize| {
                let mut block = [0u8; 64];
                let rest = bytes.get(at..).unwrap_or_default();
                let n = rest.len().min(64);
                block[..n].copy_from_slice(&rest[..n]);
                block
            };
            let block = masks_of(start.min(bytes.len()));
            let set = [b'x', bytes.first().copied().unwrap_or(b'"')];
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                prop_assert_eq!(Portable::masks(&block), Avx2::masks(&block));
                prop_assert_eq!(Portable::any_of(&block, &set), Avx2::any_of(&block, &set));
                let quotes = Portable::masks(&block).quote;
                prop_assert_eq!(Portable::prefix_xor(quotes), Avx2::prefix_xor(quotes));
            }
            let _ = set;
            let _ = block;
        }
    }

    /// [`flat_object`] by every implementation the CPU has, which must agree: the
    /// opening quotes it reported and the end.
    fn agreed_flat(
        bytes: &[u8],
        start: usize,
        first: &[u8],
    ) -> (Vec<usize>, Option<(usize, usize)>) {
        let mut seen = Vec::new();
        let end = flat_with::<Portable>(bytes, start, first, |q| {
            seen.push(q);
            true
        });
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            let mut avx2 = Vec::new();
            // SAFETY: the CPU has the features `flat_avx2` enables.
            let end2 = unsafe {
                flat_avx2(bytes, start, first, |q| {
                    avx2.push(q);
                    true
                })
            };
            assert_eq!(
                (&avx2, end2),
                (&seen, end),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        (seen, end)
    }

    #[test]
    fn flat_objects_report_their_strings_and_end() {
        for lead in [0, 1, 30, 62, 63, 64, 65, 127] {
            let pad = " ".repeat(lead);
            let object = r#"{"ab": "b", "b": 1, "ba": true, "c": "ab"}"#;
            let text = format!("{pad}{object}, \"x\"");
            let (quotes, end) = agreed_flat(text.as_bytes(), lead, b"b");
            // Every string starting with `b`; a quote at a block's last byte is reported
            // whatever follows it.
            let expected: Vec<usize> = text
                .match_indices("\"b")
                .map(|(i, _)| i)
                .filter(|&i| i < lead + object.len())
                .collect();
            assert!(quotes.iter().all(|q| text.as_bytes()[*q] == b'"'), "{text}");
            let named: Vec<usize> = quotes
                .iter()
                .copied()
                .filter(|&q| text.as_bytes()[q + 1] == b'b')
                .collect();
            assert_eq!(named, expected, "{text}");
            // Six strings.
            assert_eq!(end, Some((lead + object.len(), 6)), "{text}");
        }
        // Not flat: a container inside, a backslash inside; flat with a backslash after.
        for (object, end) in [
            (r#"{"a": {"b": 1}}"#, None),
            (r#"{"a": [1]}"#, None),
            (r#"{"a": "\"}"}"#, None),
            (r#"{"a": "}"} "\""#, Some((10, 2))),
        ] {
            assert_eq!(agreed_flat(object.as_bytes(), 0, b"a").1, end, "{object}");
        }
        // `string` saying no ends the scan.
        assert_eq!(flat_object(br#"{"a": 1}"#, 0, b"a", |_| false), None);
    }

    #[test]
    fn prefix_xor_and_escapes() {
        assert_eq!(prefix_xor(0b1001), 0b0111);
        assert_eq!(prefix_xor(1 << 63), 1 << 63);
        let mut carry = 0;
        // `\\\"` at bits 0..4: bits 1 and 3 escaped.
        assert_eq!(escaped_bytes(0b0111, &mut carry), 0b1010);
        assert_eq!(carry, 0);
        assert_eq!(escaped_bytes(1 << 63, &mut carry), 0);
        assert_eq!(carry, 1);
        // The carried escape takes bit 0, a backslash, which then escapes nothing.
        assert_eq!(escaped_bytes(0b1, &mut carry), 0b1);
        assert_eq!(carry, 0);
    }
}
