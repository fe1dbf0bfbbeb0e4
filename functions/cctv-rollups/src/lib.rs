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
//!   the first count's day (the first inside the plausible date window: a stored row with
//!   an implausible or zero instant cannot make the run walk centuries or fail) to yesterday
//!   that the ledger (`rollup_done`, system `cctv`; `common::period::Ledger`) lacks, then every
//!   complete week, month and year it lacks. Recomputing a day clears its week, month and
//!   year from the ledger (and `cctv-api` clears a past day when a count for it changes),
//!   so late data flows up at the next run. A run after an outage fills every missed day.
//! - `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`: recomputes those days (up to yesterday)
//!   and every complete week, month and year overlapping them.
//!
//! Each period is replaced in one transaction (delete, insert, ledger row), so a re-run
//! writes the same rows and a failure leaves no period half-written; a failed run is
//! retried by the scheduler and picks up where it stopped.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use common::{
    business_time::local_day_start,
    error::FunctionError,
    instant::DateWindow,
    job::{self, Day, Deadline, JobRun, Range},
    period::Ledger,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::MySqlPool;

/// The longest range one invocation recomputes (ten years of days).
const MAX_RANGE_DAYS: i64 = 3660;

/// `CCTV_TIME_ZONE`, read by the one reader in common.
pub use common::period::cctv_time_zone_from_env as time_zone_from_env;

/// The period kinds (the common model; day, week, month and year have ledger rows).
pub use common::period::PeriodKind as Period;

/// What a payload asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every complete period not yet computed.
    CatchUp,
    /// Recompute these days (inclusive) and the periods around them.
    Range { from: NaiveDate, to: NaiveDate },
}

/// The payload: nothing (the scheduled catch-up) or a day range.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub from: Option<Day>,
    pub to: Option<Day>,
}

/// Reads the payload.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] naming the field that is wrong.
pub fn plan(payload: &Value) -> Result<Plan, FunctionError> {
    let payload: Payload = job::parse_payload(payload.clone())?;
    Ok(
        match Range::optional(payload.from, payload.to, MAX_RANGE_DAYS)? {
            None => Plan::CatchUp,
            Some(range) => Plan::Range {
                from: range.from.0,
                to: range.to.0,
            },
        },
    )
}

/// The function's answer (the job kit adds `complete`, `remaining`, `duration_ms`…).
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
    /// What a run stopped by its deadline left, and the payload that finishes it.
    #[serde(skip)]
    pub left: Option<Value>,
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
    deadline: Deadline,
) -> Result<Value, FunctionError> {
    let plan = plan(&payload)?;
    let mut job = JobRun::start("cctv-rollups", deadline);
    let answer = run(pool, &plan, now, zone, &mut job)
        .await
        .map_err(FunctionError::retryable)?;
    job.add("rows_written", answer.rows);
    job.add(
        "periods_computed",
        u64::try_from(answer.days + answer.weeks + answer.months + answer.years)
            .unwrap_or(u64::MAX),
    );
    let left = answer.left.clone();
    job.finish(&answer, left)
}

/// Runs a plan: days first, then the longer periods built from them, one transaction
/// each, until done or `job`'s deadline (checked between periods, after at least one).
///
/// # Errors
/// The database error.
pub async fn run(
    pool: &MySqlPool,
    plan: &Plan,
    now: DateTime<Utc>,
    zone: Tz,
    job: &mut JobRun,
) -> Result<Answer, sqlx::Error> {
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
                return Ok(answer);
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
    // What to send to finish a run the deadline stopped: the catch-up needs nothing (the
    // ledger knows), a range resumes at its first day not done.
    let resume = |next: NaiveDate, days_left: usize| {
        let payload = match plan {
            Plan::CatchUp => serde_json::json!({}),
            Plan::Range { to, .. } => serde_json::json!({"from": next, "to": to}),
        };
        serde_json::json!({"days": days_left, "next_payload": payload})
    };
    for (index, day) in days.iter().enumerate() {
        if job.should_stop() {
            answer.left = Some(resume(*day, days.len() - index));
            return Ok(answer);
        }
        answer.rows += compute_day(pool, *day, zone).await?;
        answer.days += 1;
        job.unit_done();
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
                if job.should_stop() {
                    // Every day is done: the longer periods follow from a rerun.
                    answer.left = Some(resume(from, 0));
                    return Ok(answer);
                }
                answer.rows += compute_period(pool, kind, start, end).await?;
                job.unit_done();
                match kind {
                    Period::Week => answer.weeks += 1,
                    Period::Month => answer.months += 1,
                    _ => answer.years += 1,
                }
            }
            let Some(next) = end.succ_opt() else { break };
            start = next;
        }
    }
    Ok(answer)
}

fn days_between(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// The local day of the first count inside the plausible date window. A stored row outside
/// it (a zero date a lenient server kept, a year-1 typo) is left out: it would make the
/// catch-up walk from year 1, or fail to decode, and stall every camera.
async fn first_count_day(pool: &MySqlPool, zone: Tz) -> Result<Option<NaiveDate>, sqlx::Error> {
    let window = DateWindow::current();
    let first: Option<NaiveDateTime> = sqlx::query_scalar(
        "SELECT MIN(start_utc) FROM cctv_count WHERE start_utc >= ? AND start_utc < ?",
    )
    .bind(window.first_instant())
    .bind(window.end_instant())
    .fetch_one(pool)
    .await?;
    Ok(first.map(|t| t.and_utc().with_timezone(&zone).date_naive()))
}

async fn ledger(pool: &MySqlPool) -> Result<HashSet<(Period, NaiveDate)>, sqlx::Error> {
    Ledger::CCTV.done(&mut *pool.acquire().await?).await
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
    Ledger::CCTV.mark_done(&mut tx, Period::Day, day).await?;
    Ledger::CCTV
        .clear_around(&mut tx, day, &[Period::Week, Period::Month, Period::Year])
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
    let now = Utc::now().naive_utc();
    let mut tx = pool.begin().await?;
    let mut written = average_days(&mut tx, kind.as_str(), start, end, now, false).await?;
    if let Some(weekday_kind) = kind.per_weekday() {
        written += average_days(&mut tx, weekday_kind.as_str(), start, end, now, true).await?;
    }
    Ledger::CCTV.mark_done(&mut tx, kind, start).await?;
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
        assert!(error(json!({"from": "2024-05-01"})).contains("to: is required"));
        assert!(error(json!({"from": "2024-05-08", "to": "2024-05-01"})).contains("is after"));
        assert!(error(json!({"from": "2024-5-1", "to": "2024-05-01"})).contains("not a date"));
        assert!(error(json!({"from": 20240501, "to": "2024-05-01"})).contains("invalid type"));
        assert!(error(json!({"from": "2010-01-01", "to": "2024-05-01"})).contains("at most"));
        assert!(error(json!({"from": "0000-01-01", "to": "0000-01-02"})).contains("from:"));
        assert!(error(json!({"fromm": "2024-05-01"})).contains("unknown field"));
    }
}
