//! The `cctv-rollups` function: CCTV stats per camera for days, weeks, months, years and
//! per weekday (source system 001's MySQL events, rebuilt).
//!
//! # What it computes (table `cctv_stats`, one row per camera × kind × period [× weekday])
//! - `day`: from the counts whose interval *starts* in the local day (`CCTV_TIME_ZONE`,
//!   default Asia/Seoul; the original used UTC days): `avg` = mean, `ref` = mean + 1.5 ×
//!   the **population** standard deviation (MySQL's `STDDEV`, which the original used, is
//!   `STDDEV_POP`), `samples` = counts.
//! - `week` (Monday to Sunday), `month` (every day of the month; the original averaged only
//!   the last week), `year`: the mean of the period's day rows' `avg` and of their `ref`, as
//!   the original's events average `day_stats`; `samples` = day rows.
//! - `weekday-of-month`, `weekday-of-year`: the same over the period's day rows of one
//!   weekday (ISO 1 = Monday .. 7 = Sunday), written with the month and year rows.
//!
//! # When
//! - Scheduled (any payload without `from`/`to`): catch-up. Every complete local day from
//!   the first count's day to yesterday that the ledger `cctv_rollup_done` lacks, then every
//!   complete week, month and year it lacks. Recomputing a day clears its week, month and
//!   year from the ledger (and `cctv-api` clears a past day when a count for it changes),
//!   so late data flows up at the next run. A run after an outage fills every missed day.
//! - `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`: recomputes those days (up to yesterday)
//!   and every complete week, month and year overlapping them.
//!
//! Each period is replaced in one transaction (delete, insert, ledger row), so a re-run
//! writes the same rows and a failure leaves no period half-written; a failed run is
//! retried by the scheduler and picks up where it stopped.

use std::{collections::HashSet, time::Instant};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use common::{
    business_time::local_day_start,
    config::{ConfigError, env_or},
    error::FunctionError,
};
use serde::Serialize;
use serde_json::Value;
use sqlx::MySqlPool;

/// The longest range one invocation recomputes (ten years of days).
const MAX_RANGE_DAYS: i64 = 3660;

/// `CCTV_TIME_ZONE`: the cameras' local zone (default Asia/Seoul).
///
/// # Errors
/// When the variable is not an IANA zone name.
pub fn time_zone_from_env() -> Result<Tz, ConfigError> {
    env_or("CCTV_TIME_ZONE", chrono_tz::Asia::Seoul)
}

/// The rolled-up period kinds that have a ledger row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// The period of this kind that contains `day`: its first and last day.
    pub fn around(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        let start = match self {
            Self::Day => day,
            Self::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Self::Month => day.with_day(1).unwrap_or(day),
            Self::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
        };
        (start, self.last_day(start))
    }

    fn last_day(self, start: NaiveDate) -> NaiveDate {
        let next = match self {
            Self::Day => start.checked_add_days(Days::new(1)),
            Self::Week => start.checked_add_days(Days::new(7)),
            Self::Month => start.checked_add_months(Months::new(1)),
            Self::Year => start.checked_add_months(Months::new(12)),
        };
        next.and_then(|n| n.pred_opt()).unwrap_or(start)
    }
}

/// What a payload asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every complete period not yet computed.
    CatchUp,
    /// Recompute these days (inclusive) and the periods around them.
    Range { from: NaiveDate, to: NaiveDate },
}

/// Reads the payload.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] naming the field that is wrong.
pub fn plan(payload: &Value) -> Result<Plan, FunctionError> {
    let field = |name: &str| payload.get(name).filter(|v| !v.is_null());
    let date = |name: &str, value: &Value| {
        let text = value.as_str().ok_or_else(|| {
            FunctionError::InvalidEvent(format!("\"{name}\" must be a string \"YYYY-MM-DD\""))
        })?;
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|_| text.len() == 10)
            .ok_or_else(|| {
                FunctionError::InvalidEvent(format!(
                    "\"{name}\" {text:?} is not a date \"YYYY-MM-DD\""
                ))
            })
    };
    match (field("from"), field("to")) {
        (None, None) => Ok(Plan::CatchUp),
        (Some(from), Some(to)) => {
            let (from, to) = (date("from", from)?, date("to", to)?);
            if from > to {
                return Err(FunctionError::InvalidEvent(format!(
                    "\"from\" {from} is after \"to\" {to}"
                )));
            }
            if (to - from).num_days() >= MAX_RANGE_DAYS {
                return Err(FunctionError::InvalidEvent(format!(
                    "a range covers at most {MAX_RANGE_DAYS} days"
                )));
            }
            Ok(Plan::Range { from, to })
        }
        (Some(_), None) => Err(FunctionError::InvalidEvent(
            "\"to\" is required with \"from\"".into(),
        )),
        (None, Some(_)) => Err(FunctionError::InvalidEvent(
            "\"from\" is required with \"to\"".into(),
        )),
    }
}

/// The function's answer.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Answer {
    /// `catch-up` or `range`.
    pub mode: String,
    /// The last complete local day (yesterday in the cameras' zone).
    pub through: String,
    pub days: usize,
    pub weeks: usize,
    pub months: usize,
    pub years: usize,
    /// Stats rows written (all kinds).
    pub rows: u64,
    pub duration_ms: u64,
}

/// Handles one invocation.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] for a malformed payload; [`FunctionError::Retryable`]
/// when the database fails (the period being written is rolled back; the periods done
/// before it stay done).
pub async fn handle(
    pool: &MySqlPool,
    payload: Value,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Value, FunctionError> {
    let plan = plan(&payload)?;
    let answer = run(pool, &plan, now, zone)
        .await
        .map_err(FunctionError::retryable)?;
    serde_json::to_value(answer).map_err(FunctionError::retryable)
}

/// Runs a plan: days first, then the longer periods built from them.
///
/// # Errors
/// The database error.
pub async fn run(
    pool: &MySqlPool,
    plan: &Plan,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Answer, sqlx::Error> {
    let started = Instant::now();
    let today = now.with_timezone(&zone).date_naive();
    let yesterday = today.pred_opt().unwrap_or(today);
    let mut answer = Answer {
        mode: match plan {
            Plan::CatchUp => "catch-up",
            Plan::Range { .. } => "range",
        }
        .into(),
        through: yesterday.to_string(),
        ..Answer::default()
    };
    // `done`: the ledger in catch-up mode (compute only what it lacks); none for a range
    // (recompute everything overlapping it).
    let (days, from, to, mut done) = match *plan {
        Plan::CatchUp => {
            let Some(first) = first_count_day(pool, zone).await? else {
                return Ok(finish(answer, started));
            };
            let done = ledger(pool).await?;
            let days: Vec<NaiveDate> = days_between(first, yesterday)
                .filter(|d| !done.contains(&(Period::Day, *d)))
                .collect();
            (days, first, yesterday, Some(done))
        }
        Plan::Range { from, to } => {
            let to = to.min(yesterday);
            (days_between(from, to).collect(), from, to, None)
        }
    };
    for day in &days {
        answer.rows += compute_day(pool, *day, zone).await?;
        answer.days += 1;
        // compute_day cleared the periods around the day from the ledger; so does the copy.
        if let Some(done) = done.as_mut() {
            for kind in [Period::Week, Period::Month, Period::Year] {
                done.remove(&(kind, kind.around(*day).0));
            }
        }
    }
    for kind in [Period::Week, Period::Month, Period::Year] {
        let mut start = kind.around(from).0;
        while start <= to {
            let end = kind.last_day(start);
            if end > yesterday {
                break;
            }
            if done.as_ref().is_none_or(|d| !d.contains(&(kind, start))) {
                answer.rows += compute_period(pool, kind, start, end).await?;
                match kind {
                    Period::Week => answer.weeks += 1,
                    Period::Month => answer.months += 1,
                    Period::Year | Period::Day => answer.years += 1,
                }
            }
            let Some(next) = end.succ_opt() else { break };
            start = next;
        }
    }
    let answer = finish(answer, started);
    tracing::info!(
        mode = %answer.mode,
        through = %answer.through,
        days = answer.days,
        weeks = answer.weeks,
        months = answer.months,
        years = answer.years,
        rows = answer.rows,
        duration_ms = answer.duration_ms,
        "cctv rollups done"
    );
    Ok(answer)
}

fn finish(mut answer: Answer, started: Instant) -> Answer {
    answer.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    answer
}

fn days_between(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

async fn first_count_day(pool: &MySqlPool, zone: Tz) -> Result<Option<NaiveDate>, sqlx::Error> {
    let first: Option<NaiveDateTime> = sqlx::query_scalar("SELECT MIN(start_utc) FROM cctv_count")
        .fetch_one(pool)
        .await?;
    Ok(first.map(|t| t.and_utc().with_timezone(&zone).date_naive()))
}

async fn ledger(pool: &MySqlPool) -> Result<HashSet<(Period, NaiveDate)>, sqlx::Error> {
    let rows: Vec<(String, NaiveDate)> =
        sqlx::query_as("SELECT CAST(period_kind AS CHAR), period_start FROM cctv_rollup_done")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind, start)| {
            let kind = match kind.as_str() {
                "day" => Period::Day,
                "week" => Period::Week,
                "month" => Period::Month,
                "year" => Period::Year,
                _ => return None,
            };
            Some((kind, start))
        })
        .collect())
}

async fn mark_done(
    tx: &mut sqlx::Transaction<'static, sqlx::MySql>,
    kind: Period,
    start: NaiveDate,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cctv_rollup_done (period_kind, period_start, computed_at) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE computed_at = VALUES(computed_at)",
    )
    .bind(kind.as_str())
    .bind(start)
    .bind(Utc::now().naive_utc())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Replaces the day rows of local day `day` (every camera) from the counts; clears the
/// week, month and year around it from the ledger. Returns the rows written.
///
/// # Errors
/// The database error (nothing of the day is changed).
pub async fn compute_day(pool: &MySqlPool, day: NaiveDate, zone: Tz) -> Result<u64, sqlx::Error> {
    let from = local_day_start(day, zone);
    let to = local_day_start(day.succ_opt().unwrap_or(day), zone);
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM cctv_stats WHERE period_kind = 'day' AND period_start = ?")
        .bind(day)
        .execute(&mut *tx)
        .await?;
    let written = sqlx::query(
        "INSERT INTO cctv_stats (camera_id, period_kind, period_start, weekday, period_end, samples,
             people_avg, people_ref, vehicles_avg, vehicles_ref, computed_at)
         SELECT camera_id, 'day', ?, 0, ?, COUNT(*),
             AVG(people), AVG(people) + 1.5 * STDDEV_POP(people),
             AVG(vehicles), AVG(vehicles) + 1.5 * STDDEV_POP(vehicles), ?
         FROM cctv_count WHERE start_utc >= ? AND start_utc < ?
         GROUP BY camera_id",
    )
    .bind(day)
    .bind(day)
    .bind(Utc::now().naive_utc())
    .bind(from)
    .bind(to)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    mark_done(&mut tx, Period::Day, day).await?;
    sqlx::query(
        "DELETE FROM cctv_rollup_done
         WHERE (period_kind = 'week' AND period_start = ?) OR (period_kind = 'month' AND period_start = ?)
            OR (period_kind = 'year' AND period_start = ?)",
    )
    .bind(Period::Week.around(day).0)
    .bind(Period::Month.around(day).0)
    .bind(Period::Year.around(day).0)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(written)
}

/// Replaces the rows of one week, month or year (and the per-weekday rows of a month or
/// year) from the day rows from `start` to `end` (inclusive). Returns the rows written.
///
/// # Errors
/// The database error (nothing of the period is changed).
pub async fn compute_period(
    pool: &MySqlPool,
    kind: Period,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<u64, sqlx::Error> {
    let weekday_kind = match kind {
        Period::Month => Some("weekday-of-month"),
        Period::Year => Some("weekday-of-year"),
        Period::Day | Period::Week => None,
    };
    let now = Utc::now().naive_utc();
    let mut tx = pool.begin().await?;
    let mut written = average_days(&mut tx, kind.as_str(), start, end, now, false).await?;
    if let Some(weekday_kind) = weekday_kind {
        written += average_days(&mut tx, weekday_kind, start, end, now, true).await?;
    }
    mark_done(&mut tx, kind, start).await?;
    tx.commit().await?;
    Ok(written)
}

/// Replaces the `stats_kind` rows starting at `start` with the mean of the day rows from
/// `start` to `end`, per camera, and per ISO weekday when `by_weekday`.
async fn average_days(
    tx: &mut sqlx::Transaction<'static, sqlx::MySql>,
    stats_kind: &str,
    start: NaiveDate,
    end: NaiveDate,
    now: NaiveDateTime,
    by_weekday: bool,
) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM cctv_stats WHERE period_kind = ? AND period_start = ?")
        .bind(stats_kind)
        .bind(start)
        .execute(&mut **tx)
        .await?;
    // Two fixed statements rather than spliced SQL: the weekday is the only difference.
    let insert = if by_weekday {
        "INSERT INTO cctv_stats (camera_id, period_kind, period_start, weekday, period_end, samples,
             people_avg, people_ref, vehicles_avg, vehicles_ref, computed_at)
         SELECT camera_id, ?, ?, WEEKDAY(period_start) + 1, ?, COUNT(*), AVG(people_avg),
             AVG(people_ref), AVG(vehicles_avg), AVG(vehicles_ref), ?
         FROM cctv_stats WHERE period_kind = 'day' AND period_start BETWEEN ? AND ?
         GROUP BY camera_id, WEEKDAY(period_start) + 1"
    } else {
        "INSERT INTO cctv_stats (camera_id, period_kind, period_start, weekday, period_end, samples,
             people_avg, people_ref, vehicles_avg, vehicles_ref, computed_at)
         SELECT camera_id, ?, ?, 0, ?, COUNT(*), AVG(people_avg), AVG(people_ref),
             AVG(vehicles_avg), AVG(vehicles_ref), ?
         FROM cctv_stats WHERE period_kind = 'day' AND period_start BETWEEN ? AND ?
         GROUP BY camera_id"
    };
    Ok(sqlx::query(insert)
        .bind(stats_kind)
        .bind(start)
        .bind(end)
        .bind(now)
        .bind(start)
        .bind(end)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(text: &str) -> NaiveDate {
        text.parse().expect("date")
    }

    #[test]
    fn periods_start_on_monday_the_first_and_new_year() {
        assert_eq!(
            Period::Week.around(d("2024-05-01")),
            (d("2024-04-29"), d("2024-05-05"))
        );
        assert_eq!(
            Period::Month.around(d("2024-02-15")),
            (d("2024-02-01"), d("2024-02-29"))
        );
        assert_eq!(
            Period::Year.around(d("2024-02-15")),
            (d("2024-01-01"), d("2024-12-31"))
        );
        assert_eq!(
            Period::Day.around(d("2024-02-15")),
            (d("2024-02-15"), d("2024-02-15"))
        );
    }

    #[test]
    fn payloads() {
        assert_eq!(plan(&json!({})).expect("plan"), Plan::CatchUp);
        assert_eq!(
            plan(&json!({"source": "aws.scheduler"})).expect("plan"),
            Plan::CatchUp
        );
        assert_eq!(
            plan(&json!({"from": "2024-05-01", "to": "2024-05-07"})).expect("plan"),
            Plan::Range {
                from: d("2024-05-01"),
                to: d("2024-05-07")
            }
        );
        let error = |p: Value| plan(&p).expect_err("refused").to_string();
        assert!(error(json!({"from": "2024-05-01"})).contains("\"to\" is required"));
        assert!(error(json!({"from": "2024-05-08", "to": "2024-05-01"})).contains("is after"));
        assert!(error(json!({"from": "2024-5-1", "to": "2024-05-01"})).contains("not a date"));
        assert!(error(json!({"from": 20240501, "to": "2024-05-01"})).contains("must be a string"));
        assert!(error(json!({"from": "2000-01-01", "to": "2024-05-01"})).contains("at most"));
    }
}
