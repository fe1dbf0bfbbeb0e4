//! Time bounds of list routes, the same for every API.
//!
//! A range is `from` / `to`, each either a **date** `YYYY-MM-DD`, meaning whole local days
//! of the API's zone (`from`'s day is the first, `to`'s day the last, included), or an
//! **instant** with an offset (`from` included, `to` excluded). Either must pass the
//! platform's rule ([`crate::instant`]): inside the plausible window, storable, no leap
//! second. The result is a half-open UTC range `[from, to)`, as the tables store instants.
//! Stats-like routes whose rows are dated by day take dates only ([`date_range`]).
//!
//! Query structs declare the parameters as [`TimeBound`] or [`DateParam`] with
//! `#[param(inline)]`: the text as sent, documented in OpenAPI as `anyOf: [date, date-time]`
//! or `date` ([`date_or_instant_schema`], [`date_schema`]), so contract testers generate
//! what the routes take.

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
        },
    },
};

use super::ApiError;
use crate::{
    business_time::local_day_start,
    instant::{DateWindow, InstantError, Precision},
};

/// A range bound as sent (a date or an instant), checked by [`time_range`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct TimeBound(pub String);

impl PartialSchema for TimeBound {
    fn schema() -> RefOr<Schema> {
        date_or_instant_schema()
    }
}

impl ToSchema for TimeBound {}

/// A date parameter as sent, checked by [`date`] or [`date_range`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DateParam(pub String);

impl PartialSchema for DateParam {
    fn schema() -> RefOr<Schema> {
        date_schema()
    }
}

impl ToSchema for DateParam {}

/// A half-open UTC range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
}

/// The validation error of `field` for a refused instant or date.
pub fn refused(field: &str, error: &InstantError) -> ApiError {
    ApiError::invalid(field, error.to_string())
}

/// A plausible date `YYYY-MM-DD`.
///
/// # Errors
/// [`ApiError::Validation`] naming `field`.
pub fn date(field: &str, text: &str, window: &DateWindow) -> Result<NaiveDate, ApiError> {
    window.parse_date(text).map_err(|e| refused(field, &e))
}

/// One end of a range: a date (local day start; the day after for the end) or an instant.
///
/// # Errors
/// [`ApiError::Validation`] naming `field`.
pub fn bound(
    field: &str,
    text: &str,
    zone: Tz,
    window: &DateWindow,
    is_end: bool,
) -> Result<NaiveDateTime, ApiError> {
    match window.parse_date(text) {
        Ok(day) => {
            let day = if is_end {
                // The window ends before 9999-12-31, so the next day exists.
                day.succ_opt()
                    .ok_or_else(|| ApiError::invalid(field, "date out of range"))?
            } else {
                day
            };
            Ok(local_day_start(day, zone))
        }
        Err(error @ InstantError::OutsideWindow { .. }) => Err(refused(field, &error)),
        Err(_) => match window.parse_instant(text, Precision::Any) {
            Ok(instant) => Ok(instant),
            Err(InstantError::NotAnInstant { .. }) => Err(ApiError::invalid(
                field,
                format!(
                    "{text:?} is neither a date YYYY-MM-DD nor an ISO 8601 date-time with an offset"
                ),
            )),
            Err(error) => Err(refused(field, &error)),
        },
    }
}

/// The range of `from` and `to` (see the module doc); `to` must be after `from`.
///
/// # Errors
/// [`ApiError::Validation`] naming `from` or `to`.
pub fn time_range(
    from: &str,
    to: &str,
    zone: Tz,
    window: &DateWindow,
) -> Result<TimeRange, ApiError> {
    let from = bound("from", from, zone, window, false)?;
    let to = bound("to", to, zone, window, true)?;
    if to <= from {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    Ok(TimeRange { from, to })
}

/// An inclusive range of plausible dates, at most `max_days` long.
///
/// # Errors
/// [`ApiError::Validation`] naming `from` or `to`.
pub fn date_range(
    from: &str,
    to: &str,
    window: &DateWindow,
    max_days: i64,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let from = date("from", from, window)?;
    let to = date("to", to, window)?;
    if to < from {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    if (to - from).num_days() >= max_days {
        return Err(ApiError::invalid(
            "to",
            format!("a range covers at most {max_days} days"),
        ));
    }
    Ok((from, to))
}

fn string(format: KnownFormat) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .format(Some(SchemaFormat::KnownFormat(format)))
            .build(),
    )
}

/// `anyOf: [date, date-time]`: a range bound.
pub fn date_or_instant_schema() -> RefOr<Schema> {
    RefOr::T(Schema::AnyOf(
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .description(Some(
                "A local date YYYY-MM-DD (whole days of the API's zone) or an ISO 8601 date-time with an offset; inside the plausible date window",
            ))
            .build(),
    ))
}

/// A date `YYYY-MM-DD`.
pub fn date_schema() -> RefOr<Schema> {
    RefOr::T(string(KnownFormat::Date))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instant::format_utc;

    const SEOUL: Tz = chrono_tz::Asia::Seoul;

    fn reason(result: Result<impl std::fmt::Debug, ApiError>) -> (String, String) {
        match result {
            Err(ApiError::Validation { field, reason }) => (field, reason),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn dates_are_whole_local_days_and_instants_are_exact() {
        let w = DateWindow::default();
        let days = time_range("2024-05-01", "2024-05-01", SEOUL, &w).expect("one day");
        assert_eq!(format_utc(days.from), "2024-04-30T15:00:00Z");
        assert_eq!(format_utc(days.to), "2024-05-01T15:00:00Z");
        let exact = time_range(
            "2024-05-01T00:00:00Z",
            "2024-05-01T12:00:00.5+09:00",
            SEOUL,
            &w,
        )
        .expect("instants");
        assert_eq!(format_utc(exact.to), "2024-05-01T03:00:00.500Z");
        assert_eq!(
            reason(time_range("2024-05-02", "2024-05-01", SEOUL, &w)).0,
            "to"
        );
        assert_eq!(
            reason(time_range("May 1st", "2024-05-01", SEOUL, &w)).1,
            "\"May 1st\" is neither a date YYYY-MM-DD nor an ISO 8601 date-time with an offset"
        );
    }

    #[test]
    fn implausible_and_unstorable_bounds_are_refused_with_their_field() {
        let w = DateWindow::default();
        let (field, why) = reason(time_range("0000-01-01", "2024-01-01", SEOUL, &w));
        assert_eq!(field, "from");
        assert!(why.contains("plausible window"), "{why}");
        let (field, why) = reason(time_range("2024-01-01", "9999-12-31", SEOUL, &w));
        assert_eq!(field, "to");
        assert!(why.contains("plausible window"), "{why}");
        let (field, why) = reason(time_range("2016-12-31T23:59:60Z", "2024-01-01", SEOUL, &w));
        assert_eq!(field, "from");
        assert!(why.contains("leap second"), "{why}");
        let (_, why) = reason(time_range("0000-01-01T00:00:00Z", "2024-01-01", SEOUL, &w));
        assert!(why.contains("database"), "{why}");
        // The last plausible day is a valid end: its end is the window's end.
        let last = time_range("2099-12-31", "2099-12-31", chrono_tz::UTC, &w).expect("last day");
        assert_eq!(last.to, w.end_instant());
    }

    #[test]
    fn date_ranges_are_ordered_and_bounded() {
        let w = DateWindow::default();
        assert!(date_range("2024-05-01", "2024-05-31", &w, 31).is_ok());
        assert_eq!(
            reason(date_range("2024-05-01", "2024-06-01", &w, 31)).0,
            "to"
        );
        assert_eq!(
            reason(date_range("2024-05-02", "2024-05-01", &w, 31)).0,
            "to"
        );
        assert_eq!(
            reason(date_range("0000-01-01", "2024-05-01", &w, 31)).0,
            "from"
        );
        assert_eq!(
            reason(date_range("2024-13-01", "2024-05-01", &w, 31)).0,
            "from"
        );
    }

    #[test]
    fn the_schema_is_a_date_or_a_date_time() {
        let value = serde_json::to_value(date_or_instant_schema()).expect("serialises");
        assert_eq!(value["anyOf"][0]["format"], "date");
        assert_eq!(value["anyOf"][1]["format"], "date-time");
    }
}
