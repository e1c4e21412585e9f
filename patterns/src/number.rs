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
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() || !is_exact(text, value) {
        return None;
    }
    Some(key_of(value))
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

/// Whether `text` denotes exactly the value of the double `value`.
fn is_exact(text: &str, value: f64) -> bool {
    let Some(decimal) = Decimal::parse(text) else {
        return false;
    };
    // Up to 15 significant digits always survive the round trip through a double.
    if decimal.digits.len() <= 15 && value != 0.0 && value.abs() >= f64::MIN_POSITIVE {
        return true;
    }
    // `{:e}` prints the shortest text that reads back as the same double.
    match Decimal::parse(&format!("{value:e}")) {
        Some(shortest) => shortest == decimal,
        None => false,
    }
}

/// A decimal number normalized to sign, significant digits and exponent.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    /// Significant digits without leading or trailing zeros; empty for zero.
    digits: Vec<u8>,
    /// The value is `0.digits × 10^exponent`.
    exponent: i64,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = bytes.first() == Some(&b'-');
        if negative || bytes.first() == Some(&b'+') {
            i += 1;
        }
        let mut digits = Vec::new();
        let mut point_at: Option<usize> = None;
        let mut int_digits = 0i64;
        let mut seen_digit = false;
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => {
                    seen_digit = true;
                    digits.push(bytes[i] - b'0');
                    if point_at.is_none() {
                        int_digits += 1;
                    }
                }
                b'.' if point_at.is_none() => point_at = Some(digits.len()),
                b'e' | b'E' => break,
                _ => return None,
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        let mut exp: i64 = 0;
        if i < bytes.len() {
            exp = text.get(i + 1..)?.parse().ok()?;
        }
        // Strip leading zeros (each shifts the exponent) and trailing zeros.
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Some(Decimal {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        let exponent = int_digits - leading as i64 + exp;
        Some(Decimal {
            negative,
            digits,
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
    fn inexact_numbers_are_not_comparable() {
        assert_eq!(comparable_key("12345678901234567890"), None);
        assert!(comparable_key("123456789012").is_some());
        assert!(comparable_key("9007199254740993").is_none());
        assert!(comparable_key("9007199254740992").is_some());
        assert_eq!(comparable_key("1e400"), None);
        assert_eq!(comparable_key("abc"), None);
    }
}
