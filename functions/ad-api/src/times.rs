//! The admin API's times: the seed's `YYYY-MM-DD HH:MM:SS`, in the business zone
//! (`AD_TIME_ZONE`); stored as UTC.

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use common::http::ApiError;

const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A stored UTC instant as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_text(utc: NaiveDateTime, zone: Tz) -> String {
    zone.from_utc_datetime(&utc).format(FORMAT).to_string()
}

/// Reads a local `YYYY-MM-DD HH:MM:SS` of `field` as a UTC instant (the earlier of two in a
/// DST fold; a time a DST gap skips is refused), inside 2000..2100.
///
/// # Errors
/// [`ApiError::Validation`] naming the field.
pub fn parse_local(field: &str, text: &str, zone: Tz) -> Result<NaiveDateTime, ApiError> {
    let local = NaiveDateTime::parse_from_str(text.trim(), FORMAT).map_err(|_| {
        ApiError::invalid(field, format!("{text:?} is not a time YYYY-MM-DD HH:MM:SS"))
    })?;
    let utc = zone
        .from_local_datetime(&local)
        .earliest()
        .ok_or_else(|| ApiError::invalid(field, format!("{text} does not exist in {zone}")))?
        .naive_utc();
    if !(2000..2100).contains(&chrono::Datelike::year(&utc)) {
        return Err(ApiError::invalid(field, "must be between 2000 and 2099"));
    }
    Ok(utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_round_trip_through_utc() {
        let zone = chrono_tz::Asia::Shanghai;
        let utc = parse_local("up_time", "2024-05-01 08:00:00", zone).expect("valid");
        assert_eq!(utc.to_string(), "2024-05-01 00:00:00");
        assert_eq!(local_text(utc, zone), "2024-05-01 08:00:00");
        assert!(parse_local("up_time", "2024-05-01T08:00:00", zone).is_err());
        assert!(parse_local("up_time", "1999-05-01 08:00:00", zone).is_err());
        let gap = parse_local("t", "2024-03-31 02:30:00", chrono_tz::Europe::Berlin);
        assert!(gap.is_err());
    }
}
