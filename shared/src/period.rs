//! Calendar periods of local days, and the ledger of the periods a rollup has computed.
//!
//! - [`PeriodKind`]: day, week (Monday to Sunday), month, year, and the per-weekday kinds
//!   (the days of one ISO weekday within a month or a year). Its `as_str` is what the tables
//!   store (`cctv_stats.period_kind`, `rollup_done.period_kind`) and what the APIs take and
//!   answer; [`PeriodKind::around`] gives the period of a kind that contains a day.
//! - [`Ledger`]: the table `rollup_done (system_name, period_kind, period_start,
//!   computed_at)`, shared by every system that rolls data up by period (CCTV stats now,
//!   the ads' daily archive next). A row means "this period is computed"; a missing row is
//!   a period still to compute, which is how a scheduled catch-up fills the days an outage
//!   missed and how late data is recomputed (its period is cleared). Marking a period done
//!   happens inside the transaction that writes the period, so the two cannot disagree.
//! - [`cctv_time_zone_from_env`]: the one reader of `CCTV_TIME_ZONE`, whose local days the
//!   CCTV periods are.

use std::{collections::HashSet, fmt, str::FromStr};

use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::{MySql, MySqlConnection, QueryBuilder, Transaction};

use crate::config::{ConfigError, env_or};

/// A kind of period. Periods start on a local date and are whole local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "http", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PeriodKind {
    Day,
    /// Monday to Sunday.
    Week,
    Month,
    Year,
    /// The days of one ISO weekday within a month.
    WeekdayOfMonth,
    /// The days of one ISO weekday within a year.
    WeekdayOfYear,
}

/// A kind name that is none of [`PeriodKind`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown period kind {0:?} (day, week, month, year, weekday-of-month or weekday-of-year)")]
pub struct UnknownPeriodKind(pub String);

impl PeriodKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Day,
        Self::Week,
        Self::Month,
        Self::Year,
        Self::WeekdayOfMonth,
        Self::WeekdayOfYear,
    ];

    /// The kinds a [`Ledger`] records: the per-weekday kinds are computed with their month
    /// or year and share its row.
    pub const WITH_LEDGER: [Self; 4] = [Self::Day, Self::Week, Self::Month, Self::Year];

    /// The name stored and exchanged (`weekday-of-month`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
            Self::WeekdayOfMonth => "weekday-of-month",
            Self::WeekdayOfYear => "weekday-of-year",
        }
    }

    /// True for the kinds a [`Ledger`] records.
    pub fn has_ledger(self) -> bool {
        Self::WITH_LEDGER.contains(&self)
    }

    /// The per-weekday kind written with a period of this kind (month → weekday-of-month,
    /// year → weekday-of-year).
    pub fn per_weekday(self) -> Option<Self> {
        match self {
            Self::Month => Some(Self::WeekdayOfMonth),
            Self::Year => Some(Self::WeekdayOfYear),
            _ => None,
        }
    }

    /// True for weekday-of-month and weekday-of-year (their rows carry an ISO weekday).
    pub fn is_per_weekday(self) -> bool {
        matches!(self, Self::WeekdayOfMonth | Self::WeekdayOfYear)
    }

    /// The period of this kind that contains `day`: its first and last day (inclusive). A
    /// per-weekday kind spans its month or year.
    pub fn around(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        let start = match self {
            Self::Day => day,
            Self::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Self::Month | Self::WeekdayOfMonth => day.with_day(1).unwrap_or(day),
            Self::Year | Self::WeekdayOfYear => {
                NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day)
            }
        };
        (start, self.last_day(start))
    }

    /// The last day (inclusive) of the period of this kind that starts on `start`. At the
    /// end of chrono's calendar (year 262142) the period is cut to `start`.
    pub fn last_day(self, start: NaiveDate) -> NaiveDate {
        let next = match self {
            Self::Day => start.checked_add_days(Days::new(1)),
            Self::Week => start.checked_add_days(Days::new(7)),
            Self::Month | Self::WeekdayOfMonth => start.checked_add_months(Months::new(1)),
            Self::Year | Self::WeekdayOfYear => start.checked_add_months(Months::new(12)),
        };
        next.and_then(|n| n.pred_opt()).unwrap_or(start)
    }
}

impl fmt::Display for PeriodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeriodKind {
    type Err = UnknownPeriodKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| UnknownPeriodKind(text.to_owned()))
    }
}

/// `CCTV_TIME_ZONE`: the cameras' zone (default Asia/Seoul), whose local days are the CCTV
/// periods and the dates of CCTV query ranges. Read by cctv-api and cctv-rollups alike.
///
/// # Errors
/// [`ConfigError::Invalid`] when the value is not an IANA zone name.
pub fn cctv_time_zone_from_env() -> Result<Tz, ConfigError> {
    env_or("CCTV_TIME_ZONE", chrono_tz::Asia::Seoul)
}

/// The "period done" ledger of one system, in the table `rollup_done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    system: &'static str,
}

impl Ledger {
    /// The CCTV stats (cctv-rollups computes; cctv-api clears the days late counts touch).
    pub const CCTV: Self = Self::new("cctv");

    /// The ledger of `system` (at most 32 ASCII characters). Systems are named here, as
    /// associated constants, so two systems cannot share a name by accident.
    pub const fn new(system: &'static str) -> Self {
        Self { system }
    }

    /// The system's name in `rollup_done.system_name`.
    pub fn system(&self) -> &'static str {
        self.system
    }

    /// Every period the ledger holds as computed. Rows of a kind this code does not know
    /// (written by a newer version) are left out, and so recomputed.
    ///
    /// # Errors
    /// The database error.
    pub async fn done(
        &self,
        conn: &mut MySqlConnection,
    ) -> Result<HashSet<(PeriodKind, NaiveDate)>, sqlx::Error> {
        let rows: Vec<(String, NaiveDate)> = sqlx::query_as(
            "SELECT period_kind, period_start FROM rollup_done WHERE system_name = ?",
        )
        .bind(self.system)
        .fetch_all(conn)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(kind, start)| Some((kind.parse().ok()?, start)))
            .collect())
    }

    /// Marks the period of `kind` starting on `start` computed, now. Call it in the
    /// transaction that writes the period: it commits or rolls back with it.
    ///
    /// # Errors
    /// The database error.
    pub async fn mark_done(
        &self,
        tx: &mut Transaction<'_, MySql>,
        kind: PeriodKind,
        start: NaiveDate,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO rollup_done (system_name, period_kind, period_start, computed_at)
             VALUES (?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE computed_at = VALUES(computed_at)",
        )
        .bind(self.system)
        .bind(kind.as_str())
        .bind(start)
        .bind(Utc::now().naive_utc())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Forgets the given periods (kind and first day), so the next catch-up recomputes
    /// them. Returns the rows removed.
    ///
    /// # Errors
    /// The database error.
    pub async fn clear(
        &self,
        conn: &mut MySqlConnection,
        periods: impl IntoIterator<Item = (PeriodKind, NaiveDate)>,
    ) -> Result<u64, sqlx::Error> {
        let periods: Vec<(PeriodKind, NaiveDate)> = periods.into_iter().collect();
        if periods.is_empty() {
            return Ok(0);
        }
        let mut query = QueryBuilder::<MySql>::new("DELETE FROM rollup_done WHERE system_name = ");
        query.push_bind(self.system);
        query.push(" AND (period_kind, period_start) IN (");
        let mut list = query.separated(", ");
        for (kind, start) in periods {
            list.push("(")
                .push_bind_unseparated(kind.as_str())
                .push_unseparated(", ")
                .push_bind_unseparated(start)
                .push_unseparated(")");
        }
        query.push(")");
        Ok(query.build().execute(conn).await?.rows_affected())
    }

    /// Forgets the periods of `kinds` that contain `day` (e.g. the week, month and year
    /// around a recomputed day). Returns the rows removed.
    ///
    /// # Errors
    /// The database error.
    pub async fn clear_around(
        &self,
        conn: &mut MySqlConnection,
        day: NaiveDate,
        kinds: &[PeriodKind],
    ) -> Result<u64, sqlx::Error> {
        self.clear(conn, kinds.iter().map(|k| (*k, k.around(day).0)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn periods_start_on_monday_the_first_and_new_year() {
        use PeriodKind::*;
        assert_eq!(
            Week.around(d("2024-05-01")),
            (d("2024-04-29"), d("2024-05-05"))
        );
        assert_eq!(
            Month.around(d("2024-02-15")),
            (d("2024-02-01"), d("2024-02-29"))
        );
        assert_eq!(
            Year.around(d("2024-02-15")),
            (d("2024-01-01"), d("2024-12-31"))
        );
        assert_eq!(
            Day.around(d("2024-02-15")),
            (d("2024-02-15"), d("2024-02-15"))
        );
        assert_eq!(
            WeekdayOfMonth.around(d("2023-02-15")),
            (d("2023-02-01"), d("2023-02-28"))
        );
        assert_eq!(
            WeekdayOfYear.around(d("2023-02-15")),
            (d("2023-01-01"), d("2023-12-31"))
        );
        assert_eq!(Week.last_day(d("2024-12-30")), d("2025-01-05"));
    }

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for kind in PeriodKind::ALL {
            assert_eq!(kind.as_str().parse::<PeriodKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_value(kind).expect("serialises"),
                serde_json::Value::from(kind.as_str())
            );
            let back: PeriodKind =
                serde_json::from_value(kind.as_str().into()).expect("deserialises");
            assert_eq!(back, kind);
        }
        assert_eq!(
            "fortnight".parse::<PeriodKind>(),
            Err(UnknownPeriodKind("fortnight".into()))
        );
        assert!(serde_json::from_str::<PeriodKind>("\"Day\"").is_err());
    }

    #[test]
    fn only_calendar_periods_have_a_ledger_and_months_and_years_carry_weekdays() {
        let with: Vec<PeriodKind> = PeriodKind::ALL
            .into_iter()
            .filter(|k| k.has_ledger())
            .collect();
        assert_eq!(with, PeriodKind::WITH_LEDGER);
        assert_eq!(
            PeriodKind::Month.per_weekday(),
            Some(PeriodKind::WeekdayOfMonth)
        );
        assert_eq!(
            PeriodKind::Year.per_weekday(),
            Some(PeriodKind::WeekdayOfYear)
        );
        assert_eq!(PeriodKind::Week.per_weekday(), None);
        assert!(PeriodKind::WeekdayOfYear.is_per_weekday());
        assert!(!PeriodKind::Year.is_per_weekday());
        assert_eq!(Ledger::CCTV.system(), "cctv");
    }
}
