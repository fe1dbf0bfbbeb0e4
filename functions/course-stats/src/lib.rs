//! The `course-stats` function: distinct users per AI course × student level × month.
//!
//! Source system 000 ran `export_ai_course_stats.py` on the 1st of each month at 01:00
//! (Asia/Taipei). This function computes the same numbers, with two differences in *how*:
//! - the course-id → course-name mapping is the `ai_course` table (seeded by a migration
//!   with the original's nine names and ids), so operators add ids without a deploy;
//! - the month is the event's `client_event.log_date` (the date the import took from the
//!   log file's name, falling back to the statement timestamp in the business time zone, so
//!   it is never unknown), read through the `(log_date, action_id, actor_id)` index: one
//!   month's query touches that month's events only, instead of parsing `actor.filename`
//!   with REGEXP over the whole table.
//!
//! # Payload
//! - anything without `from` / `to` (an EventBridge schedule): the previous calendar month
//!   in the business time zone;
//! - `{"from": "YYYY-MM", "to": "YYYY-MM"}`: recompute that range (a backfill).
//!
//! Each month is replaced in one transaction (delete, then insert), so re-running never
//! duplicates rows and never leaves a month half-written.

use chrono::{DateTime, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use common::{
    error::FunctionError,
    job::{self, Deadline, JobRun, Month, Range},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::MySqlPool;

/// The five student levels of the source system, in its order.
pub const STUDENT_LEVELS: [&str; 5] = ["國小", "國中", "普高", "技高", "大專"];

/// The longest range one invocation recomputes (ten years).
const MAX_MONTHS: i64 = 120;

/// The payload: nothing (the scheduled run) or a month range.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    pub from: Option<Month>,
    pub to: Option<Month>,
}

/// What one month produced.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MonthResult {
    pub month: String,
    /// Rows written (course × level).
    pub rows: u64,
}

/// The function's answer (the job kit adds `complete`, `remaining`, `duration_ms`…).
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub months: Vec<MonthResult>,
}

/// Handles one invocation: the months in order, each in its own transaction, until done
/// or the deadline; the answer's `remaining` lists the months left for another run.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] for a malformed range; [`FunctionError::Retryable`] when
/// the database fails (the month being written is rolled back).
pub async fn handle(
    pool: &MySqlPool,
    payload: Value,
    now: DateTime<Utc>,
    zone: Tz,
    deadline: Deadline,
) -> Result<Value, FunctionError> {
    let months = months_to_compute(payload, now, zone)?;
    let mut run = JobRun::start("course-stats", deadline);
    let mut results = Vec::with_capacity(months.len());
    let mut left = months.iter();
    for month in left.by_ref() {
        if run.should_stop() {
            // The month this iteration took is not done: put it back in front.
            let rest: Vec<String> = std::iter::once(*month)
                .chain(left.by_ref().copied())
                .map(month_label)
                .collect();
            let remaining = serde_json::json!({ "months": rest });
            return run.finish(&Answer { months: results }, Some(remaining));
        }
        let rows = compute_month(pool, *month)
            .await
            .map_err(FunctionError::retryable)?;
        run.unit_done();
        run.add("rows_written", rows);
        results.push(MonthResult {
            month: month_label(*month),
            rows,
        });
    }
    run.finish(&Answer { months: results }, None)
}

/// The first days of the months a payload asks for.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] naming the field that is wrong.
pub fn months_to_compute(
    payload: Value,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Vec<NaiveDate>, FunctionError> {
    let payload: Payload = job::parse_payload(payload)?;
    let Some(range) = Range::optional(payload.from, payload.to, MAX_MONTHS)? else {
        let today = now.with_timezone(&zone).date_naive();
        let this_month = first_of_month(today);
        let previous = this_month
            .checked_sub_months(Months::new(1))
            .unwrap_or(this_month);
        return Ok(vec![previous]);
    };
    let mut months = vec![range.from];
    while let Some(next) = months
        .last()
        .and_then(|m| m.next())
        .filter(|m| *m <= range.to)
    {
        months.push(next);
    }
    Ok(months.into_iter().map(|m| m.0).collect())
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    Month::of(date).0
}

/// `YYYY-MM`.
pub fn month_label(first_day: NaiveDate) -> String {
    first_day.format("%Y-%m").to_string()
}

/// Replaces one month's rows; returns how many were written.
///
/// The join order is fixed (`STRAIGHT_JOIN`, from the month's range of the covering
/// `(log_date, action_id, actor_id)` index outwards): left to itself the optimizer starts
/// from the small `ai_course` table and walks every month's events of those courses.
///
/// # Errors
/// The database error (the transaction is rolled back).
pub async fn compute_month(pool: &MySqlPool, first_day: NaiveDate) -> Result<u64, sqlx::Error> {
    let next = first_day
        .checked_add_months(Months::new(1))
        .unwrap_or(first_day);
    let label = month_label(first_day);
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM ai_course_monthly_users WHERE month = ?")
        .bind(&label)
        .execute(&mut *tx)
        .await?;
    let written = sqlx::query(
        "INSERT INTO ai_course_monthly_users (ai_course_name, student_level, month, user_count, computed_at)
         SELECT STRAIGHT_JOIN c.ai_course_name, a.category, ?, COUNT(DISTINCT a.uid), ?
         FROM client_event e FORCE INDEX (ix_client_event_log_date)
         JOIN action ac ON ac.id = e.action_id
         JOIN ai_course c ON c.course_id = ac.course_id
         JOIN actor a ON a.id = e.actor_id
         WHERE e.log_date >= ? AND e.log_date < ?
           AND a.category IN (?, ?, ?, ?, ?)
         GROUP BY c.ai_course_name, a.category",
    )
    .bind(&label)
    .bind(Utc::now().naive_utc())
    .bind(first_day)
    .bind(next)
    .bind(STUDENT_LEVELS[0])
    .bind(STUDENT_LEVELS[1])
    .bind(STUDENT_LEVELS[2])
    .bind(STUDENT_LEVELS[3])
    .bind(STUDENT_LEVELS[4])
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("instant")
    }

    #[test]
    fn a_scheduled_run_takes_the_previous_month_in_the_business_zone() {
        // 00:30 on 1 June in Taipei is still 31 May in UTC.
        let months = months_to_compute(
            json!({}),
            at("2024-05-31T16:30:00Z"),
            chrono_tz::Asia::Taipei,
        )
        .expect("months");
        assert_eq!(
            months.iter().map(|m| month_label(*m)).collect::<Vec<_>>(),
            ["2024-05"]
        );
        let january = months_to_compute(
            json!({"source": "aws.scheduler"}),
            at("2024-01-15T00:00:00Z"),
            chrono_tz::Asia::Taipei,
        )
        .expect("months");
        assert_eq!(month_label(january[0]), "2023-12");
    }

    #[test]
    fn a_backfill_covers_its_range() {
        let months = months_to_compute(
            json!({"from": "2023-11", "to": "2024-02"}),
            at("2024-06-01T00:00:00Z"),
            chrono_tz::UTC,
        )
        .expect("months");
        assert_eq!(
            months.iter().map(|m| month_label(*m)).collect::<Vec<_>>(),
            ["2023-11", "2023-12", "2024-01", "2024-02"]
        );
    }

    #[test]
    fn bad_ranges_name_the_field() {
        let now = at("2024-06-01T00:00:00Z");
        let error = |payload: Value| {
            months_to_compute(payload, now, chrono_tz::UTC)
                .expect_err("refused")
                .to_string()
        };
        assert!(
            error(json!({"from": "2024-13", "to": "2024-12"}))
                .contains("from: \"2024-13\" is not a month")
        );
        assert!(error(json!({"from": "2024-05"})).contains("to: is required"));
        assert!(error(json!({"from": "2024-05", "to": 202406})).contains("to: invalid type"));
        assert!(error(json!({"from": "2024-06", "to": "2024-05"})).contains("is after"));
        assert!(error(json!({"from": "2004-01", "to": "2024-05"})).contains("at most 120"));
        assert!(error(json!({"from": "2024-5", "to": "2024-06"})).contains("is not a month"));
        assert!(error(json!({"form": "2024-05"})).contains("unknown field"));
    }
}
