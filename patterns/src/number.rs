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
    tentative_key(text).filter(|&key| key_is_exact(text, key))
}

/// The key of the double nearest to `text`, without checking that the double holds the
/// text exactly: cheap, and enough to find candidates, which are then checked with
/// [`key_is_exact`].
pub(crate) fn tentative_key(text: &str) -> Option<u64> {
    let value: f64 = text.parse().ok()?;
    value.is_finite().then(|| key_of(value))
}

/// Whether the double behind `key` (from [`tentative_key`]) represents `text` exactly.
pub(crate) fn key_is_exact(text: &str, key: u64) -> bool {
    is_exact(text, value_of(key))
}

/// Inverse of [`key_of`].
fn value_of(key: u64) -> f64 {
    let bits = if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    };
    f64::from_bits(bits)
}

/// Maps a finite double to a `u64` whose unsigned order is the numeric order.
pub(crate) fn key_of(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    }
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
}
