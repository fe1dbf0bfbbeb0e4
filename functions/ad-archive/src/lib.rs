//! The `ad-archive` function (source system 004): once a day after local midnight, the
//! seed's "archive the day's hourly counts into `ad_ctr`", rebuilt with a catch-up ledger.
//!
//! # What it writes
//! For each local day (`AD_TIME_ZONE`) and style with counts: `ad_ctr (day, style_id,
//! shows, clicks, ctr, visitors)` — CTR = clicks / shows, NULL without shows; visitors =
//! the union of the day's hourly sketches. The day's sketch rows are compacted into one
//! per style and hour in the same transaction (the worker appends one per batch).
//!
//! # When
//! - Scheduled (any payload without `from`/`to`): every complete local day from the first
//!   hour with counts to yesterday that the ledger (`rollup_done`, system `ads`) lacks. A
//!   run after an outage fills every missed day; a rerun changes nothing; a late event for
//!   an archived day makes the worker take that day out of the ledger, so the next run
//!   redoes it.
//! - `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`: re-archives those days (up to yesterday).
//!
//! It follows the rollups' decision (its own crate over the shared period model and
//! ledger). Each day is one transaction that share-locks the day's counts while it reads
//! them, so a worker adding a late event either commits before the read (and is archived)
//! or after the commit (and reopens the day). After the days, the run prunes the worker's
//! duplicate ledger of ids older than `AD_EVENT_LEDGER_DAYS`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use common::{
    ads::{self, ARCHIVE_KIND, ARCHIVE_LEDGER, StyleFilter, VisitorUnion},
    error::FunctionError,
    instant::DateWindow,
    job::{self, Day, Deadline, JobRun, Range},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{MySql, MySqlPool, QueryBuilder};

/// The longest range one invocation re-archives (ten years of days).
const MAX_RANGE_DAYS: i64 = 3660;

/// Ledger ids deleted per statement while pruning.
const PRUNE_CHUNK: u64 = 10_000;

/// What a payload asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    CatchUp,
    Range { from: NaiveDate, to: NaiveDate },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    from: Option<Day>,
    to: Option<Day>,
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
    /// The last complete local day.
    pub through: String,
    /// Days archived by this run.
    pub days: usize,
    /// `ad_ctr` rows written.
    pub rows: u64,
    /// Ids pruned from the duplicate ledger.
    pub pruned_event_ids: u64,
    #[serde(skip)]
    pub left: Option<Value>,
}

/// Handles one invocation.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] for a malformed payload; [`FunctionError::Retryable`]
/// when the database fails (the day being written is rolled back; earlier days stay done).
pub async fn handle(
    pool: &MySqlPool,
    payload: Value,
    now: DateTime<Utc>,
    zone: Tz,
    ledger_days: u32,
    deadline: Deadline,
) -> Result<Value, FunctionError> {
    let plan = plan(&payload)?;
    let mut job = JobRun::start("ad-archive", deadline);
    let answer = run(pool, &plan, now, zone, ledger_days, &mut job)
        .await
        .map_err(FunctionError::retryable)?;
    job.add("rows_written", answer.rows);
    job.add("days_archived", answer.days as u64);
    job.add("event_ids_pruned", answer.pruned_event_ids);
    let left = answer.left.clone();
    job.finish(&answer, left)
}

/// Runs a plan, one day per transaction, until done or the deadline; then prunes.
///
/// # Errors
/// The database error.
pub async fn run(
    pool: &MySqlPool,
    plan: &Plan,
    now: DateTime<Utc>,
    zone: Tz,
    ledger_days: u32,
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
    let days: Vec<NaiveDate> = match *plan {
        Plan::CatchUp => match first_count_day(pool, zone).await? {
            None => Vec::new(),
            Some(first) => {
                let done = ARCHIVE_LEDGER.done(&mut *pool.acquire().await?).await?;
                days_between(first, yesterday)
                    .filter(|d| !done.contains(&(ARCHIVE_KIND, *d)))
                    .collect()
            }
        },
        Plan::Range { from, to } => days_between(from, to.min(yesterday)).collect(),
    };
    for (index, day) in days.iter().enumerate() {
        if job.should_stop() {
            let next = match plan {
                Plan::CatchUp => serde_json::json!({}),
                Plan::Range { to, .. } => serde_json::json!({"from": day, "to": to}),
            };
            answer.left =
                Some(serde_json::json!({"days": days.len() - index, "next_payload": next}));
            return Ok(answer);
        }
        answer.rows += archive_day(pool, *day, zone).await?;
        answer.days += 1;
        job.unit_done();
    }
    answer.pruned_event_ids = prune_event_ledger(pool, now, ledger_days, job).await?;
    Ok(answer)
}

fn days_between(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// The local day of the first hour with counts inside the plausible date window.
async fn first_count_day(pool: &MySqlPool, zone: Tz) -> Result<Option<NaiveDate>, sqlx::Error> {
    let window = DateWindow::current();
    let first: Option<NaiveDateTime> = sqlx::query_scalar(
        "SELECT MIN(hour_utc) FROM ad_hour_count WHERE hour_utc >= ? AND hour_utc < ?",
    )
    .bind(window.first_instant())
    .bind(window.end_instant())
    .fetch_one(pool)
    .await?;
    Ok(first.map(|t| ads::local_day_of(t, zone)))
}

/// Replaces local day `day`'s `ad_ctr` rows from the hourly counts, compacts its sketches
/// and marks it archived, in one transaction. Returns the rows written.
///
/// # Errors
/// The database error (nothing of the day is changed).
pub async fn archive_day(pool: &MySqlPool, day: NaiveDate, zone: Tz) -> Result<u64, sqlx::Error> {
    let (from, to) = ads::day_bounds(day, zone);
    let mut tx = pool.begin().await?;
    let hours = ads::hour_figures(&mut tx, from, to, &StyleFilter::All, true).await?;
    sqlx::query("DELETE FROM ad_ctr WHERE day = ?")
        .bind(day)
        .execute(&mut *tx)
        .await?;
    // Compact: one merged sketch row per style and hour replaces the per-batch rows.
    let compacted: BTreeMap<(u64, NaiveDateTime), Vec<u8>> = hours
        .iter()
        .map(|(key, (_, _, visitors))| (*key, visitors.sketch().to_bytes()))
        .collect();
    sqlx::query("DELETE FROM ad_hour_visitors WHERE hour_utc >= ? AND hour_utc < ?")
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    for chunk in compacted.iter().collect::<Vec<_>>().chunks(500) {
        let mut insert = QueryBuilder::<MySql>::new(
            "INSERT INTO ad_hour_visitors (style_id, hour_utc, sketch) ",
        );
        insert.push_values(chunk, |mut row, ((style, hour), sketch)| {
            row.push_bind(*style)
                .push_bind(*hour)
                .push_bind(sketch.as_slice());
        });
        insert.build().execute(&mut *tx).await?;
    }
    let figures = ads::fold_day(hours);
    let archived_at = Utc::now().naive_utc();
    let mut written = 0;
    let rows: Vec<_> = figures.into_iter().collect();
    for chunk in rows.chunks(500) {
        let mut insert = QueryBuilder::<MySql>::new(
            "INSERT INTO ad_ctr (day, style_id, shows, clicks, ctr, visitors, archived_at) ",
        );
        insert.push_values(chunk, |mut row, (style, f)| {
            row.push_bind(day)
                .push_bind(*style)
                .push_bind(f.shows)
                .push_bind(f.clicks)
                .push_bind(f.ctr)
                .push_bind(f.visitors)
                .push_bind(archived_at);
        });
        written += insert.build().execute(&mut *tx).await?.rows_affected();
    }
    ARCHIVE_LEDGER.mark_done(&mut tx, ARCHIVE_KIND, day).await?;
    tx.commit().await?;
    Ok(written)
}

/// Deletes the duplicate ledger's ids older than `ledger_days` (a primary-key range: a
/// UUID v7 starts with its millisecond), in chunks, until none is left or the deadline.
///
/// # Errors
/// The database error.
pub async fn prune_event_ledger(
    pool: &MySqlPool,
    now: DateTime<Utc>,
    ledger_days: u32,
    job: &mut JobRun,
) -> Result<u64, sqlx::Error> {
    let cutoff = (now - TimeDelta::days(i64::from(ledger_days))).timestamp_millis();
    let bound = first_v7_id_at(cutoff);
    // The click-block window is at most a day: older last clicks block nothing.
    let day_ago = (now - TimeDelta::days(1)).timestamp_millis();
    sqlx::query("DELETE FROM ad_click_last WHERE last_click_ms < ?")
        .bind(day_ago)
        .execute(pool)
        .await?;
    let mut pruned = 0;
    loop {
        let deleted = sqlx::query("DELETE FROM ad_event_seen WHERE event_id < ? LIMIT ?")
            .bind(bound.as_slice())
            .bind(PRUNE_CHUNK)
            .execute(pool)
            .await?
            .rows_affected();
        pruned += deleted;
        if deleted < PRUNE_CHUNK || job.should_stop() {
            return Ok(pruned);
        }
    }
}

/// The smallest UUID v7 made at millisecond `millis`: every id made earlier sorts below.
pub fn first_v7_id_at(millis: i64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    let millis = u64::try_from(millis).unwrap_or(0);
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes
}

/// Re-reads an archived day's visitors (for tests and the API: the union of its hours).
///
/// # Errors
/// The database error.
pub async fn day_visitors(
    pool: &MySqlPool,
    day: NaiveDate,
    zone: Tz,
    style: u64,
) -> Result<u64, sqlx::Error> {
    let (from, to) = ads::day_bounds(day, zone);
    let rows: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT sketch FROM ad_hour_visitors WHERE style_id = ? AND hour_utc >= ? AND hour_utc < ?",
    )
    .bind(style)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    let mut union = VisitorUnion::default();
    for row in rows {
        union.add_bytes(&row);
    }
    Ok(union.count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads() {
        assert_eq!(plan(&json!({})).expect("plan"), Plan::CatchUp);
        assert!(matches!(
            plan(&json!({"from": "2024-05-01", "to": "2024-05-02"})).expect("plan"),
            Plan::Range { .. }
        ));
        assert!(plan(&json!({"from": "2024-05-03", "to": "2024-05-02"})).is_err());
        assert!(plan(&json!({"day": "2024-05-03"})).is_err());
    }

    #[test]
    fn the_prune_bound_sorts_between_the_ids_of_its_millisecond_and_the_one_before() {
        let ms = 1_714_550_400_123_i64;
        let bound = first_v7_id_at(ms);
        let ts = |ms: i64| {
            uuid::Timestamp::from_unix(
                uuid::NoContext,
                u64::try_from(ms / 1000).expect("positive"),
                u32::try_from(ms % 1000).expect("ms") * 1_000_000,
            )
        };
        let before = uuid::Uuid::new_v7(ts(ms - 1));
        let at = uuid::Uuid::new_v7(ts(ms));
        assert!(before.as_bytes().as_slice() < bound.as_slice());
        assert!(at.as_bytes().as_slice() >= bound.as_slice());
    }
}
