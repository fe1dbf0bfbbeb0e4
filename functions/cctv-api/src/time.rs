//! Instants in, instants out: ISO 8601 with an offset on the way in, UTC (`…Z`) in storage
//! and on the way out; local days of the cameras' zone for date ranges.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use common::business_time::local_day_start;
use common::http::ApiError;

/// An ISO 8601 / RFC 3339 instant that carries its offset (`2024-05-01T09:00:00+09:00`,
/// `…Z`), as UTC.
///
/// # Errors
/// [`ApiError::Validation`] on `field` when the text has no offset or is no instant.
pub fn parse_instant(field: &str, text: &str) -> Result<NaiveDateTime, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc).naive_utc())
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!(
                    "{text:?} is not an ISO 8601 date-time with an offset (e.g. 2024-05-01T09:00:00+09:00)"
                ),
            )
        })
}

/// One end of a query range: a local date (`YYYY-MM-DD`, whole local days; `to` includes
/// its day) or an instant with an offset (`to` excluded). Returns a UTC instant.
///
/// # Errors
/// [`ApiError::Validation`] naming `field`.
pub fn parse_bound(
    field: &str,
    text: &str,
    zone: Tz,
    is_end: bool,
) -> Result<NaiveDateTime, ApiError> {
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let day = if is_end {
            date.checked_add_days(Days::new(1))
                .ok_or_else(|| ApiError::invalid(field, "date out of range"))?
        } else {
            date
        };
        return Ok(local_day_start(day, zone));
    }
    parse_instant(field, text).map_err(|_| {
        ApiError::invalid(
            field,
            format!(
                "{text:?} is neither a date YYYY-MM-DD nor an ISO 8601 date-time with an offset"
            ),
        )
    })
}

/// A local date `YYYY-MM-DD`.
///
/// # Errors
/// [`ApiError::Validation`] naming `field`.
pub fn parse_date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid(field, format!("{text:?} is not a date YYYY-MM-DD")))
}

/// `2024-05-01T00:00:00Z`.
pub fn format_utc(instant: NaiveDateTime) -> String {
    instant.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_need_an_offset_and_are_stored_in_utc() {
        let t = parse_instant("start", "2024-05-01T09:00:00+09:00").expect("instant");
        assert_eq!(format_utc(t), "2024-05-01T00:00:00Z");
        assert!(parse_instant("start", "2024-05-01T09:00:00").is_err());
        assert!(parse_instant("start", "yesterday").is_err());
    }

    #[test]
    fn date_bounds_are_local_days() {
        let zone = chrono_tz::Asia::Seoul;
        let from = parse_bound("from", "2024-05-01", zone, false).expect("from");
        let to = parse_bound("to", "2024-05-01", zone, true).expect("to");
        assert_eq!(format_utc(from), "2024-04-30T15:00:00Z");
        assert_eq!(format_utc(to), "2024-05-01T15:00:00Z");
        let instant = parse_bound("to", "2024-05-01T12:00:00Z", zone, true).expect("instant");
        assert_eq!(format_utc(instant), "2024-05-01T12:00:00Z");
        assert!(parse_bound("from", "May 1st", zone, false).is_err());
    }
}
