//! Numbers as EventBridge compares them.
//!
//! EventBridge (event-ruler) compares numbers by their IEEE-754 binary64 value, but only
//! when the decimal text converts to a double *exactly* (an AWS account id with 19 digits
//! does not); other numbers are compared as literal text. Ordering uses a monotone
//! transform of the double's bits, so `-0` sorts just below `0` and is not equal to it,
//! exactly as event-ruler's `ComparableNumber` does.

/// The order-preserving key of a comparable number, or `None` when the text is not a
/// finite number that a double represents exactly.
pub(crate) fn comparable_key(text: &str) -> Option<u64> {
    let (key, exact) = tentative(text)?;
    let exact = match exact {
        Some(known) => known,
        None => key_is_exact(text, key),
    };
    exact.then_some(key)
}

/// The key of the double nearest to `text` (cheap, and enough to find candidates), and
/// whether that double holds the text exactly when the digits alone tell (`None`: ask [`key_is_exact`]).
///
/// Events carry numbers by the dozen (every coordinate of a polygon), so the common
/// shapes (at most 19 significant digits, a decimal exponent within ±22) are converted
/// with integer arithmetic by [`FastNumber`]; anything else takes the standard library's
/// parser, and exactness its careful check.
pub(crate) fn tentative(text: &str) -> Option<(u64, Option<bool>)> {
    if let Some(fast) = FastNumber::parse(text) {
        if let Some(value) = fast.value() {
            return Some((key_of(value), fast.exact()));
        }
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then(|| (key_of(value), None))
}

/// Where the double nearest to a number's text lies, as cheaply as that can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NearKey {
    /// The key of the nearest double, or with `slack`, a key at most `slack` doubles
    /// away from it.
    pub key: u64,
    pub slack: u64,
    /// With no slack: whether that double holds the text exactly, when the digits
    /// alone tell (as in [`tentative`]).
    pub exact: Option<bool>,
}

/// How far (in doubles) [`near_key`]'s estimate may be from the nearest double: at most
/// three roundings of half a unit each (mantissa, reciprocal power of ten, product) put
/// it within three units of the exact value, and so within four of the nearest double;
/// crossing a power of two can double the count below it. Eight still leaves the window
/// far narrower than any gap between the numbers rules name.
pub(crate) const NEAR_SLACK: u64 = 8;

impl NearKey {
    /// The key of an estimate of the value (see [`near_key`]).
    pub(crate) fn estimated(value: f64) -> NearKey {
        NearKey {
            key: key_of(value),
            slack: NEAR_SLACK,
            exact: None,
        }
    }
}

/// The keys within `slack` of `key`: where the nearest double's key may be.
pub(crate) fn window(key: u64, slack: u64) -> (u64, u64) {
    (key.saturating_sub(slack), key.saturating_add(slack))
}

/// The part of a sorted key list within `low..=high`.
pub(crate) fn keys_within(sorted: &[u64], (low, high): (u64, u64)) -> &[u64] {
    let from = sorted.partition_point(|&k| k < low);
    let to = from + sorted[from..].partition_point(|&k| k <= high);
    &sorted[from..to]
}

/// [`tentative`] without its costliest step: a decimal with more significant digits than
/// a double holds and a negative exponent (a coordinate such as `-122.42916360922355`)
/// needs a 128-bit division to round correctly. Here it is estimated with two floating
/// point operations instead, which is enough for an index to find (a superset of) the
/// conditions the number may satisfy; verification settles the exact key only for the
/// few candidates that need it.
#[inline]
pub(crate) fn near_key(text: &str) -> Option<NearKey> {
    if let Some(value) = estimate_decimal(text.as_bytes()) {
        return Some(NearKey::estimated(value));
    }
    if let Some(fast) = FastNumber::parse(text) {
        if fast.mantissa > 1 << 53 && (-22..0).contains(&fast.exponent) {
            let magnitude = fast.mantissa as f64 / POW10_F64[fast.exponent.unsigned_abs() as usize];
            return Some(NearKey::estimated(if fast.negative {
                -magnitude
            } else {
                magnitude
            }));
        }
        if let Some(value) = fast.value() {
            return Some(NearKey {
                key: key_of(value),
                slack: 0,
                exact: fast.exact(),
            });
        }
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then(|| NearKey {
        key: key_of(value),
        slack: 0,
        exact: None,
    })
}

/// The value of a plain decimal (`-?digits.digits`, no exponent) with 16 to 19
/// significant digits, within [`NEAR_SLACK`] doubles of the nearest: the shape of every
/// coordinate, read without trimming zeros or rounding exactly, since whether such text
/// is exact is never known from its digits anyway. `None` for any other shape.
#[inline]
fn estimate_decimal(bytes: &[u8]) -> Option<f64> {
    let int_start = usize::from(bytes.first() == Some(&b'-'));
    let int_end = skip_digits(bytes, int_start);
    if bytes.get(int_end) != Some(&b'.') || int_end == int_start {
        return None;
    }
    if skip_digits(bytes, int_end + 1) != bytes.len() {
        return None;
    }
    estimate_plain(bytes, int_start, int_end)
}

/// [`estimate_decimal`] of `bytes` read as `-?digits.digits` with the integer digits at
/// `int_start..int_end` (so `int_start` is 1 exactly when there is a minus sign), a dot,
/// and fraction digits up to the end of `bytes` (all checked by the caller).
#[inline(always)]
fn estimate_plain(bytes: &[u8], int_start: usize, int_end: usize) -> Option<f64> {
    let (mantissa, frac_len) = plain_digits(bytes, int_start, int_end)?;
    Some(estimate_of(mantissa as f64, frac_len, int_start == 1))
}

/// `±mantissa × 10^-frac_len` within [`NEAR_SLACK`] doubles: a multiplication by the
/// (rounded) reciprocal instead of a division, much quicker at the cost of one more
/// rounding. The mantissa comes converted: callers that know it is below 2^63 convert it
/// as signed, one instruction (an unsigned conversion is five on x86-64, and LLVM turns a
/// choice between the two into the unsigned one).
#[inline(always)]
fn estimate_of(mantissa: f64, frac_len: usize, negative: bool) -> f64 {
    let magnitude = mantissa * NEG_POW10_F64[frac_len];
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The exact key of `±mantissa × 10^-frac_len` for at most 15 digits: both operands
/// are doubles exactly, so one division rounds correctly, and such text is always the
/// shortest form of its double.
#[inline(always)]
fn exact_plain(mantissa: u64, frac_len: usize, negative: bool) -> NearKey {
    // (Below 10^15: the signed conversion, see `estimate_of`.)
    let magnitude = mantissa as i64 as f64 / POW10_F64[frac_len];
    NearKey {
        key: key_of(if negative { -magnitude } else { magnitude }),
        slack: 0,
        exact: Some(true),
    }
}

/// The digits of a plain decimal laid out as [`estimate_plain`] reads it, as an
/// integer, and how many of them follow the dot: the text is `mantissa × 10^-frac_len`.
/// `None` unless there are 16 to 19 digits (fewer take the exact path; more do not fit
/// a `u64`), some after the dot, and all after the dot are digits (the integer digits
/// the caller checked).
#[inline(always)]
fn plain_digits(bytes: &[u8], int_start: usize, int_end: usize) -> Option<(u64, usize)> {
    let frac = int_end + 1;
    let frac_len = bytes.len().checked_sub(frac)?;
    let digits = int_end - int_start + frac_len;
    if !(16..=19).contains(&digits) || frac_len == 0 {
        return None;
    }
    let mut int = 0u64;
    for &b in &bytes[int_start..int_end] {
        int = int * 10 + u64::from(b - b'0');
    }
    Some((
        int * POW10_U128[frac_len] as u64 + digits_value(bytes, frac)?,
        frac_len,
    ))
}

/// The key of the double nearest to the plain decimal `text` (`-?digits.digits`, as
/// [`estimate_decimal`] reads it) and whether that double holds it exactly, given
/// `estimate`, a key within [`NEAR_SLACK`] of the nearest double's.
///
/// This is how verification settles a coordinate, so it avoids the two costly steps of
/// [`tentative`] and [`key_is_exact`] (a 128-bit division, a shortest-form conversion).
/// With `text = D × 10^-k` and a candidate double `m × 2^-f`, both scaled by
/// `2^(f+1) × 10^k` are integers: `D << (f+1)` and `2m × 10^k`, half a unit of the
/// double is `10^k`, and a unit of the text's last digit is `1 << (f+1)`. So exact
/// integer comparisons move the candidate to the nearest double, then tell whether
/// `text` is its shortest form: the shortest form has the fewest digits within half a
/// unit of the double and, among those, is the closest to it. `text` (whose last
/// digit is not zero) is that exactly when no multiple of ten units lies within half a
/// unit of the double, and no other decimal of its length lies closer.
///
/// `None` for other shapes and for the cases these comparisons leave open (a tie at
/// any boundary, a power of two, a trailing zero, numbers out of range): the careful
/// path decides those.
pub(crate) fn settle_plain(text: &str, estimate: u64) -> Option<(u64, bool)> {
    let (decimal, scale, negative) = read_plain(text.as_bytes())?;
    if decimal % 10 == 0 {
        return None;
    }
    let estimate = value_of(estimate);
    let bits = estimate.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if (bits >> 63 == 1) != negative || biased == 0 || biased == 0x7ff {
        return None;
    }
    // The estimate is m × 2^-f, with m's leading bit at 2^52.
    let mut m = (bits & ((1 << 52) - 1)) | (1 << 52);
    let f = 1075 - biased;
    if !(1..=63).contains(&f) {
        return None;
    }
    let shift = (f + 1) as u32;
    let target = u128::from(decimal) << shift;
    let half = u128::from(POW10_U128[scale] as u64);
    // (Widening products of 64-bit operands: one multiplication each.)
    let mut candidate = u128::from(2 * m) * half;
    for _ in 0..=NEAR_SLACK {
        if target > candidate + half {
            m += 1;
            candidate += 2 * half;
        } else if target + half < candidate {
            m -= 1;
            candidate -= 2 * half;
        } else {
            break;
        }
    }
    // A power of two has a narrower half-unit below it; outside (1 << 52, 1 << 53)
    // the steps crossed into another binade.
    let off = target.abs_diff(candidate);
    if off >= half || !((1 << 52) + 1..1 << 53).contains(&m) {
        return None;
    }
    let unit = 1u128 << shift;
    let below = u128::from(decimal - decimal % 10) << shift;
    let above = below + (10 << shift);
    let (low, high) = (candidate - half, candidate + half);
    if off * 2 == unit || below == low || above == high {
        return None;
    }
    let closest = off * 2 < unit;
    let shorter = below > low || above < high;
    let magnitude = f64::from_bits((bits & (0x7ff << 52)) | (m & ((1 << 52) - 1)));
    let value = if negative { -magnitude } else { magnitude };
    Some((key_of(value), closest && !shorter))
}

/// A plain decimal `-?digits.digits` of 16 to 19 digits, some after the dot, as
/// `(D, k, negative)` with the text `±D × 10^-k` (see [`plain_digits`], whose digit
/// check makes this a single pass over the fraction). `None` for any other text.
#[inline(always)]
fn read_plain(bytes: &[u8]) -> Option<(u64, usize, bool)> {
    let negative = bytes.first() == Some(&b'-');
    let int_start = usize::from(negative);
    let int_end = skip_digits(bytes, int_start);
    if int_end == int_start || bytes.get(int_end) != Some(&b'.') {
        return None;
    }
    let (decimal, scale) = plain_digits(bytes, int_start, int_end)?;
    Some((decimal, scale, negative))
}

/// Validates the JSON number at `pos` (as [`number_end`] does) and, when it is a plain
/// decimal that [`estimate_decimal`] reads, estimates it in the same pass: the walker
/// hands named numbers over with their estimate, so coordinates are scanned once.
#[inline(always)]
pub(crate) fn scan_number(bytes: &[u8], pos: usize) -> Option<(usize, Option<NearKey>)> {
    if let Some((end, near)) = scan_plain(bytes, pos) {
        return Some((end, Some(near)));
    }
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let int_start = pos + usize::from(at(pos) == b'-');
    let int_end = match at(int_start) {
        b'0' => int_start + 1,
        b'1'..=b'9' => skip_digits(bytes, int_start + 1),
        _ => return None,
    };
    if at(int_end) != b'.' {
        // Integers below 10^15 (`0`, counts, sizes) are doubles exactly.
        if at(int_end) | 0x20 != b'e' && int_end - int_start <= 15 {
            let mut magnitude = 0u64;
            for &b in &bytes[int_start..int_end] {
                magnitude = magnitude * 10 + u64::from(b - b'0');
            }
            // (Below 10^15: the signed conversion, see `estimate_of`.)
            let magnitude = magnitude as i64 as f64;
            let value = if int_start > pos {
                -magnitude
            } else {
                magnitude
            };
            return Some((
                int_end,
                Some(NearKey {
                    key: key_of(value),
                    slack: 0,
                    exact: Some(true),
                }),
            ));
        }
        return number_end(bytes, pos).map(|end| (end, None));
    }
    let frac_end = skip_digits(bytes, int_end + 1);
    if frac_end == int_end + 1 {
        return None;
    }
    if at(frac_end) | 0x20 == b'e' {
        return number_end(bytes, pos).map(|end| (end, None));
    }
    let number = &bytes[pos..frac_end];
    Some((
        frac_end,
        plain_near_key(number, int_start - pos, int_end - pos),
    ))
}

/// [`scan_number`] for the shape of a coordinate, `-?digits.digits` with at most 18
/// digits and eight bytes to read past each group of fraction digits: the digits are
/// accumulated as they are scanned (eight at a time after the dot), so each byte is read
/// once, with no table larger than a register's worth of powers of ten. `None` for any
/// other shape, which [`scan_number`] then reads the general way.
#[inline(always)]
fn scan_plain(bytes: &[u8], pos: usize) -> Option<(usize, NearKey)> {
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let negative = at(pos) == b'-';
    let mut i = pos + usize::from(negative);
    let mut mantissa = u64::from(at(i).wrapping_sub(b'0'));
    if !(1..=9).contains(&mantissa) {
        // A leading zero (`0.5`) or no digit at all: the general way.
        return None;
    }
    i += 1;
    let mut int_digits = 1;
    loop {
        let digit = at(i).wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        if int_digits == 15 {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(digit);
        int_digits += 1;
        i += 1;
    }
    if at(i) != b'.' {
        return None;
    }
    let frac = i + 1;
    let mut digits = int_digits;
    i = frac;
    let end = loop {
        let chunk = bytes.get(i..i + 8)?;
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let stops = not_digits(word);
        let run = (stops.trailing_zeros() / 8) as usize;
        if digits + run > 18 {
            return None;
        }
        digits += run;
        if run == 8 {
            mantissa = mantissa * 100_000_000 + eight_digits(word);
            i += 8;
            continue;
        }
        if run > 0 {
            // The run's digits to the top of the word, zeros ('0') below them.
            let top = (word << (8 * (8 - run))) | (0x3030_3030_3030_3030 >> (8 * run));
            mantissa = mantissa * POW10_U64[run & 7] + eight_digits(top);
        }
        break i + run;
    };
    let frac_len = end - frac;
    if frac_len == 0 || at(end) | 0x20 == b'e' {
        return None;
    }
    let near = if digits <= 15 {
        exact_plain(mantissa, frac_len, negative)
    } else {
        // At most 18 digits: below 2^63.
        NearKey::estimated(estimate_of(mantissa as i64 as f64, frac_len, negative))
    };
    Some((end, near))
}

/// 10^k for k in 0..8.
const POW10_U64: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// The high bit of each byte of `word` that is not an ASCII digit (see [`skip_digits`]).
#[inline(always)]
fn not_digits(word: u64) -> u64 {
    let nibbles = ONES * 0xF0;
    let threes = ONES * 0x30;
    let off = ((word & nibbles) ^ threes) | ((word.wrapping_add(ONES * 6) & nibbles) ^ threes);
    (((off & !TOPS).wrapping_add(!TOPS)) | off) & TOPS
}

/// [`NearKey`] of a plain decimal laid out as [`estimate_plain`] reads it: with at
/// most 15 digits (a coordinate printed short), exact at once ([`exact_plain`]); with
/// 16 to 19, the estimate.
#[inline(always)]
fn plain_near_key(bytes: &[u8], int_start: usize, int_end: usize) -> Option<NearKey> {
    let frac = int_end + 1;
    let digits = (int_end - int_start) + bytes.len().saturating_sub(frac);
    if digits > 15 {
        return estimate_plain(bytes, int_start, int_end).map(NearKey::estimated);
    }
    let mantissa = accumulate(accumulate(0, &bytes[int_start..int_end]), &bytes[frac..]);
    Some(exact_plain(mantissa, bytes.len() - frac, int_start == 1))
}

/// The value of the ASCII digits `bytes[from..]` (at most 19, at least 8 bytes in
/// `bytes` in all): eight at a time, and the last partial group as the final eight
/// bytes with those before the group made '0'. `None` if any byte there is not a digit.
#[inline(always)]
fn digits_value(bytes: &[u8], from: usize) -> Option<u64> {
    let mut value = 0u64;
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        if not_digits(word) != 0 {
            return None;
        }
        value = value * 100_000_000 + eight_digits(word);
        at += 8;
    }
    let rest = bytes.len() - at;
    if rest > 0 {
        let window = bytes.get(bytes.len().checked_sub(8)?..)?;
        let word = u64::from_le_bytes(window.try_into().ok()?);
        // Little-endian: the bytes before the group are the word's low ones.
        let before = u64::MAX >> (8 * rest);
        let word = (word & !before) | (0x3030_3030_3030_3030 & before);
        if not_digits(word) != 0 {
            return None;
        }
        value = value * POW10_U64[rest] + eight_digits(word);
    }
    Some(value)
}

/// Eight ASCII digits in a little-endian word (first digit in the lowest byte) as a
/// number: three multiply-and-shift steps merge neighbours into pairs, quads, and all.
#[inline(always)]
fn eight_digits(word: u64) -> u64 {
    let v = word.wrapping_sub(0x3030_3030_3030_3030);
    let pairs = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    quads.wrapping_mul(10_000).wrapping_add(quads >> 32) & 0xffff_ffff
}

/// Whether the double behind `key` (from [`tentative`]) represents `text` exactly.
pub(crate) fn key_is_exact(text: &str, key: u64) -> bool {
    is_exact(text, value_of(key))
}

/// A JSON number read as `±mantissa × 10^exponent`, with at most 19 significant digits
/// (so the mantissa fits a `u64`) and no trailing zeros in the mantissa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FastNumber {
    negative: bool,
    mantissa: u64,
    exponent: i32,
    /// Significant digits of the mantissa (0 for zero).
    digits: u32,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const TOPS: u64 = 0x8080_8080_8080_8080;

/// Where the run of ASCII digits at `bytes[pos..]` ends.
///
/// Eight bytes at a time: coordinates carry 15 to 17 digits each, and a polygon has
/// dozens of them. A byte is a digit when both its high nibble and that of the byte
/// plus 6 are 3 (`0x30..=0x39`); valid UTF-8 has no byte above 0xF4, so adding 6 never
/// carries into the next byte.
#[inline(always)]
pub(crate) fn skip_digits(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let not_digit = not_digits(u64::from_le_bytes(word));
        if not_digit != 0 {
            return pos + (not_digit.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    pos
}

/// The end of the JSON number at `pos`, checked against JSON's grammar (the fast path
/// of `skip` and the walker's fallback for numbers it does not estimate).
#[inline(always)]
pub(crate) fn number_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + usize::from(byte_at(bytes, pos) == b'-');
    match byte_at(bytes, i) {
        b'0' => i += 1,
        b'1'..=b'9' => i = skip_digits(bytes, i + 1),
        _ => return None,
    }
    if byte_at(bytes, i) == b'.' {
        let end = skip_digits(bytes, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if byte_at(bytes, i) | 0x20 == b'e' {
        i += 1;
        if matches!(byte_at(bytes, i), b'+' | b'-') {
            i += 1;
        }
        let end = skip_digits(bytes, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

/// The byte at `i`, or 0 past the end (0 is never part of a number).
#[inline(always)]
fn byte_at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// Exact powers of ten as doubles (10^22 is the largest one a double holds).
static POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// 10^-k as the nearest doubles.
static NEG_POW10_F64: [f64; 23] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14,
    1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22,
];

/// 10^k for k in 0..=38, all below 2^128.
static POW10_U128: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut k = 1;
    while k < 39 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

impl FastNumber {
    /// Reads strict JSON number syntax; `None` for anything else or for more than 19
    /// significant digits (the careful path handles those).
    fn parse(text: &str) -> Option<FastNumber> {
        let bytes = text.as_bytes();
        let negative = bytes.first() == Some(&b'-');
        let mut i = usize::from(negative);
        let digits_from = |i: usize| skip_digits(bytes, i);
        let int_end = match bytes.get(i) {
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits_from(i),
            _ => return None,
        };
        let mut int = &bytes[i..int_end];
        i = int_end;
        let mut frac: &[u8] = &[];
        if bytes.get(i) == Some(&b'.') {
            let end = digits_from(i + 1);
            if end == i + 1 {
                return None;
            }
            frac = &bytes[i + 1..end];
            i = end;
        }
        let mut exponent: i64 = 0;
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            let minus = bytes.get(i) == Some(&b'-');
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let end = digits_from(i);
            if end == i {
                return None;
            }
            for &b in &bytes[i..end] {
                // Saturate: anything this large is far outside the fast range anyway.
                exponent = (exponent * 10 + i64::from(b - b'0')).min(1 << 40);
            }
            if minus {
                exponent = -exponent;
            }
            i = end;
        }
        if i != bytes.len() {
            return None;
        }
        // The digits of int ++ frac, scaled by 10^(exponent - frac.len()), without
        // leading or trailing zeros.
        exponent -= frac.len() as i64;
        while let [b'0', rest @ ..] = int {
            int = rest;
        }
        if int.is_empty() {
            while let [b'0', rest @ ..] = frac {
                frac = rest;
            }
        }
        while let [rest @ .., b'0'] = frac {
            frac = rest;
            exponent += 1;
        }
        if frac.is_empty() {
            while let [rest @ .., b'0'] = int {
                int = rest;
                exponent += 1;
            }
        }
        let digits = int.len() + frac.len();
        if digits > 19 {
            return None;
        }
        let mantissa = accumulate(accumulate(0, int), frac);
        Some(FastNumber {
            negative,
            mantissa,
            exponent: i32::try_from(exponent).ok()?,
            digits: digits as u32,
        })
    }

    /// The nearest double, correctly rounded (ties to even), or `None` outside the
    /// fast range (mantissa × 10^exponent with the exponent in -22..=19, or any
    /// exponent up to 22 for mantissas a double holds).
    fn value(&self) -> Option<f64> {
        let magnitude = if self.mantissa == 0 {
            0.0
        } else if self.mantissa <= 1 << 53 && self.exponent.unsigned_abs() <= 22 {
            // Both operands are exact doubles, so one IEEE operation rounds correctly.
            let m = self.mantissa as f64;
            let p = POW10_F64[self.exponent.unsigned_abs() as usize];
            if self.exponent >= 0 {
                m * p
            } else {
                m / p
            }
        } else if (0..=19).contains(&self.exponent) {
            // mantissa < 2^64 and 10^19 < 2^64: the product is exact in 128 bits.
            let product = u128::from(self.mantissa) * POW10_U128[self.exponent as usize];
            round_to_double(product, false, 0)?
        } else if (-22..0).contains(&self.exponent) {
            // Shift the mantissa to the top of 128 bits, so that the quotient keeps at
            // least 54 bits (2^127 / 10^22 > 2^53.9), and the remainder says whether
            // anything nonzero lies below them.
            let shift = self.mantissa.leading_zeros() + 64;
            let numerator = u128::from(self.mantissa) << shift;
            let divisor = POW10_U128[self.exponent.unsigned_abs() as usize];
            let quotient = numerator / divisor;
            let inexact = quotient * divisor != numerator;
            round_to_double(quotient, inexact, -(shift as i32))?
        } else {
            return None;
        };
        Some(if self.negative { -magnitude } else { magnitude })
    }

    /// Whether the nearest double holds this decimal exactly, when the digit count
    /// tells: up to 15 significant digits always round-trip through a double in its
    /// normal range (which every fast-path value lies in), so such text is the shortest
    /// form of its double; 18 or more never are, because the shortest form of a double
    /// has at most 17. With 16 or 17 it depends on the value.
    fn exact(&self) -> Option<bool> {
        match self.digits {
            0..=15 => Some(true),
            16 | 17 => None,
            _ => Some(false),
        }
    }
}

/// `mantissa` followed by the ASCII `digits` (at most 19 digits in all), as a number.
///
/// Eight digits at a time: subtracting '0' from each byte of a little-endian word
/// leaves eight values 0-9; three multiply-and-shift steps merge neighbours into pairs
/// (×10), quads (×100) and the whole (×10^4).
#[inline]
fn accumulate(mut mantissa: u64, mut digits: &[u8]) -> u64 {
    while let Some((chunk, rest)) = digits.split_first_chunk::<8>() {
        mantissa = mantissa * 100_000_000 + eight_digits(u64::from_le_bytes(*chunk));
        digits = rest;
    }
    for &b in digits {
        mantissa = mantissa * 10 + u64::from(b - b'0');
    }
    mantissa
}

/// `(value + fraction) × 2^exp2` rounded to the nearest double (ties to even), where
/// `value > 0` and `inexact` says whether a nonzero fraction below `value`'s last bit
/// was dropped. `None` if the result would be subnormal or infinite (never in the fast
/// range; the careful path handles them).
fn round_to_double(value: u128, inexact: bool, exp2: i32) -> Option<f64> {
    let bits = 128 - value.leading_zeros() as i32;
    // Keep 54 bits: the 53 of the significand and one for rounding.
    let shift = bits - 54;
    let (top, sticky) = if shift > 0 {
        let lost = value & ((1u128 << shift) - 1) != 0;
        (value >> shift, inexact || lost)
    } else {
        (value << -shift, inexact)
    };
    let top = top as u64;
    let mut significand = top >> 1;
    if top & 1 == 1 && (sticky || significand & 1 == 1) {
        significand += 1;
    }
    // The value is significand × 2^exp.
    let mut exp = exp2 + shift + 1;
    if significand == 1 << 53 {
        significand >>= 1;
        exp += 1;
    }
    let biased = exp + 52 + 1023;
    if !(1..=2046).contains(&biased) {
        return None;
    }
    Some(f64::from_bits(
        ((biased as u64) << 52) | (significand & ((1 << 52) - 1)),
    ))
}

/// Inverse of [`key_of`].
pub(crate) fn value_of(key: u64) -> f64 {
    let bits = if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    };
    f64::from_bits(bits)
}

/// Maps a finite double to a `u64` whose unsigned order is the numeric order: the sign
/// bit set for positives, every bit flipped for negatives. Without a branch, since the
/// signs of a polygon's `x` and `y` alternate.
#[inline(always)]
pub(crate) fn key_of(value: f64) -> u64 {
    let bits = value.to_bits();
    let negative = ((bits as i64) >> 63) as u64;
    bits ^ (negative | (1 << 63))
}

/// Whether `text` denotes exactly the value of the double `value`, i.e. equals (as a
/// decimal) the shortest text that reads back as that double. Such text never has more
/// than 17 significant digits, which lets everything live on the stack.
fn is_exact(text: &str, value: f64) -> bool {
    // Serializers usually wrote the shortest form already: compare text first, and
    // decimals (`300` against ryu's `300.0`) only when that fails.
    let mut buffer = ryu::Buffer::new();
    let shortest = buffer.format_finite(value);
    if shortest == text {
        return true;
    }
    match (Decimal::parse(text), Decimal::parse(shortest)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

const MAX_DIGITS: usize = 17;

/// A decimal number normalized to sign, significant digits and exponent.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    /// Significant digits without leading or trailing zeros; none for zero.
    digits: [u8; MAX_DIGITS],
    len: usize,
    /// The value is `0.digits × 10^exponent`.
    exponent: i64,
}

impl Decimal {
    /// `None` for malformed text or more than 17 significant digits.
    fn parse(text: &str) -> Option<Decimal> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = bytes.first() == Some(&b'-');
        if negative || bytes.first() == Some(&b'+') {
            i += 1;
        }
        let mut digits = [0u8; MAX_DIGITS];
        let mut len = 0usize;
        // Zeros after the last nonzero digit: significant only if a nonzero follows.
        let mut pending_zeros = 0usize;
        let mut started = false;
        let mut seen_digit = false;
        let mut seen_point = false;
        let mut exponent: i64 = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => {
                    seen_digit = true;
                    let d = bytes[i] - b'0';
                    if !started && d == 0 {
                        if seen_point {
                            exponent -= 1;
                        }
                    } else {
                        started = true;
                        if !seen_point {
                            exponent += 1;
                        }
                        if d == 0 {
                            pending_zeros += 1;
                        } else {
                            if len + pending_zeros + 1 > MAX_DIGITS {
                                return None;
                            }
                            len += pending_zeros; // the array already holds zeros there
                            pending_zeros = 0;
                            digits[len] = d;
                            len += 1;
                        }
                    }
                }
                b'.' if !seen_point => seen_point = true,
                b'e' | b'E' => break,
                _ => return None,
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        if len == 0 {
            return Some(Decimal {
                negative: false,
                digits,
                len: 0,
                exponent: 0,
            });
        }
        if i < bytes.len() {
            let exp: i64 = text.get(i + 1..)?.parse().ok()?;
            exponent += exp;
        }
        Some(Decimal {
            negative,
            digits,
            len,
            exponent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_a_key() {
        assert_eq!(comparable_key("300"), comparable_key("300.0"));
        assert_eq!(comparable_key("300"), comparable_key("3e2"));
        assert_eq!(comparable_key("0.1"), comparable_key("1e-1"));
        assert_ne!(comparable_key("300"), comparable_key("301"));
    }

    #[test]
    fn keys_preserve_order() {
        let texts = [
            "-1e300", "-5", "-0.5", "-0", "0", "1e-9", "0.5", "5", "1e300",
        ];
        let keys: Vec<u64> = texts.iter().map(|t| comparable_key(t).unwrap()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    }

    #[test]
    fn keys_round_trip() {
        for v in [
            0.0,
            -0.0,
            1.5,
            -122.42916360922355,
            f64::MAX,
            f64::MIN_POSITIVE,
            -1e-300,
        ] {
            assert_eq!(value_of(key_of(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn inexact_numbers_are_not_comparable() {
        assert_eq!(comparable_key("12345678901234567890"), None);
        assert!(comparable_key("123456789012").is_some());
        assert!(comparable_key("9007199254740993").is_none());
        assert!(comparable_key("9007199254740992").is_some());
        assert_eq!(comparable_key("1e400"), None);
        assert!(comparable_key("-122.42916360922355").is_some());
        assert!(comparable_key("37.80629491453747").is_some());
        assert!(comparable_key("100.000").is_some());
        assert_eq!(comparable_key("100.000"), comparable_key("1e2"));
        assert_eq!(comparable_key("0.00012"), comparable_key("1.2e-4"));
        assert_eq!(comparable_key("1200"), comparable_key("1.2E+3"));
        assert_eq!(comparable_key("0.1000000000000000055511151231257827"), None);
        assert_eq!(comparable_key("abc"), None);
    }

    /// The reference: the standard library's conversion and the shortest-form check.
    fn careful(text: &str) -> Option<(u64, bool)> {
        let value: f64 = text.parse().ok()?;
        value
            .is_finite()
            .then(|| (key_of(value), is_exact(text, value)))
    }

    /// The fast path agrees with the careful one: same key, and exactness (when the
    /// digits tell) the same as the shortest-form check.
    fn agrees(text: &str) {
        let reference = careful(text);
        let fast = tentative(text);
        assert_eq!(
            fast.map(|(k, _)| k),
            reference.map(|(k, _)| k),
            "key of {text:?}"
        );
        if let (Some((_, Some(known))), Some((_, exact))) = (fast, reference) {
            assert_eq!(known, exact, "exactness of {text:?}");
        }
        assert_eq!(
            comparable_key(text),
            reference.and_then(|(k, e)| e.then_some(k)),
            "{text:?}"
        );
    }

    /// The estimate is within its slack of the nearest double; without slack it is
    /// [`tentative`] itself.
    fn near_is_near(text: &str) {
        let Some(near) = near_key(text) else {
            assert_eq!(tentative(text), None, "{text:?}");
            return;
        };
        let (key, exact) = tentative(text).expect("a near key implies a key");
        assert!(
            near.key.abs_diff(key) <= near.slack,
            "{text:?}: estimate {} is {} keys from {key}",
            near.key,
            near.key.abs_diff(key)
        );
        if near.slack == 0 {
            assert_eq!((near.key, near.exact), (key, exact), "{text:?}");
        }
    }

    /// The walker's scan ends where `number_end` ends (or fails where it fails), with
    /// or without what follows the number, and its estimate is within the slack.
    fn scan_agrees(text: &str) {
        for follow in [
            "",
            ",",
            "}",
            " ",
            "e",
            ".5",
            ", \"y\": 1}",
            "e5, \"y\": 1}",
            "1234567890, 1}",
        ] {
            let event = format!("{text}{follow}");
            let scanned = scan_number(event.as_bytes(), 0);
            assert_eq!(
                scanned.map(|(end, _)| end),
                number_end(event.as_bytes(), 0),
                "{event:?}"
            );
            if let Some((end, Some(near))) = scanned {
                let (key, exact) = tentative(&event[..end]).expect("a number");
                assert!(near.key.abs_diff(key) <= near.slack, "{event:?}");
                if near.slack == 0 {
                    assert_eq!((near.key, near.exact), (key, exact), "{event:?}");
                }
            }
        }
    }

    fn fast_value(text: &str) -> Option<f64> {
        FastNumber::parse(text)?.value()
    }

    #[test]
    fn fast_conversion_agrees_on_edge_cases() {
        let cases = [
            // zeros, signs, leading and trailing zeros
            "0",
            "-0",
            "0.0",
            "-0.0",
            "0e5",
            "-0e-5",
            "0.000",
            "100",
            "100.000",
            "1200",
            "0.00012",
            "1.2e-4",
            "1.2E+3",
            "120e-1",
            "01",
            "-01.5",
            "00",
            "1.",
            // around 2^53, where integers stop being exact; ties round to even
            "9007199254740991",
            "9007199254740992",
            "9007199254740993",
            "9007199254740994",
            "9007199254740995",
            "9007199254740997",
            "18014398509481985",
            "9007199254740993e3",
            "9007199254740993.0",
            "900719925474099.3",
            "90071992547409930",
            "-9007199254740993",
            // 15 to 19 significant digits
            "123456789012345",
            "1234567890123456",
            "12345678901234567",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567890",
            "9999999999999999999",
            "18446744073709551615",
            "18446744073709551616",
            "0.1000000000000000055511151231257827",
            "0.1",
            "0.2",
            "0.3",
            "0.30000000000000004",
            "0.1234567890123456789",
            // coordinates as the benchmark's events carry them
            "-122.42916360922355",
            "37.80629491453747",
            "-122.38419533600236",
            "37.77608007304251",
            "-122.384195336002361",
            "37.776080073042514",
            // the edges of the fast exponent range and beyond
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "123456789012345678e-22",
            "123456789012345678e-23",
            "9999999999999999999e19",
            "9999999999999999999e20",
            "1e19",
            "12345678901234567e19",
            "4.9e-324",
            "5e-324",
            "2e-324",
            "2.2250738585072014e-308",
            "2.2250738585072011e-308",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "1e308",
            "1e309",
            "-1e309",
            "1e400",
            "1e-400",
            "1e+0",
            "1E-0",
            "123e",
            "1e+",
            "-",
            "",
            "+1",
            "abc",
            "1.5.5",
            "1e99999999999999999999",
            "1e-99999999999999999999",
            "0.5e2147483648",
        ];
        for text in cases {
            agrees(text);
            near_is_near(text);
            scan_agrees(text);
        }
        assert!(
            matches!(scan_number(b"-122.42916360922355,", 0), Some((19, Some(_)))),
            "coordinates are estimated while scanned"
        );
        let coordinate = near_key("-122.42916360922355").expect("a number");
        assert_eq!(
            coordinate.slack, NEAR_SLACK,
            "coordinates take the estimate"
        );
        // The fast path really handles the common shapes (or these tests prove nothing).
        for text in [
            "-122.42916360922355",
            "37.77608007304251",
            "9007199254740993",
            "0",
            "-0",
            "1e-22",
            "12345678901234567e19",
        ] {
            assert!(fast_value(text).is_some(), "{text:?} took the careful path");
        }
        assert_eq!(
            fast_value("-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_ne!(tentative("-0"), tentative("0"));
        for text in ["1e23", "1e309", "123456789012345678901", "01", "+1"] {
            assert!(
                fast_value(text).is_none(),
                "{text:?} is outside the fast range"
            );
        }
    }

    /// [`settle_plain`], from any estimate within the slack, agrees with the careful
    /// path on key and exactness, or leaves the number to it.
    fn settles_like_the_careful_path(text: &str) -> Option<bool> {
        let (key, exact) = careful(text)?;
        let mut decided = None;
        for estimate in key.saturating_sub(NEAR_SLACK)..=key.saturating_add(NEAR_SLACK) {
            if let Some(settled) = settle_plain(text, estimate) {
                assert_eq!(settled, (key, exact), "{text:?} from {estimate}");
                decided = Some(exact);
            }
        }
        decided
    }

    #[test]
    fn plain_decimals_are_read_in_one_pass() {
        assert_eq!(
            read_plain(b"-122.42916360922355"),
            Some((12242916360922355, 14, true))
        );
        assert_eq!(
            read_plain(b"37.77608007304251"),
            Some((3777608007304251, 14, false))
        );
        assert_eq!(
            read_plain(b"0.100000000000000005"),
            Some((100000000000000005, 18, false))
        );
        for text in [
            // Not digits in the last partial group, or in a full group.
            "1.234567890123e-5",
            "1.23456789012345e-3",
            "1.2345678901234x67",
            // Shapes: no integer digits, no dot, too few or too many digits.
            "-.1234567890123456",
            "12345678901234567",
            "1.23456789012345",
            "12345678901234567890.5",
            "1.2345678901234567890",
        ] {
            assert_eq!(read_plain(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn plain_decimals_settle_without_the_careful_path() {
        // The benchmark's coordinates, exact, and one digit changed or added.
        for text in [
            "-122.42916360922355",
            "37.80629491453747",
            "-122.38419533600236",
            "37.77608007304251",
            "-122.4291636092235",
        ] {
            assert_eq!(settles_like_the_careful_path(text), Some(true), "{text:?}");
        }
        for text in [
            "-122.429163609223551",
            "37.806294914537471",
            "0.100000000000000005",
        ] {
            assert_eq!(settles_like_the_careful_path(text), Some(false), "{text:?}");
        }
        // Shapes it leaves to the careful path.
        for (text, estimate) in [
            ("-122.42916360922350", "-122.4291636092235"),
            ("1.2345678901234567e-3", "0.0012345678901234567"),
            // An exponent inside the last group of eight, and inside a full one.
            ("1.234567890123e-5", "0.00001234567890123"),
            ("1.23456789012345e-3", "0.00123456789012345"),
            ("12345678901234567", "12345678901234567"),
        ] {
            let key = careful(estimate).expect("a number").0;
            assert_eq!(settle_plain(text, key), None, "{text:?}");
        }
        // Most shortest forms of doubles in the plain range are decided here.
        let mut decided = 0;
        let mut total = 0;
        let mut bits = 0x4040_0000_0000_0000u64; // 32.0
        for _ in 0..2000 {
            bits = bits
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Magnitudes 1 to 2^32, as coordinates, prices and sizes have.
            let value = f64::from_bits(((0x3ff + (bits >> 59)) << 52) | (bits >> 12));
            let mut buffer = ryu::Buffer::new();
            let text = buffer.format_finite(value).to_string();
            if !text.contains('e') && text.len() >= 17 {
                total += 1;
                decided += usize::from(settles_like_the_careful_path(&text).is_some());
            }
        }
        assert!(
            total > 1000 && decided * 10 > total * 9,
            "{decided} of {total}"
        );
    }

    #[test]
    fn eight_digit_accumulation() {
        for text in [
            "",
            "0",
            "7",
            "12345678",
            "123456789",
            "99999999",
            "00000001",
            "1234567890123456789",
        ] {
            let expected = if text.is_empty() {
                0
            } else {
                text.parse::<u64>().unwrap()
            };
            assert_eq!(accumulate(0, text.as_bytes()), expected, "{text:?}");
        }
        assert_eq!(accumulate(12, b"34567890"), 1_234_567_890);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// Random digit strings, decimal points and exponents, around every boundary
        /// of the fast path (digit counts 1-22, exponents -30..30).
        #[test]
        fn fast_conversion_agrees_with_the_careful_path(
            negative in proptest::bool::ANY,
            digits in "[0-9]{1,22}",
            point in 0usize..23,
            exponent in proptest::option::of(-30i32..30),
        ) {
            let digits = digits.trim_start_matches('0');
            let digits = if digits.is_empty() { "0" } else { digits };
            let point = point.min(digits.len());
            let mut text = String::from(if negative { "-" } else { "" });
            if point == 0 || point == digits.len() {
                text.push_str(digits);
            } else {
                text.push_str(&digits[..point]);
                text.push('.');
                text.push_str(&digits[point..]);
            }
            if let Some(e) = exponent {
                text.push_str(&format!("e{e}"));
            }
            agrees(&text);
            near_is_near(&text);
            scan_agrees(&text);
        }

        /// 16 to 19 significant digits and negative exponents (the estimated range),
        /// with the mantissa near powers of two, where the spacing of doubles changes.
        #[test]
        fn estimates_stay_within_their_slack(
            negative in proptest::bool::ANY,
            bits in 53u32..64,
            offset in -4096i64..4096,
            scale in 1u32..23,
        ) {
            let mantissa = (1u64 << bits).saturating_add_signed(offset);
            let digits = mantissa.to_string();
            let text = format!("{}{digits}e-{scale}", if negative { "-" } else { "" });
            near_is_near(&text);
            scan_agrees(&text);
            let point = digits.len().saturating_sub(scale as usize).max(1);
            let plain = format!("{}.{}", &digits[..point], &digits[point..]);
            near_is_near(&plain);
            scan_agrees(&plain);
            settles_like_the_careful_path(&format!("{}{plain}", if negative { "-" } else { "" }));
        }

        /// Shortest forms of random doubles are always exact, and their neighbours
        /// one digit longer never are (unless they denote the same double).
        #[test]
        fn shortest_forms_are_exact(bits in proptest::num::u64::ANY) {
            let value = f64::from_bits(bits);
            if value.is_finite() {
                let mut buffer = ryu::Buffer::new();
                let text = buffer.format_finite(value).to_string();
                agrees(&text);
                near_is_near(&text);
                proptest::prop_assert_eq!(comparable_key(&text), Some(key_of(value)));
                let longer = if text.contains('e') { text.replacen('e', "1e", 1) } else { format!("{text}1") };
                agrees(&longer);
                settles_like_the_careful_path(&text);
                settles_like_the_careful_path(&longer);
            }
        }
    }
}
