//! Time for the local backend: one injectable clock, and AWS's timestamp formats.
//!
//! Queue semantics (visibility timeouts, delays, retention) are all about time; an injectable
//! clock lets tests step through a 30-second visibility timeout without sleeping.

use rules::calendar::{civil_from_days, days_from_civil};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from: the system clock, or a manual clock that tests advance.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start_ms` (milliseconds since the Unix epoch).
    pub fn manual(start_ms: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; the system clock ignores it.
    pub fn advance_ms(&self, ms: i64) {
        if let Clock::Manual(t) = self {
            t.fetch_add(ms, Ordering::SeqCst);
        }
    }
}

fn split(ms: i64) -> (i64, u32, u32, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    (y, mo, d, sod / 3600, (sod % 3600) / 60, sod % 60, millis)
}

/// `YYYY-MM-DDThh:mm:ssZ`, the format of an EventBridge event's `time`.
pub fn rfc3339_seconds(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = split(ms);
    // Years 0 to 9999 (every one in use) digit by digit: routing formats one per event.
    let Ok(year @ 0..=9999) = u32::try_from(y) else {
        return format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
    };
    let mut text = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, value: u32, width: u32| {
        for k in 0..width {
            let digit = value / 10u32.pow(width - 1 - k) % 10;
            text[at + k as usize] = b'0' + digit as u8;
        }
    };
    put(0, year, 4);
    put(5, mo, 2);
    put(8, d, 2);
    // Hours, minutes and seconds of a day fit in a u32.
    put(11, h as u32, 2);
    put(14, mi as u32, 2);
    put(17, s as u32, 2);
    text.iter().map(|&b| char::from(b)).collect()
}

/// `YYYY-MM-DDThh:mm:ss.sssZ`, the format of SNS `Timestamp` and S3 `eventTime`.
pub fn rfc3339_millis(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli) = split(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `Date:` header for e-mail (RFC 5322), always in UTC.
pub fn rfc5322(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _) = split(ms);
    let weekday = DAYS[ms.div_euclid(86_400_000).rem_euclid(7) as usize];
    let month = MONTHS[(mo - 1) as usize];
    format!("{weekday}, {d:02} {month} {y:04} {h:02}:{mi:02}:{s:02} +0000")
}

/// Parses an RFC 3339 timestamp (`2026-11-22T10:00:00Z`, fractional seconds and offsets
/// allowed), as PutEvents accepts for `Time`. Returns milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            return None;
        }
        let padded = format!("{:0<3}", &digits[..digits.len().min(3)]);
        millis = padded.parse().ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 60 + om)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_min * 60;
    Some(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_795_392_000_123; // 2026-11-23T00:00:00.123Z
        assert_eq!(rfc3339_millis(ms), "2026-11-23T00:00:00.123Z");
        assert_eq!(rfc3339_seconds(ms), "2026-11-23T00:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-23T00:00:00.123Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-11-23T01:00:00+01:00"), Some(ms - 123));
        assert_eq!(parse_rfc3339("2026-13-23T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(rfc5322(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc3339_seconds(951_782_400_000), "2000-02-29T00:00:00Z");
        // Written digit by digit as the formatter writes it, around the years it covers too.
        let formatted = |ms: i64| {
            let (y, mo, d, h, mi, s, _) = split(ms);
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
        };
        let year = 31_556_952_000_i64;
        for ms in [
            0,
            -1,
            1_700_000_000_123,
            253_402_300_799_000,
            253_402_300_800_000,
            -62_167_219_200_000,
            -62_167_219_200_001,
            i64::MAX / 4,
            i64::MIN / 4,
        ]
        .into_iter()
        .chain((0..2000).map(|k| k * 7_919_993_111 - 100 * year))
        {
            assert_eq!(rfc3339_seconds(ms), formatted(ms), "{ms}");
        }
    }

    #[test]
    fn manual_clock_advances() {
        let c = Clock::manual(1000);
        c.advance_ms(500);
        assert_eq!(c.now_ms(), 1500);
    }
}
