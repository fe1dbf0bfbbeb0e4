//! Dates as the business counts them: the log date of a file, the month of an event.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The date a log file or zip entry name holds, if any: the first `YYYY-MM-DD`,
/// `YYYY_MM_DD` or `YYYYMMDD` run of digits that is a real calendar date, as the source
/// system names its daily uploads (`comLog/2024-05-01.zip`, `20240501.json`).
pub fn date_in_name(name: &str) -> Option<NaiveDate> {
    let bytes = name.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let num = |from: usize, len: usize| {
        name.get(from..from + len)
            .and_then(|s| s.parse::<u32>().ok())
    };
    for start in 0..bytes.len() {
        // A date starts where a run of digits starts.
        if !digit(start) || (start > 0 && digit(start - 1)) {
            continue;
        }
        let year = num(start, 4).filter(|_| (0..4).all(|k| digit(start + k)));
        let Some(year) = year else { continue };
        let sep = bytes.get(start + 4).copied();
        let (month_at, day_at, end) = match sep {
            Some(b'-' | b'_' | b'.') if bytes.get(start + 7).copied() == sep => {
                (start + 5, start + 8, start + 10)
            }
            _ => (start + 4, start + 6, start + 8),
        };
        let two = |at: usize| {
            if digit(at) && digit(at + 1) {
                num(at, 2)
            } else {
                None
            }
        };
        let (Some(month), Some(day)) = (two(month_at), two(day_at)) else {
            continue;
        };
        if digit(end) {
            continue;
        }
        let Ok(year) = i32::try_from(year) else {
            continue;
        };
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day)
            .filter(|d| (1990..=2100).contains(&d.year_ce().1))
        {
            return Some(date);
        }
    }
    None
}

use chrono::Datelike;

/// The calendar date of an instant in the business time zone.
pub fn local_date(instant: DateTime<Utc>, zone: Tz) -> NaiveDate {
    instant.with_timezone(&zone).date_naive()
}

/// The UTC instant (as a naive UTC date-time, how the tables store instants) where local
/// day `date` starts in `zone`. When midnight falls in a DST gap the day starts at the
/// first local hour that exists.
pub fn local_day_start(date: NaiveDate, zone: Tz) -> NaiveDateTime {
    let midnight = date.and_time(NaiveTime::MIN);
    (0..=3)
        .find_map(|h| {
            zone.from_local_datetime(&(midnight + TimeDelta::hours(h)))
                .earliest()
        })
        .map_or(midnight, |t| t.with_timezone(&Utc).naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, day)
    }

    #[test]
    fn local_days_start_at_local_midnight() {
        let start = local_day_start(
            NaiveDate::from_ymd_opt(2024, 5, 1).expect("date"),
            chrono_tz::Asia::Seoul,
        );
        assert_eq!(start.to_string(), "2024-04-30 15:00:00");
        // São Paulo skipped midnight on 2018-11-04: the day began at 01:00 local.
        let gap = local_day_start(
            NaiveDate::from_ymd_opt(2018, 11, 4).expect("date"),
            chrono_tz::America::Sao_Paulo,
        );
        assert_eq!(gap.to_string(), "2018-11-04 03:00:00");
    }

    #[test]
    fn finds_dates_in_the_names_the_source_system_uses() {
        assert_eq!(date_in_name("uploads/comLog/2024-05-01.zip"), d(2024, 5, 1));
        assert_eq!(date_in_name("logs/20240501.jsonl"), d(2024, 5, 1));
        assert_eq!(date_in_name("2024_12_31_part2.json"), d(2024, 12, 31));
        assert_eq!(date_in_name("a/b/day-2023.02.28.ndjson"), d(2023, 2, 28));
    }

    #[test]
    fn ignores_digits_that_are_not_a_date() {
        assert_eq!(date_in_name("statements.json"), None);
        assert_eq!(date_in_name("2024-13-01.json"), None);
        assert_eq!(date_in_name("part-123456789.json"), None);
        assert_eq!(date_in_name("20240230.json"), None);
    }

    #[test]
    fn local_date_uses_the_business_zone() {
        let instant: DateTime<Utc> = "2024-05-01T17:30:00Z".parse().expect("valid instant");
        assert_eq!(
            local_date(instant, chrono_tz::Asia::Taipei),
            d(2024, 5, 2).expect("date")
        );
        assert_eq!(
            local_date(instant, chrono_tz::UTC),
            d(2024, 5, 1).expect("date")
        );
    }
}
