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

use std::time::Instant;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use common::error::FunctionError;
use serde::Serialize;
use serde_json::Value;
use sqlx::MySqlPool;

/// The five student levels of the source system, in its order.
pub const STUDENT_LEVELS: [&str; 5] = ["國小", "國中", "普高", "技高", "大專"];

/// The longest range one invocation recomputes (ten years).
const MAX_MONTHS: usize = 120;

/// What one month produced.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MonthResult {
    pub month: String,
    /// Rows written (course × level).
    pub rows: u64,
}

/// The function's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub months: Vec<MonthResult>,
    pub duration_ms: u64,
}

/// Handles one invocation.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] for a malformed range; [`FunctionError::Retryable`] when
/// the database fails (the month being written is rolled back).
pub async fn handle(
    pool: &MySqlPool,
    payload: Value,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Value, FunctionError> {
    let started = Instant::now();
    let months = months_to_compute(&payload, now, zone)?;
    let mut results = Vec::with_capacity(months.len());
    for month in months {
        let rows = compute_month(pool, month)
            .await
            .map_err(FunctionError::retryable)?;
        results.push(MonthResult {
            month: month_label(month),
            rows,
        });
    }
    let answer = Answer {
        months: results,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    tracing::info!(
        months = answer.months.len(),
        rows = answer.months.iter().map(|m| m.rows).sum::<u64>(),
        duration_ms = answer.duration_ms,
        "course stats computed"
    );
    serde_json::to_value(answer).map_err(FunctionError::retryable)
}

/// The first days of the months a payload asks for.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] naming the field that is wrong.
pub fn months_to_compute(
    payload: &Value,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<Vec<NaiveDate>, FunctionError> {
    let field = |name: &str| payload.get(name).filter(|v| !v.is_null());
    let (from, to) = match (field("from"), field("to")) {
        (None, None) => {
            let today = now.with_timezone(&zone).date_naive();
            let this_month = first_of_month(today);
            let previous = this_month
                .checked_sub_months(Months::new(1))
                .unwrap_or(this_month);
            return Ok(vec![previous]);
        }
        (Some(from), Some(to)) => (parse_month("from", from)?, parse_month("to", to)?),
        (Some(_), None) => {
            return Err(FunctionError::InvalidEvent(
                "\"to\" is required with \"from\"".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(FunctionError::InvalidEvent(
                "\"from\" is required with \"to\"".into(),
            ));
        }
    };
    if from > to {
        return Err(FunctionError::InvalidEvent(format!(
            "\"from\" {} is after \"to\" {}",
            month_label(from),
            month_label(to)
        )));
    }
    let mut months = vec![from];
    while let Some(next) = months
        .last()
        .and_then(|m| m.checked_add_months(Months::new(1)))
        .filter(|m| *m <= to)
    {
        if months.len() >= MAX_MONTHS {
            return Err(FunctionError::InvalidEvent(format!(
                "a range covers at most {MAX_MONTHS} months"
            )));
        }
        months.push(next);
    }
    Ok(months)
}

fn parse_month(name: &str, value: &Value) -> Result<NaiveDate, FunctionError> {
    let text = value.as_str().ok_or_else(|| {
        FunctionError::InvalidEvent(format!("\"{name}\" must be a string \"YYYY-MM\""))
    })?;
    NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 7)
        .ok_or_else(|| {
            FunctionError::InvalidEvent(format!("\"{name}\" {text:?} is not a month \"YYYY-MM\""))
        })
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
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
            &json!({}),
            at("2024-05-31T16:30:00Z"),
            chrono_tz::Asia::Taipei,
        )
        .expect("months");
        assert_eq!(
            months.iter().map(|m| month_label(*m)).collect::<Vec<_>>(),
            ["2024-05"]
        );
        let january = months_to_compute(
            &json!({"source": "aws.scheduler"}),
            at("2024-01-15T00:00:00Z"),
            chrono_tz::Asia::Taipei,
        )
        .expect("months");
        assert_eq!(month_label(january[0]), "2023-12");
    }

    #[test]
    fn a_backfill_covers_its_range() {
        let months = months_to_compute(
            &json!({"from": "2023-11", "to": "2024-02"}),
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
            months_to_compute(&payload, now, chrono_tz::UTC)
                .expect_err("refused")
                .to_string()
        };
        assert!(
            error(json!({"from": "2024-13", "to": "2024-12"}))
                .contains("\"from\" \"2024-13\" is not a month")
        );
        assert!(error(json!({"from": "2024-05"})).contains("\"to\" is required"));
        assert!(
            error(json!({"from": "2024-05", "to": 202406})).contains("\"to\" must be a string")
        );
        assert!(error(json!({"from": "2024-06", "to": "2024-05"})).contains("is after"));
        assert!(error(json!({"from": "2000-01", "to": "2024-05"})).contains("at most 120 months"));
        assert!(error(json!({"from": "2024-5", "to": "2024-06"})).contains("is not a month"));
    }
}
