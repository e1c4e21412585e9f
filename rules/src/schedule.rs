//! EventBridge schedule expressions — `rate(value unit)` and six-field `cron(...)` — parsed
//! and checked offline with AWS's grammar, and their firing times computed.
//!
//! Pure and UTC-only: EventBridge scheduled rules run in UTC, which has no daylight saving
//! time, so no firing is ever skipped or repeated by a clock change. Times are milliseconds
//! since the Unix epoch; cron firings fall on whole minutes.
//!
//! The grammar (AWS's "Schedule expressions for rules"):
//!
//! | field        | values            | wildcards        |
//! |--------------|-------------------|------------------|
//! | minutes      | 0-59              | `, - * /`        |
//! | hours        | 0-23              | `, - * /`        |
//! | day-of-month | 1-31              | `, - * ? / L W`  |
//! | month        | 1-12 or JAN-DEC   | `, - * /`        |
//! | day-of-week  | 1-7 or SUN-SAT    | `, - * ? L #`    |
//! | year         | 1970-2199         | `, - * /`        |
//!
//! Exactly one of day-of-month and day-of-week is `?`. `L` (last day of the month; in
//! day-of-week, alone, Saturday, or `nL` the last weekday `n` of the month), `nW` (the weekday
//! nearest day `n`, within the month) and `n#k` (the `k`-th weekday `n` of the month, k 1-5)
//! stand alone in their field (not in a list or range). A rate fires every `value` units
//! from when the rule was created (EventBridge's own anchor); a cron fires at the minutes it
//! names.

use crate::calendar::{civil_from_days, days_from_civil};
use std::fmt;

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `rate(value unit)`: every `minutes` minutes from an anchor.
    Rate {
        value: u32,
        unit: RateUnit,
    },
    Cron(Cron),
}

/// The unit of a rate expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    fn minutes(self) -> i64 {
        match self {
            RateUnit::Minute => 1,
            RateUnit::Hour => 60,
            RateUnit::Day => 1440,
        }
    }
}

/// A six-field cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    day_of_month: DayOfMonth,
    months: u64,
    day_of_week: DayOfWeek,
    /// Bit `y - 1970`.
    years: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    Any,
    /// Bit `d` for day `d` (1-31).
    Days(u64),
    Last,
    NearestWeekday(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    /// Bit `d` for day `d` (1 = SUN … 7 = SAT).
    Days(u64),
    /// `nL`: the last weekday `n` of the month.
    LastOf(u32),
    /// `n#k`: the `k`-th weekday `n` of the month.
    Nth(u32, u32),
}

/// Why an expression is not a valid EventBridge schedule expression, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub message: String,
    pub hint: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (fix: {})", self.message, self.hint)
    }
}

impl std::error::Error for ScheduleError {}

fn err(message: impl Into<String>, hint: impl Into<String>) -> ScheduleError {
    ScheduleError {
        message: message.into(),
        hint: hint.into(),
    }
}

const FORMS: &str = "use `rate(5 minutes)` or a six-field `cron(minutes hours day-of-month month day-of-week year)`, e.g. `cron(0 4 * * ? *)`";
const YEAR_MIN: u32 = 1970;
const YEAR_MAX: u32 = 2199;

impl Schedule {
    /// Parses `rate(...)` or `cron(...)` with AWS's grammar.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        if let Some(inner) = strip(text, "rate(") {
            return parse_rate(inner);
        }
        if let Some(inner) = strip(text, "cron(") {
            return Cron::parse(inner).map(Schedule::Cron);
        }
        Err(err(format!("`{text}` is not a schedule expression"), FORMS))
    }

    /// The first firing strictly after `after_ms`. A rate counts from `anchor_ms` (when the
    /// rule was created); a cron ignores the anchor. `None` when the schedule never fires
    /// again (a cron whose years have passed).
    pub fn next_after(&self, after_ms: i64, anchor_ms: i64) -> Option<i64> {
        match self {
            Schedule::Rate { value, unit } => {
                let period = i64::from(*value) * unit.minutes() * 60_000;
                if after_ms < anchor_ms {
                    return Some(anchor_ms);
                }
                let k = (after_ms - anchor_ms) / period + 1;
                Some(anchor_ms + k * period)
            }
            Schedule::Cron(c) => c.next_after(after_ms),
        }
    }

    /// The next `count` firings after `after_ms` (see [`Schedule::next_after`]).
    pub fn upcoming(&self, after_ms: i64, anchor_ms: i64, count: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(count);
        let mut t = after_ms;
        while out.len() < count {
            match self.next_after(t, anchor_ms) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }
}

fn strip<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.strip_prefix(prefix)?.strip_suffix(')')
}

fn parse_rate(inner: &str) -> Result<Schedule, ScheduleError> {
    let parts: Vec<&str> = inner.split(' ').collect();
    let [value, unit] = parts.as_slice() else {
        return Err(err(
            format!("`rate({inner})` must be `rate(value unit)`: a value and a unit separated by one space"),
            "e.g. `rate(5 minutes)` or `rate(1 hour)`",
        ));
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            format!("rate value `{value}` is not a positive integer"),
            "give a whole number of minutes, hours or days, e.g. `rate(5 minutes)`",
        ));
    }
    let value: u32 = value.parse().map_err(|_| {
        err(
            format!("rate value `{value}` is too large"),
            "use a smaller value or a larger unit",
        )
    })?;
    if value == 0 {
        return Err(err(
            "rate value 0: the value must be a positive integer",
            "use 1 or more, e.g. `rate(1 minute)`",
        ));
    }
    let (unit_value, plural) = match *unit {
        "minute" => (RateUnit::Minute, false),
        "minutes" => (RateUnit::Minute, true),
        "hour" => (RateUnit::Hour, false),
        "hours" => (RateUnit::Hour, true),
        "day" => (RateUnit::Day, false),
        "days" => (RateUnit::Day, true),
        other => {
            return Err(err(
                format!(
                "rate unit `{other}` is not one of minute | minutes | hour | hours | day | days"
            ),
                "e.g. `rate(5 minutes)`, `rate(1 hour)`, `rate(7 days)`",
            ))
        }
    };
    let singular = unit.trim_end_matches('s');
    if value == 1 && plural {
        return Err(err(
            format!("`rate(1 {unit})`: if the value is equal to 1, then the unit must be singular"),
            format!("write `rate(1 {singular})`"),
        ));
    }
    if value > 1 && !plural {
        return Err(err(
            format!(
                "`rate({value} {unit})`: if the value is greater than 1, the unit must be plural"
            ),
            format!("write `rate({value} {singular}s)`"),
        ));
    }
    if i64::from(value)
        .checked_mul(unit_value.minutes() * 60_000)
        .is_none()
    {
        return Err(err("rate is too long", "use a smaller value"));
    }
    Ok(Schedule::Rate {
        value,
        unit: unit_value,
    })
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Field = Field {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Field = Field {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};
const YEAR: Field = Field {
    name: "year",
    min: YEAR_MIN,
    max: YEAR_MAX,
    names: &[],
};

impl Field {
    fn range_text(&self) -> String {
        match self.names {
            [] => format!("{}-{}", self.min, self.max),
            names => format!(
                "{}-{} or {}-{}",
                self.min,
                self.max,
                names[0],
                names[names.len() - 1]
            ),
        }
    }

    fn value(&self, text: &str) -> Result<u32, ScheduleError> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.min + i as u32);
        }
        let bad = || {
            err(
                format!(
                    "{} value `{text}` is not in {}",
                    self.name,
                    self.range_text()
                ),
                format!("the {} field takes {}", self.name, self.range_text()),
            )
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let v: u32 = text.parse().map_err(|_| bad())?;
        if v < self.min || v > self.max {
            return Err(bad());
        }
        Ok(v)
    }

    /// A standard field: `*`, values, ranges, steps and lists. Returns bits `v - min`.
    fn set(&self, text: &str) -> Result<Vec<bool>, ScheduleError> {
        let mut bits = vec![false; (self.max - self.min + 1) as usize];
        for item in text.split(',') {
            if item.is_empty() {
                return Err(err(
                    format!("{} field `{text}` has an empty list item", self.name),
                    "separate values with single commas, e.g. `1,15`",
                ));
            }
            let (base, step) = match item.split_once('/') {
                Some((b, s)) => {
                    let step: u32 = s.parse().ok().filter(|s| *s >= 1).ok_or_else(|| {
                        err(
                            format!(
                                "{} increment `{s}` in `{item}` is not a positive integer",
                                self.name
                            ),
                            "write `start/increment`, e.g. `0/15` in minutes",
                        )
                    })?;
                    (b, Some(step))
                }
                None => (item, None),
            };
            let (lo, hi) = if base == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = base.split_once('-') {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if a > b {
                    return Err(err(
                        format!("{} range `{base}` starts after it ends", self.name),
                        format!(
                            "write the smaller value first, within {}",
                            self.range_text()
                        ),
                    ));
                }
                (a, b)
            } else {
                let v = self.value(base)?;
                // `start/increment` runs from start to the field's end.
                (v, if step.is_some() { self.max } else { v })
            };
            let step = step.unwrap_or(1);
            let mut v = lo;
            while v <= hi {
                bits[(v - self.min) as usize] = true;
                v += step;
            }
        }
        Ok(bits)
    }

    fn mask(&self, text: &str) -> Result<u64, ScheduleError> {
        Ok(self
            .set(text)?
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .fold(0u64, |m, (i, _)| m | 1 << (i as u32 + self.min)))
    }
}

fn special_alone(field: &Field, text: &str, what: &str) -> ScheduleError {
    err(
        format!("{} `{text}`: {what} stands alone in its field", field.name),
        format!("use `{what}` on its own, or list plain values"),
    )
}

impl Cron {
    fn parse(inner: &str) -> Result<Cron, ScheduleError> {
        let fields: Vec<&str> = inner.split(' ').filter(|f| !f.is_empty()).collect();
        let [min, hour, dom, month, dow, year] = fields.as_slice() else {
            return Err(err(
                format!(
                    "`cron({inner})` has {} fields; cron expressions have six required fields: minutes hours day-of-month month day-of-week year",
                    fields.len()
                ),
                "e.g. `cron(0 4 * * ? *)` (04:00 UTC every day)",
            ));
        };
        let no_letters = |field: &Field, text: &str| -> Result<(), ScheduleError> {
            for c in ['?', 'L', 'W', '#'] {
                if text.contains(c) {
                    return Err(err(
                        format!(
                            "{} field `{text}`: `{c}` is not allowed in the {} field",
                            field.name, field.name
                        ),
                        format!(
                            "the {} field takes `, - * /` and {}",
                            field.name,
                            field.range_text()
                        ),
                    ));
                }
            }
            Ok(())
        };
        for (f, t) in [
            (&MINUTES, min),
            (&HOURS, hour),
            (&MONTH, month),
            (&YEAR, year),
        ] {
            if *t != "*" || f.name == "month" {
                if f.name == "month" {
                    // Month names contain no `?#`, but `L`/`W` appear in names (JUL, …).
                    for c in ['?', '#'] {
                        if t.contains(c) {
                            return Err(err(
                                format!(
                                    "month field `{t}`: `{c}` is not allowed in the month field"
                                ),
                                "the month field takes `, - * /` and 1-12 or JAN-DEC",
                            ));
                        }
                    }
                } else {
                    no_letters(f, t)?;
                }
            }
        }
        let day_of_month = match *dom {
            "?" => DayOfMonth::Any,
            "L" => DayOfMonth::Last,
            t if t.ends_with('W') => {
                let n = &t[..t.len() - 1];
                if n.contains([',', '-', '/', '*', 'L']) {
                    return Err(special_alone(&DAY_OF_MONTH, t, "`nW`"));
                }
                DayOfMonth::NearestWeekday(DAY_OF_MONTH.value(n)?)
            }
            t if t.contains('L') || t.contains('W') => {
                return Err(special_alone(&DAY_OF_MONTH, t, "`L`"));
            }
            t if t.contains('#') => return Err(err(
                format!("day-of-month `{t}`: `#` is only allowed in the day-of-week field"),
                "write `n#k` in day-of-week (e.g. `2#1`, the first Monday) and `?` in day-of-month",
            )),
            t if t.contains('?') => {
                return Err(special_alone(&DAY_OF_MONTH, t, "`?`"));
            }
            t => DayOfMonth::Days(DAY_OF_MONTH.mask(t)?),
        };
        let day_of_week = match *dow {
            "?" => DayOfWeek::Any,
            "L" => DayOfWeek::Days(1 << 7),
            t if t.contains('#') => {
                let (d, k) = t.split_once('#').unwrap_or((t, ""));
                if d.contains([',', '-', '/', '*']) || k.contains([',', '-', '/', '*']) {
                    return Err(special_alone(&DAY_OF_WEEK, t, "`n#k`"));
                }
                let d = DAY_OF_WEEK.value(d)?;
                let k: u32 = k
                    .parse()
                    .ok()
                    .filter(|k| (1..=5).contains(k))
                    .ok_or_else(|| {
                        err(
                            format!("day-of-week `{t}`: the instance after `#` must be 1-5"),
                            "e.g. `2#1` is the first Monday of the month",
                        )
                    })?;
                DayOfWeek::Nth(d, k)
            }
            t if t.ends_with('L') && t.len() > 1 => {
                let n = &t[..t.len() - 1];
                if n.contains([',', '-', '/', '*']) {
                    return Err(special_alone(&DAY_OF_WEEK, t, "`nL`"));
                }
                DayOfWeek::LastOf(DAY_OF_WEEK.value(n)?)
            }
            t if t.contains('W') && !t.to_ascii_uppercase().contains("WED") => {
                return Err(err(
                    format!("day-of-week `{t}`: `W` is only allowed in the day-of-month field"),
                    "write `nW` in day-of-month and `?` in day-of-week",
                ))
            }
            t if t.contains('?') => {
                return Err(special_alone(&DAY_OF_WEEK, t, "`?`"));
            }
            t => {
                if t.contains('/') {
                    return Err(err(
                        format!("day-of-week `{t}`: `/` is not allowed in the day-of-week field"),
                        "the day-of-week field takes `, - * ? L #`; list the days, e.g. `MON,WED,FRI`",
                    ));
                }
                DayOfWeek::Days(DAY_OF_WEEK.mask(t)?)
            }
        };
        match (&day_of_month, &day_of_week) {
            (DayOfMonth::Any, DayOfWeek::Any) => {
                return Err(err(
                    "day-of-month and day-of-week are both `?`",
                    "give `?` in exactly one of them, e.g. `cron(0 4 * * ? *)`",
                ))
            }
            (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => {}
            _ => {
                return Err(err(
                    "you can't specify the day-of-month and day-of-week fields in the same cron expression: one of them must be `?`",
                    "if you specify a value or `*` in one, use `?` in the other, e.g. `cron(0 4 * * ? *)`",
                ))
            }
        }
        Ok(Cron {
            minutes: MINUTES.mask(min)?,
            hours: HOURS.mask(hour)?,
            day_of_month,
            months: MONTH.mask(month)?,
            day_of_week,
            years: YEAR.set(year)?,
        })
    }

    fn has_year(&self, y: i64) -> bool {
        y >= i64::from(YEAR_MIN)
            && y <= i64::from(YEAR_MAX)
            && self.years[(y - i64::from(YEAR_MIN)) as usize]
    }

    fn day_matches(&self, y: i64, m: u32, d: u32) -> bool {
        let len = days_in_month(y, m);
        let dow = weekday(y, m, d); // 1 = SUN … 7 = SAT
        let dom_ok = match &self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(mask) => mask & (1 << d) != 0,
            DayOfMonth::Last => d == len,
            DayOfMonth::NearestWeekday(n) => {
                let n = (*n).min(len);
                nearest_weekday(y, m, n, len) == d
            }
        };
        let dow_ok = match &self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(mask) => mask & (1 << dow) != 0,
            DayOfWeek::LastOf(n) => dow == *n && d + 7 > len,
            DayOfWeek::Nth(n, k) => dow == *n && (d - 1) / 7 + 1 == *k,
        };
        dom_ok && dow_ok
    }

    fn next_after(&self, after_ms: i64) -> Option<i64> {
        // The first whole minute after `after_ms`.
        let start_min = after_ms.div_euclid(60_000) + 1;
        let mut day = start_min.div_euclid(1440);
        let mut minute_of_day = start_min.rem_euclid(1440);
        let last_day = days_from_civil(i64::from(YEAR_MAX), 12, 31);
        while day <= last_day {
            let (y, m, d) = civil_from_days(day);
            if !self.has_year(y) {
                // Jump to the next January 1st.
                day = days_from_civil(y + 1, 1, 1);
                minute_of_day = 0;
                continue;
            }
            if self.months & (1 << m) == 0 {
                day = if m == 12 {
                    days_from_civil(y + 1, 1, 1)
                } else {
                    days_from_civil(y, m + 1, 1)
                };
                minute_of_day = 0;
                continue;
            }
            if self.day_matches(y, m, d) {
                for mod_ in minute_of_day..1440 {
                    let (h, mi) = (mod_ / 60, mod_ % 60);
                    if self.hours & (1 << h) != 0 && self.minutes & (1 << mi) != 0 {
                        return Some((day * 1440 + mod_) * 60_000);
                    }
                }
            }
            day += 1;
            minute_of_day = 0;
        }
        None
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 1 = Sunday … 7 = Saturday.
fn weekday(y: i64, m: u32, d: u32) -> u32 {
    // 1970-01-01 was a Thursday (5).
    ((days_from_civil(y, m, d) + 4).rem_euclid(7) + 1) as u32
}

/// The weekday (Mon-Fri) nearest day `n`, never leaving the month.
fn nearest_weekday(y: i64, m: u32, n: u32, len: u32) -> u32 {
    match weekday(y, m, n) {
        7 if n == 1 => 3,       // Saturday the 1st → Monday the 3rd
        7 => n - 1,             // Saturday → Friday
        1 if n == len => n - 2, // Sunday the last → Friday
        1 => n + 1,             // Sunday → Monday
        _ => n,
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` (UTC).
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Parses `YYYY-MM-DDThh:mm[:ss]Z` (UTC) into milliseconds since the epoch.
pub fn parse_utc(text: &str) -> Option<i64> {
    let t = text.strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    let mut tp = time.split(':');
    let h: i64 = tp.next()?.parse().ok()?;
    let mi: i64 = tp.next()?.parse().ok()?;
    let s: i64 = tp.next().map_or(Some(0), |s| s.parse().ok())?;
    if dp.next().is_some() || tp.next().is_some() || !(1..=12).contains(&m) {
        return None;
    }
    if d < 1 || d > days_in_month(y, m) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        parse_utc(s).expect(s)
    }

    fn next(expr: &str, from: &str, n: usize) -> Vec<String> {
        Schedule::parse(expr)
            .expect(expr)
            .upcoming(at(from), at(from), n)
            .into_iter()
            .map(format_utc)
            .collect()
    }

    #[test]
    fn the_last_day_of_every_month_across_a_leap_february() {
        assert_eq!(
            next("cron(0 0 L * ? *)", "2024-01-15T00:00:00Z", 3),
            [
                "2024-01-31T00:00:00Z",
                "2024-02-29T00:00:00Z",
                "2024-03-31T00:00:00Z"
            ]
        );
        assert_eq!(
            next("cron(0 0 L 2 ? *)", "2023-01-01T00:00:00Z", 3),
            [
                "2023-02-28T00:00:00Z",
                "2024-02-29T00:00:00Z",
                "2025-02-28T00:00:00Z"
            ]
        );
    }

    #[test]
    fn day_31_skips_shorter_months_and_29_february_waits_for_leap_years() {
        assert_eq!(
            next("cron(30 12 31 * ? *)", "2025-01-31T13:00:00Z", 2),
            ["2025-03-31T12:30:00Z", "2025-05-31T12:30:00Z"]
        );
        assert_eq!(
            next("cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", 2),
            ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]
        );
        // 2100 is not a leap year.
        assert_eq!(
            next("cron(0 0 29 2 ? 2096-2104)", "2096-03-01T00:00:00Z", 1),
            ["2104-02-29T00:00:00Z"]
        );
    }

    #[test]
    fn nearest_weekday_stays_in_the_month() {
        // 2022-01-01 is a Saturday: 1W is Monday the 3rd, not Friday Dec 31st.
        assert_eq!(
            next("cron(0 9 1W 1 ? 2022)", "2021-12-01T00:00:00Z", 1),
            ["2022-01-03T09:00:00Z"]
        );
        // 2022-07-31 is a Sunday: 31W is Friday the 29th.
        assert_eq!(
            next("cron(0 9 31W 7 ? 2022)", "2022-07-01T00:00:00Z", 1),
            ["2022-07-29T09:00:00Z"]
        );
        // 2024-06-15 is a Saturday → Friday the 14th; 2024-09-15 a Sunday → Monday the 16th.
        assert_eq!(
            next("cron(0 9 15W 6 ? 2024)", "2024-01-01T00:00:00Z", 1),
            ["2024-06-14T09:00:00Z"]
        );
        assert_eq!(
            next("cron(0 9 15W 9 ? 2024)", "2024-01-01T00:00:00Z", 1),
            ["2024-09-16T09:00:00Z"]
        );
        // 31W in a 30-day month means the 30th's nearest weekday (2024-04-30 is a Tuesday).
        assert_eq!(
            next("cron(0 9 31W 4 ? 2024)", "2024-01-01T00:00:00Z", 1),
            ["2024-04-30T09:00:00Z"]
        );
    }

    #[test]
    fn nth_and_last_weekday_of_the_month() {
        assert_eq!(
            next("cron(0 9 ? * 2#1 *)", "2024-01-01T10:00:00Z", 3),
            [
                "2024-02-05T09:00:00Z",
                "2024-03-04T09:00:00Z",
                "2024-04-01T09:00:00Z"
            ]
        );
        // The fifth Friday exists only in some months.
        assert_eq!(
            next("cron(0 0 ? * 6#5 2024)", "2024-01-01T00:00:00Z", 2),
            ["2024-03-29T00:00:00Z", "2024-05-31T00:00:00Z"]
        );
        assert_eq!(
            next("cron(0 0 ? * 6L 2024)", "2024-01-01T00:00:00Z", 2),
            ["2024-01-26T00:00:00Z", "2024-02-23T00:00:00Z"]
        );
        // `L` alone in day-of-week is Saturday.
        assert_eq!(
            next("cron(0 0 ? * L *)", "2024-01-01T00:00:00Z", 1),
            ["2024-01-06T00:00:00Z"]
        );
    }

    #[test]
    fn the_year_field_ends_a_schedule() {
        assert_eq!(
            next("cron(0 0 1 1 ? 2030,2032)", "2026-06-01T00:00:00Z", 3),
            ["2030-01-01T00:00:00Z", "2032-01-01T00:00:00Z"]
        );
        assert!(Schedule::parse("cron(0 0 1 1 ? 2020)")
            .expect("valid")
            .next_after(at("2021-01-01T00:00:00Z"), 0)
            .is_none());
    }

    #[test]
    fn a_rate_counts_from_its_anchor() {
        let s = Schedule::parse("rate(5 minutes)").expect("valid");
        let anchor = at("2026-01-01T00:00:30Z");
        assert_eq!(s.next_after(anchor, anchor), Some(anchor + 300_000));
        assert_eq!(
            s.next_after(anchor + 300_000, anchor),
            Some(anchor + 600_000)
        );
        assert_eq!(
            s.next_after(anchor + 299_999, anchor),
            Some(anchor + 300_000)
        );
    }

    #[test]
    fn a_firing_is_strictly_after_the_start() {
        assert_eq!(
            next("cron(0 4 * * ? *)", "2026-01-01T04:00:00Z", 1),
            ["2026-01-02T04:00:00Z"]
        );
        assert_eq!(
            next("cron(0 4 * * ? *)", "2026-01-01T03:59:59Z", 1),
            ["2026-01-01T04:00:00Z"]
        );
    }
}
