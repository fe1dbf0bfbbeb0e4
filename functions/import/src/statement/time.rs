//! The timestamp profile of `timestamp` and `stored`, and the log date.
//!
//! Accepted: `YYYY-MM-DD` then `T`, `t` or one space, then `hh:mm`, optionally `:ss`,
//! optionally `.fraction` (any number of digits), then `Z`, `z`, `±hh:mm`, `±hhmm`, `±hh`
//! or nothing (taken as UTC, as xAPI lets an LRS do). Fractions finer than a millisecond
//! are truncated (the columns are `DATETIME(3)`; xAPI 1.0.3 lets an LRS keep milliseconds).
//! The instant is then checked by the platform's one rule ([`DateWindow::check_instant`]):
//! no leap second, inside what `DATETIME` stores, inside the plausible window.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use common::{
    business_time::local_date,
    instant::{DateWindow, Precision},
};
use serde_json::{Map, Value};

use super::{Origin, Rejection, reject};

/// What a rejected timestamp should have looked like.
const PROFILE: &str = "YYYY-MM-DDThh:mm[:ss[.fff]] with Z, ±hh:mm or no offset";

/// Parses an xAPI timestamp of the accepted profile (see the module) into UTC, with the
/// fraction truncated to milliseconds. A leap second (`:60`) parses, as chrono's leap
/// second, so that the check can say what is wrong with it. Nothing is range-checked here.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() < 16
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(b, 0, 4)?).ok()?,
        digits(b, 5, 2)?,
        digits(b, 8, 2)?,
    )?;
    let (hour, minute) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    let (second, millis, rest) = seconds(&b[16..])?;
    let offset = offset_seconds(rest)?;
    let time = if second == 60 {
        // chrono's leap second: the 59th second with a nanosecond count past 10⁹.
        NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + millis * 1_000_000)?
    } else {
        NaiveTime::from_hms_milli_opt(hour, minute, second, millis)?
    };
    FixedOffset::east_opt(offset)?
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// `len` ASCII digits at `at`, as a number.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let run = b.get(at..at + len)?;
    run.iter().try_fold(0u32, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// `[:ss[.fraction]]` at the start of `b`: the second, the milliseconds (truncated) and
/// what follows.
fn seconds(b: &[u8]) -> Option<(u32, u32, &[u8])> {
    if b.first() != Some(&b':') {
        return Some((0, 0, b));
    }
    let second = digits(b, 1, 2)?;
    let rest = &b[3..];
    if rest.first() != Some(&b'.') {
        return Some((second, 0, rest));
    }
    let fraction = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
    if fraction == 0 {
        return None;
    }
    // The first three digits, padded: later digits are truncated, not rounded.
    let millis = (0..3).fold(0u32, |n, k| {
        let d = if k < fraction { rest[1 + k] - b'0' } else { 0 };
        n * 10 + u32::from(d)
    });
    Some((second, millis, &rest[1 + fraction..]))
}

/// The offset east of UTC, in seconds: nothing, `Z`, `z`, `±hh`, `±hhmm` or `±hh:mm`.
fn offset_seconds(b: &[u8]) -> Option<i32> {
    let sign = match b {
        [] | [b'Z' | b'z'] => return Some(0),
        [b'+', ..] => 1,
        [b'-', ..] => -1,
        _ => return None,
    };
    let minutes_at = match b.len() {
        3 => None,
        5 => Some(3),
        6 if b[3] == b':' => Some(4),
        _ => return None,
    };
    let hours = digits(b, 1, 2).filter(|h| *h < 24)?;
    let minutes = match minutes_at {
        Some(at) => digits(b, at, 2).filter(|m| *m < 60)?,
        None => 0,
    };
    i32::try_from(hours * 3600 + minutes * 60)
        .ok()
        .map(|s| sign * s)
}

/// `field` of the statement as a checked UTC instant (naive, as the tables store it).
pub(super) fn optional_instant(
    statement: &Map<String, Value>,
    field: &str,
    window: &DateWindow,
) -> Result<Option<NaiveDateTime>, Rejection> {
    match statement.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let Some(instant) = parse_timestamp(s) else {
                return reject(format!(
                    "{field} {s:?} is not an ISO 8601 date-time ({PROFILE})"
                ));
            };
            // Truncated to milliseconds already, so `Millis` cannot refuse it.
            window
                .check_instant(instant.naive_utc(), Precision::Millis, s)
                .map(Some)
                .map_err(|error| Rejection(format!("{field} {error}")))
        }
        Some(_) => reject(format!("{field} is not a string")),
    }
}

/// The log date: the date in the entry or object name, else the timestamp's date in the
/// business zone, else `stored`'s, else the day the object arrived.
pub(super) fn log_date(
    origin: &Origin<'_>,
    timestamp: Option<NaiveDateTime>,
    stored: Option<NaiveDateTime>,
    zone: Tz,
) -> NaiveDate {
    origin
        .named_log_date
        .or_else(|| timestamp.map(|t| local_date(t.and_utc(), zone)))
        .or_else(|| stored.map(|t| local_date(t.and_utc(), zone)))
        .unwrap_or_else(|| local_date(origin.received_at, zone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::instant::format_utc;

    fn utc(text: &str) -> Option<String> {
        parse_timestamp(text).map(|t| format_utc(t.naive_utc()))
    }

    #[test]
    fn the_profile_takes_minutes_seconds_fractions_and_every_offset_form() {
        let cases = [
            ("2024-05-01T10:00Z", "2024-05-01T10:00:00Z"),
            ("2024-05-01T10:00+08:00", "2024-05-01T02:00:00Z"),
            ("2024-05-01T10:00:30z", "2024-05-01T10:00:30Z"),
            ("2024-05-01t10:00:30.5Z", "2024-05-01T10:00:30.500Z"),
            ("2024-05-01 10:00:30.25+0800", "2024-05-01T02:00:30.250Z"),
            ("2024-05-01T10:00:30-05", "2024-05-01T15:00:30Z"),
            ("2024-05-01T10:00:30-00:00", "2024-05-01T10:00:30Z"),
            ("2024-05-01T10:00:30", "2024-05-01T10:00:30Z"),
            ("2024-05-01T10:00", "2024-05-01T10:00:00Z"),
            ("2024-05-01T23:30:00-01:00", "2024-05-02T00:30:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(utc(text).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn fractions_finer_than_milliseconds_are_truncated() {
        assert_eq!(
            utc("2024-05-01T10:00:00.123456789Z").as_deref(),
            Some("2024-05-01T10:00:00.123Z")
        );
        assert_eq!(
            utc("2024-05-01T10:00:00.9999999999999+01:00").as_deref(),
            Some("2024-05-01T09:00:00.999Z")
        );
    }

    #[test]
    fn other_forms_are_not_the_profile() {
        for text in [
            "2024-05-01",
            "20240501T1000Z",
            "20240501T100000Z",
            "2024-W18-3T10:00Z",
            "2024-122T10:00Z",
            "+2024-05-01T10:00Z",
            "12024-05-01T10:00Z",
            "2024-05-01T10Z",
            "2024-05-01T10:00.5Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00,5Z",
            "2024-05-01T10:00:00+8:00",
            "2024-05-01T10:00:00+08:0",
            "2024-05-01T10:00:00+24:00",
            "2024-05-01T10:00:00 +08:00",
            "2024-05-01T10:00:00ZZ",
            "2024-05-01T24:00:00Z",
            "2024-02-30T10:00:00Z",
            "2024-05-01  10:00:00Z",
            "yesterday",
        ] {
            assert_eq!(utc(text), None, "{text}");
        }
    }

    #[test]
    fn a_leap_second_parses_so_that_the_check_can_name_it() {
        use chrono::Timelike;
        let t = parse_timestamp("2024-12-31T23:59:60.5Z").expect("parses");
        assert_eq!(t.naive_utc().to_string(), "2024-12-31 23:59:60.500");
        let shifted = parse_timestamp("2025-01-01T08:59:60+09:00").expect("parses");
        assert_eq!(shifted.naive_utc().to_string(), "2024-12-31 23:59:60");
        assert!(shifted.nanosecond() >= 1_000_000_000);
    }
}
