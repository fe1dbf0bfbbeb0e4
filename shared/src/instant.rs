//! One rule for the instants and dates the platform stores: what enters a table must be an
//! instant MySQL can hold exactly and that is plausible for the data.
//!
//! - **Leap seconds** (`2016-12-31T23:59:60Z`): chrono parses them (nanosecond ≥ 10⁹), MySQL
//!   has no such second (MariaDB stored `0000-00-00 00:00:00`, which then stalled every
//!   rollup): refused.
//! - **The database's range**: `DATETIME` holds 1000-01-01 00:00:00 to 9999-12-31 23:59:59;
//!   anything outside it is refused before it reaches a query (chrono panics converting some
//!   of those, and the server would store a zero date or fail).
//! - **Plausibility**: a date or instant outside the [`DateWindow`] (`DATE_WINDOW_FROM`
//!   inclusive to `DATE_WINDOW_TO` exclusive, default 2000-01-01 to 2100-01-01, in UTC for
//!   instants and as a calendar date for dates) is a typo or an attack: year 0001 would make
//!   a catch-up walk 739,000 days.
//! - **Fractions of a second**: each caller says what its columns keep ([`Precision`]) and
//!   what a finer instant means to it: the CCTV API refuses one (two counts that differ
//!   only below the stored precision would overwrite each other); the import truncates a
//!   statement timestamp to milliseconds, which xAPI 1.0.3 lets an LRS keep.
//!
//! The CCTV API applies it to every instant and date it receives (counts, query bounds),
//! the job kit to payload dates, and the import to statement timestamps.
//! [`format_utc`] writes an instant back as the API answers it.

use std::{fmt, sync::OnceLock};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use crate::config::{ConfigError, env_opt};

/// The first instant a MySQL `DATETIME` holds.
pub const DATETIME_MIN: NaiveDateTime = NaiveDate::from_ymd_opt(1000, 1, 1)
    .expect("a valid date")
    .and_time(NaiveTime::MIN);

/// The first day after what a MySQL `DATETIME` / `DATE` holds (9999-12-31 is the last).
const DATETIME_END_YEAR: i32 = 10_000;

/// Why an instant or a date is refused. The message is meant for the API client or the
/// operator: it names the rule and, for a window, its bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error(
        "{text:?} is not an ISO 8601 date-time with an offset (e.g. 2024-05-01T09:00:00+09:00)"
    )]
    NotAnInstant { text: String },
    #[error("{text:?} is not a date YYYY-MM-DD")]
    NotADate { text: String },
    #[error("{text:?} is a leap second, which the database cannot store")]
    LeapSecond { text: String },
    #[error("{text:?} is more precise than the {precision} stored")]
    TooPrecise { text: String, precision: Precision },
    #[error(
        "{text:?} is outside what the database stores (1000-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"
    )]
    NotStorable { text: String },
    #[error("{text:?} is outside the plausible window {window}")]
    OutsideWindow { text: String, window: DateWindow },
}

/// The finest fraction of a second a column keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `DATETIME`: whole seconds.
    Seconds,
    /// `DATETIME(3)`: milliseconds.
    Millis,
    /// `DATETIME(6)`: microseconds.
    Micros,
    /// Anything (query bounds, which are compared, not stored).
    Any,
}

impl Precision {
    /// Nanoseconds per stored unit.
    fn nanos(self) -> u32 {
        match self {
            Self::Seconds => 1_000_000_000,
            Self::Millis => 1_000_000,
            Self::Micros => 1_000,
            Self::Any => 1,
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Seconds => "whole seconds",
            Self::Millis => "milliseconds",
            Self::Micros => "microseconds",
            Self::Any => "nanoseconds",
        })
    }
}

/// The plausible dates: `from` inclusive to `to` exclusive. Instants are compared in UTC
/// (`from` 00:00:00Z to `to` 00:00:00Z), dates as calendar dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    from: NaiveDate,
    to: NaiveDate,
}

impl Default for DateWindow {
    fn default() -> Self {
        Self {
            from: NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date"),
            to: NaiveDate::from_ymd_opt(2100, 1, 1).expect("a valid date"),
        }
    }
}

impl fmt::Display for DateWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (included) to {} (excluded)", self.from, self.to)
    }
}

/// The window of this process, read from the environment once (see [`DateWindow::current`]).
static CURRENT: OnceLock<DateWindow> = OnceLock::new();

impl DateWindow {
    /// `DATE_WINDOW_FROM`: the first plausible date.
    pub const FROM_VAR: &'static str = "DATE_WINDOW_FROM";
    /// `DATE_WINDOW_TO`: the first date after the plausible ones.
    pub const TO_VAR: &'static str = "DATE_WINDOW_TO";

    /// A window from `from` (included) to `to` (excluded).
    ///
    /// # Errors
    /// A reason when `from` is not before `to`, or the window leaves the `DATETIME` range
    /// (1000-01-02 to 9999-12-31, so that a local day of any zone inside it is storable).
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, String> {
        if from >= to {
            return Err(format!("{from} is not before {to}"));
        }
        let first = NaiveDate::from_ymd_opt(1000, 1, 2).expect("a valid date");
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date");
        if from < first || to > last {
            return Err(format!(
                "the window must lie within {first}..{last} (what DATETIME stores, with a day to spare for time zones)"
            ));
        }
        Ok(Self { from, to })
    }

    /// The first plausible date.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The first date after the plausible ones.
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// The first plausible instant, UTC (naive, as the tables store instants).
    pub fn first_instant(&self) -> NaiveDateTime {
        self.from.and_time(NaiveTime::MIN)
    }

    /// The first instant after the plausible ones, UTC.
    pub fn end_instant(&self) -> NaiveDateTime {
        self.to.and_time(NaiveTime::MIN)
    }

    /// Reads `DATE_WINDOW_FROM` and `DATE_WINDOW_TO` (dates `YYYY-MM-DD`), each defaulting
    /// to 2000-01-01 and 2100-01-01.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable that does not parse or makes the window
    /// empty or unstorable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let from: NaiveDate = env_opt(Self::FROM_VAR)?.unwrap_or(defaults.from);
        let to: NaiveDate = env_opt(Self::TO_VAR)?.unwrap_or(defaults.to);
        Self::new(from, to).map_err(|reason| ConfigError::Invalid {
            name: Self::TO_VAR,
            value: format!("{}={from}, {}={to}", Self::FROM_VAR, Self::TO_VAR),
            reason,
        })
    }

    /// The window of this process: [`Self::from_env`] on first use, for code that has no
    /// settings at hand (payload types). A function validates the variables at start-up
    /// with [`Self::from_env`] (so a bad value stops the init phase); should it not, a bad
    /// value is logged here and the default window used.
    pub fn current() -> Self {
        *CURRENT.get_or_init(|| {
            Self::from_env().unwrap_or_else(|error| {
                tracing::error!(%error, "using the default date window");
                Self::default()
            })
        })
    }

    /// True when `date` is plausible.
    pub fn contains_date(&self, date: NaiveDate) -> bool {
        (self.from..self.to).contains(&date)
    }

    /// `date` when it is plausible; `text` is what the caller sent, for the message.
    ///
    /// # Errors
    /// [`InstantError::OutsideWindow`].
    pub fn check_date(&self, date: NaiveDate, text: &str) -> Result<NaiveDate, InstantError> {
        if self.contains_date(date) {
            Ok(date)
        } else {
            Err(InstantError::OutsideWindow {
                text: text.to_owned(),
                window: *self,
            })
        }
    }

    /// The instant (UTC) when it is storable at `precision` and plausible; `text` is what
    /// the caller sent, for the message.
    ///
    /// # Errors
    /// [`InstantError::LeapSecond`], [`InstantError::NotStorable`],
    /// [`InstantError::TooPrecise`] or [`InstantError::OutsideWindow`], in that order.
    pub fn check_instant(
        &self,
        instant: NaiveDateTime,
        precision: Precision,
        text: &str,
    ) -> Result<NaiveDateTime, InstantError> {
        let nanos = instant.nanosecond();
        if nanos >= 1_000_000_000 {
            return Err(InstantError::LeapSecond {
                text: text.to_owned(),
            });
        }
        if instant < DATETIME_MIN || instant.year() >= DATETIME_END_YEAR {
            return Err(InstantError::NotStorable {
                text: text.to_owned(),
            });
        }
        if !nanos.is_multiple_of(precision.nanos()) {
            return Err(InstantError::TooPrecise {
                text: text.to_owned(),
                precision,
            });
        }
        if instant < self.first_instant() || instant >= self.end_instant() {
            return Err(InstantError::OutsideWindow {
                text: text.to_owned(),
                window: *self,
            });
        }
        Ok(instant)
    }

    /// Parses an RFC 3339 instant that carries its offset (`2024-05-01T09:00:00+09:00`,
    /// `…Z`, fractions allowed) and checks it ([`Self::check_instant`]). Returns it in UTC.
    ///
    /// # Errors
    /// [`InstantError::NotAnInstant`] when it does not parse or has no offset; the checks'
    /// errors otherwise.
    pub fn parse_instant(
        &self,
        text: &str,
        precision: Precision,
    ) -> Result<NaiveDateTime, InstantError> {
        let parsed = parse_rfc3339(text).ok_or_else(|| InstantError::NotAnInstant {
            text: text.to_owned(),
        })?;
        self.check_instant(parsed, precision, text)
    }

    /// Parses a date `YYYY-MM-DD` (exactly: four-digit year, two-digit month and day) and
    /// checks it is plausible.
    ///
    /// # Errors
    /// [`InstantError::NotADate`] or [`InstantError::OutsideWindow`].
    pub fn parse_date(&self, text: &str) -> Result<NaiveDate, InstantError> {
        let date = parse_plain_date(text).ok_or_else(|| InstantError::NotADate {
            text: text.to_owned(),
        })?;
        self.check_date(date, text)
    }
}

/// An RFC 3339 instant as naive UTC; `None` when it does not parse. chrono's own parser also
/// takes a space or a lowercase `t` between date and time, as RFC 3339 allows.
fn parse_rfc3339(text: &str) -> Option<NaiveDateTime> {
    // Years of more than four digits, or signed ones, never reach chrono's parser.
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).naive_utc())
}

/// `YYYY-MM-DD` and nothing else (chrono alone takes `2024-5-1` and `+02024-05-01`).
fn parse_plain_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// An instant as the APIs answer it: UTC, `2024-05-01T00:00:00Z`, with the fraction only
/// when there is one (`2024-05-01T00:00:00.200Z`).
pub fn format_utc(instant: NaiveDateTime) -> String {
    instant
        .and_utc()
        .format("%Y-%m-%dT%H:%M:%S%.fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> DateWindow {
        DateWindow::default()
    }

    fn refused(text: &str, precision: Precision) -> InstantError {
        window()
            .parse_instant(text, precision)
            .expect_err("refused")
    }

    #[test]
    fn an_instant_with_an_offset_is_stored_in_utc() {
        let t = window()
            .parse_instant("2024-05-01T09:00:00+09:00", Precision::Seconds)
            .expect("valid");
        assert_eq!(format_utc(t), "2024-05-01T00:00:00Z");
        assert!(matches!(
            refused("2024-05-01T09:00:00", Precision::Seconds),
            InstantError::NotAnInstant { .. }
        ));
        assert!(matches!(
            refused("yesterday", Precision::Seconds),
            InstantError::NotAnInstant { .. }
        ));
        assert!(matches!(
            refused("+12024-05-01T09:00:00Z", Precision::Seconds),
            InstantError::NotAnInstant { .. }
        ));
    }

    #[test]
    fn a_leap_second_is_refused_with_its_reason() {
        let error = refused("2016-12-31T23:59:60Z", Precision::Millis);
        assert!(
            matches!(error, InstantError::LeapSecond { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("leap second"));
        // The same second with an offset, and with a fraction.
        assert!(matches!(
            refused("2017-01-01T08:59:60+09:00", Precision::Millis),
            InstantError::LeapSecond { .. }
        ));
        assert!(matches!(
            refused("2016-12-31T23:59:60.500Z", Precision::Millis),
            InstantError::LeapSecond { .. }
        ));
    }

    #[test]
    fn instants_the_database_cannot_hold_are_refused_before_the_window() {
        for text in ["0000-01-01T00:00:00+09:00", "0999-12-31T23:59:59Z"] {
            assert!(
                matches!(
                    refused(text, Precision::Seconds),
                    InstantError::NotStorable { .. }
                ),
                "{text}"
            );
        }
        let wide = DateWindow::new(
            NaiveDate::from_ymd_opt(1000, 1, 2).expect("date"),
            NaiveDate::from_ymd_opt(9999, 12, 31).expect("date"),
        )
        .expect("the widest window");
        assert!(matches!(
            wide.parse_instant("9999-12-31T23:59:59+00:00", Precision::Seconds),
            Err(InstantError::OutsideWindow { .. })
        ));
    }

    #[test]
    fn the_window_bounds_instants_in_utc_and_dates_as_dates() {
        let w = window();
        assert!(
            w.parse_instant("2000-01-01T00:00:00Z", Precision::Seconds)
                .is_ok()
        );
        // 2000-01-01 08:59 in Seoul is still 1999 in UTC.
        let early = refused("2000-01-01T08:59:59+09:00", Precision::Seconds);
        assert!(
            matches!(early, InstantError::OutsideWindow { .. }),
            "{early:?}"
        );
        assert!(early.to_string().contains("2000-01-01 (included)"));
        assert!(matches!(
            refused("2100-01-01T00:00:00Z", Precision::Seconds),
            InstantError::OutsideWindow { .. }
        ));
        assert!(
            w.parse_instant("2099-12-31T23:59:59.999Z", Precision::Millis)
                .is_ok()
        );
        assert_eq!(
            w.parse_date("2099-12-31").expect("last day"),
            NaiveDate::from_ymd_opt(2099, 12, 31).expect("date")
        );
        for text in ["1999-12-31", "2100-01-01", "0000-01-01"] {
            assert!(
                matches!(w.parse_date(text), Err(InstantError::OutsideWindow { .. })),
                "{text}"
            );
        }
        for text in [
            "2024-5-1",
            "2024-02-30",
            "+2024-05-01",
            "2024-05-01T00:00:00Z",
        ] {
            assert!(
                matches!(w.parse_date(text), Err(InstantError::NotADate { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn fractions_finer_than_the_column_are_refused_and_the_rest_kept() {
        let w = window();
        let t = w
            .parse_instant("2024-05-01T00:00:00.200Z", Precision::Millis)
            .expect("milliseconds");
        assert_eq!(format_utc(t), "2024-05-01T00:00:00.200Z");
        // Trailing zeros are no extra precision.
        let zeros = w
            .parse_instant("2024-05-01T00:00:00.700000000Z", Precision::Millis)
            .expect("zeros");
        assert_eq!(format_utc(zeros), "2024-05-01T00:00:00.700Z");
        let fine = refused("2024-05-01T00:00:00.2004Z", Precision::Millis);
        assert!(matches!(fine, InstantError::TooPrecise { .. }), "{fine:?}");
        assert!(fine.to_string().contains("milliseconds"));
        assert!(matches!(
            refused("2024-05-01T00:00:00.5Z", Precision::Seconds),
            InstantError::TooPrecise { .. }
        ));
        assert!(
            w.parse_instant("2024-05-01T00:00:00.123456789Z", Precision::Any)
                .is_ok()
        );
    }

    #[test]
    fn a_window_must_be_ordered_and_storable() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert!(DateWindow::new(d(2024, 1, 1), d(2024, 1, 1)).is_err());
        assert!(DateWindow::new(d(1000, 1, 1), d(2024, 1, 1)).is_err());
        let w = DateWindow::new(d(2010, 1, 1), d(2030, 1, 1)).expect("window");
        assert_eq!((w.from(), w.to()), (d(2010, 1, 1), d(2030, 1, 1)));
        assert_eq!(w.end_instant().to_string(), "2030-01-01 00:00:00");
        assert!(!w.contains_date(d(2009, 12, 31)));
    }
}
