//! The `cleanup` function: retention of the learning logs (source system 000).
//!
//! The source system ran `cleanup_databases.py` on the 2nd of each month at 02:00 and
//! deleted "data older than 3 months" from the nine learning tables. This function does the
//! same in a way that is safe beside a running import:
//!
//! 1. **Cut-off**: the first day of the month `retention_months` before the current month,
//!    in the business time zone (on 2026-11-02 with 3 months: 2026-08-01). Events whose
//!    `log_date` is before it go; the current month and the three before it stay whole, so
//!    the monthly stats of every kept month can still be recomputed.
//! 2. **Facts** ([`purge::delete_event_chunk`]): events in chunks of `chunk_rows`, each chunk
//!    one short transaction that deletes the events' detail rows (`event_info`, `result`,
//!    `video_info`, `sentences`) and the events together, and records the events' actor,
//!    action, cookie and tanet ids as *candidates* (`cleanup_candidate`).
//! 3. **Dimensions** ([`purge::delete_dimension_chunk`]): each candidate that no event
//!    references any more is deleted, again in short chunks. A dimension row that an import
//!    in flight has locked is skipped (`SKIP LOCKED`) and stays a candidate for next time.
//! 4. **Ledger**: `import_file` rows of the past whose events are all gone get `purged_at`.
//!
//! Nothing is orphaned or left dangling at any point: details go in the same transaction as
//! their event, and a dimension row goes only after a locked check that nothing refers to
//! it (see [`purge`] for why an import cannot slip a reference in between).
//!
//! A run stops cleanly when its time budget is spent (the setting, capped by the Lambda
//! deadline) and says what is left; the next run carries on, since every step is idempotent
//! and the candidates are kept in the database. `{"dry_run": true}` counts what a run would
//! delete without deleting.
//!
//! # Payload
//! Any JSON object (an EventBridge Scheduler input or a scheduled event): the fields
//! `dry_run` (bool) and `retention_months` (integer, 1..=120, overrides the setting) are
//! read; other fields are ignored.

pub mod dry_run;
pub mod purge;

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use common::{
    config::{ConfigError, env_or},
    db,
    error::FunctionError,
    job::{self, Deadline, JobRun},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::MySqlPool;

/// The tables the cleanup deletes from, in the order it reports them.
pub const TABLES: [&str; 9] = [
    "client_event",
    "event_info",
    "result",
    "video_info",
    "sentences",
    "actor",
    "action",
    "cookie",
    "tanet_info",
];

/// The longest retention a payload may ask for (ten years).
const MAX_RETENTION_MONTHS: u32 = 120;

/// The function's own settings.
#[derive(Debug, Clone)]
pub struct CleanupSettings {
    /// `CLEANUP_RETENTION_MONTHS`: whole months kept before the current one (default 3).
    pub retention_months: u32,
    /// `CLEANUP_CHUNK_ROWS`: events (or dimension candidates) per transaction (default 2,000).
    pub chunk_rows: u32,
    /// `CLEANUP_TIME_BUDGET_SECS`: when a run stops starting chunks (default 600; the
    /// Lambda deadline minus a margin caps it).
    pub time_budget: Duration,
}

impl CleanupSettings {
    /// The defaults, without reading the environment.
    pub fn defaults() -> Self {
        Self {
            retention_months: 3,
            chunk_rows: 2_000,
            time_budget: Duration::from_secs(600),
        }
    }

    /// Reads the `CLEANUP_*` variables.
    ///
    /// # Errors
    /// The first variable that does not parse or is out of range.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::defaults();
        let retention_months = env_or("CLEANUP_RETENTION_MONTHS", defaults.retention_months)?;
        if !(1..=MAX_RETENTION_MONTHS).contains(&retention_months) {
            return Err(ConfigError::Invalid {
                name: "CLEANUP_RETENTION_MONTHS",
                value: retention_months.to_string(),
                reason: format!("must be between 1 and {MAX_RETENTION_MONTHS}"),
            });
        }
        let chunk_rows = env_or("CLEANUP_CHUNK_ROWS", defaults.chunk_rows)?;
        if !(1..=20_000).contains(&chunk_rows) {
            return Err(ConfigError::Invalid {
                name: "CLEANUP_CHUNK_ROWS",
                value: chunk_rows.to_string(),
                reason: "must be between 1 and 20000".into(),
            });
        }
        let budget_secs = env_or("CLEANUP_TIME_BUDGET_SECS", defaults.time_budget.as_secs())?;
        Ok(Self {
            retention_months,
            chunk_rows,
            time_budget: Duration::from_secs(budget_secs),
        })
    }
}

/// What a payload asks for: any JSON object (an EventBridge Scheduler input or a
/// scheduled event) with the optional fields below.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default, deserialize_with = "retention_months")]
    pub retention_months: Option<u32>,
}

fn retention_months<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    let months = Option::<u32>::deserialize(deserializer)?;
    match months {
        Some(n) if !(1..=MAX_RETENTION_MONTHS).contains(&n) => Err(serde::de::Error::custom(
            format!("must be a whole number from 1 to {MAX_RETENTION_MONTHS}, not {n}"),
        )),
        other => Ok(other),
    }
}

impl Request {
    /// Reads the payload.
    ///
    /// # Errors
    /// [`FunctionError::InvalidEvent`] naming the field that is wrong.
    pub fn from_payload(payload: &Value) -> Result<Self, FunctionError> {
        Ok(job::parse_payload(payload.clone())?)
    }
}

/// The first day of the month `retention_months` before the business-zone month of `now`:
/// events whose log date is before it are deleted.
pub fn cutoff_date(now: DateTime<Utc>, zone: Tz, retention_months: u32) -> NaiveDate {
    let today = now.with_timezone(&zone).date_naive();
    let this_month = today.with_day(1).unwrap_or(today);
    this_month
        .checked_sub_months(Months::new(retention_months))
        .unwrap_or(this_month)
}

/// What is still to do when a run ends.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Remaining {
    /// Events before the cut-off still present.
    pub client_event: u64,
    /// Dimension rows still to check (some may be locked by an import in flight).
    pub candidates: u64,
}

/// The function's answer (also logged).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub cutoff: NaiveDate,
    pub retention_months: u32,
    pub dry_run: bool,
    /// True when nothing before the cut-off is left to delete.
    pub complete: bool,
    /// True when the run stopped because its time budget ran out.
    pub stopped_by_time_budget: bool,
    /// Rows deleted per table (for a dry run: rows a run would delete).
    pub deleted: BTreeMap<&'static str, u64>,
    /// Ledger rows marked `purged_at` (for a dry run: that would be marked).
    pub import_files_purged: u64,
    pub remaining: Remaining,
    /// Transactions committed.
    pub chunks: u64,
    /// Dimension rows skipped because an import held them (left as candidates).
    pub skipped_locked: u64,
    /// Chunks retried after a lock wait time-out or deadlock.
    pub lock_retries: u64,
    pub duration_ms: u64,
}

impl Outcome {
    fn new(cutoff: NaiveDate, retention_months: u32, dry_run: bool) -> Self {
        Self {
            cutoff,
            retention_months,
            dry_run,
            complete: false,
            stopped_by_time_budget: false,
            deleted: TABLES.iter().map(|t| (*t, 0)).collect(),
            import_files_purged: 0,
            remaining: Remaining::default(),
            chunks: 0,
            skipped_locked: 0,
            lock_retries: 0,
            duration_ms: 0,
        }
    }

    fn add(&mut self, table: &'static str, rows: u64) {
        *self.deleted.entry(table).or_insert(0) += rows;
    }
}

/// Handles one invocation.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] for a malformed payload; [`FunctionError::Retryable`]
/// when the database fails (the chunk in flight is rolled back; what was committed stays
/// deleted and the retry carries on).
pub async fn handle(
    pool: &MySqlPool,
    payload: Value,
    now: DateTime<Utc>,
    zone: Tz,
    settings: &CleanupSettings,
    deadline: Deadline,
) -> Result<Value, FunctionError> {
    let request = Request::from_payload(&payload)?;
    let mut job = JobRun::start("cleanup", deadline);
    let outcome = run(pool, request, now, zone, settings, deadline)
        .await
        .map_err(FunctionError::retryable)?;
    job.units_done(outcome.chunks);
    if outcome.stopped_by_time_budget {
        job.mark_stopped_by_deadline();
    }
    if !outcome.dry_run {
        job.add("rows_deleted", outcome.deleted.values().sum());
        for (table, rows) in &outcome.deleted {
            job.add(table, *rows);
        }
    }
    job.add("lock_retries", outcome.lock_retries);
    job.add("skipped_locked", outcome.skipped_locked);
    let remaining = (!outcome.complete)
        .then(|| serde_json::to_value(&outcome.remaining))
        .transpose()
        .map_err(FunctionError::retryable)?;
    job.finish(&outcome, remaining)
}

/// Runs the cleanup (or the dry run) and reports. It stops starting chunks at the earlier
/// of `deadline` and the time budget.
///
/// # Errors
/// The database error that stopped it.
pub async fn run(
    pool: &MySqlPool,
    request: Request,
    now: DateTime<Utc>,
    zone: Tz,
    settings: &CleanupSettings,
    deadline: Deadline,
) -> Result<Outcome, sqlx::Error> {
    let started = std::time::Instant::now();
    let retention_months = request
        .retention_months
        .unwrap_or(settings.retention_months);
    let cutoff = cutoff_date(now, zone, retention_months);
    tracing::info!(%cutoff, retention_months, dry_run = request.dry_run, zone = %zone,
        "cleanup: events with a log date before the cut-off go");
    let mut outcome = Outcome::new(cutoff, retention_months, request.dry_run);

    if request.dry_run {
        dry_run::count(pool, cutoff, &mut outcome).await?;
    } else {
        let stop_at = deadline.capped(started, settings.time_budget);
        purge_all(pool, cutoff, settings.chunk_rows, stop_at, &mut outcome).await?;
    }
    outcome.remaining = purge::remaining(pool, cutoff).await?;
    // A run cut short may have deleted everything yet not marked the ledger: not complete.
    outcome.complete = !outcome.stopped_by_time_budget && outcome.remaining == Remaining::default();
    outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !outcome.complete && !outcome.dry_run {
        tracing::warn!(
            remaining_events = outcome.remaining.client_event,
            remaining_candidates = outcome.remaining.candidates,
            "cleanup left work for the next run (time budget or rows held by an import)"
        );
    }
    Ok(outcome)
}

/// A run always commits one chunk before it looks at the clock, so even a run started
/// with no time left makes progress.
fn out_of_time(outcome: &Outcome, stop_at: Deadline) -> bool {
    outcome.chunks > 0 && stop_at.reached()
}

async fn purge_all(
    pool: &MySqlPool,
    cutoff: NaiveDate,
    chunk_rows: u32,
    stop_at: Deadline,
    outcome: &mut Outcome,
) -> Result<(), sqlx::Error> {
    // Facts first: every deleted event makes its dimension rows candidates.
    // MySQL's earliest DATE.
    let mut from = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap_or(cutoff);
    loop {
        if out_of_time(outcome, stop_at) {
            outcome.stopped_by_time_budget = true;
            return Ok(());
        }
        let chunk = db::retry_lock_conflicts(
            purge::LOCK_RETRIES,
            |_| outcome.lock_retries += 1,
            || purge::delete_event_chunk(pool, from, cutoff, chunk_rows),
        )
        .await?;
        let Some(last_log_date) = chunk.last_log_date else {
            break;
        };
        from = last_log_date;
        outcome.chunks += 1;
        outcome.add("client_event", chunk.events);
        outcome.add("event_info", chunk.event_info);
        outcome.add("result", chunk.result);
        outcome.add("video_info", chunk.video_info);
        outcome.add("sentences", chunk.sentences);
    }
    for dimension in purge::Dimension::ALL {
        let mut after = 0u64;
        loop {
            if out_of_time(outcome, stop_at) {
                outcome.stopped_by_time_budget = true;
                return Ok(());
            }
            let chunk = db::retry_lock_conflicts(
                purge::LOCK_RETRIES,
                |_| outcome.lock_retries += 1,
                || purge::delete_dimension_chunk(pool, dimension, after, chunk_rows),
            )
            .await?;
            let Some(last) = chunk.last_candidate else {
                break;
            };
            after = last;
            outcome.chunks += 1;
            outcome.skipped_locked += chunk.skipped_locked;
            outcome.add(dimension.table(), chunk.deleted);
        }
    }
    outcome.import_files_purged = purge::mark_purged_imports(pool, cutoff).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn cutoff_keeps_the_current_month_and_the_retention_months_before_it() {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 18, 0, 0).single();
        let now = now.expect("valid instant");
        // 18:00 UTC on 1 November is 02:00 on 2 November in Taipei.
        let cutoff = cutoff_date(now, chrono_tz::Asia::Taipei, 3);
        assert_eq!(cutoff, NaiveDate::from_ymd_opt(2026, 8, 1).expect("date"));
        // In UTC it is still 1 November: the same month, the same cut-off.
        assert_eq!(cutoff_date(now, chrono_tz::UTC, 3), cutoff);
        // Across a year boundary.
        let january = Utc
            .with_ymd_and_hms(2026, 1, 31, 16, 30, 0)
            .single()
            .expect("valid instant");
        assert_eq!(
            cutoff_date(january, chrono_tz::Asia::Taipei, 3),
            NaiveDate::from_ymd_opt(2025, 11, 1).expect("date"),
            "16:30 UTC on 31 January is already February in Taipei"
        );
    }

    #[test]
    fn payload_fields_are_read_and_the_rest_ignored() {
        let scheduled = json!({"source": "aws.scheduler", "detail": {}});
        assert_eq!(
            Request::from_payload(&scheduled).expect("valid"),
            Request::default()
        );
        let dry = json!({"dry_run": true, "retention_months": 6});
        assert_eq!(
            Request::from_payload(&dry).expect("valid"),
            Request {
                dry_run: true,
                retention_months: Some(6)
            }
        );
        assert_eq!(
            Request::from_payload(&Value::Null).expect("valid"),
            Request::default()
        );
    }

    #[test]
    fn the_sample_payloads_parse() {
        let sample = |text: &str| Request::from_payload(&serde_json::from_str(text).expect("JSON"));
        let scheduled = sample(include_str!("../../../events/cleanup/scheduled.json"));
        assert_eq!(scheduled.expect("valid"), Request::default());
        let dry = sample(include_str!("../../../events/cleanup/dry-run.json")).expect("valid");
        assert!(dry.dry_run);
        let six = sample(include_str!("../../../events/cleanup/keep-six-months.json"));
        assert_eq!(six.expect("valid").retention_months, Some(6));
    }

    #[test]
    fn malformed_payloads_name_the_field() {
        for (payload, field) in [
            (json!({"dry_run": "yes"}), "dry_run"),
            (json!({"retention_months": 0}), "retention_months"),
            (json!({"retention_months": -1}), "retention_months"),
            (json!({"retention_months": 1.5}), "retention_months"),
            (json!({"retention_months": 121}), "retention_months"),
            (json!({"retention_month": 6}), "retention_month"),
            (json!([1, 2]), "object"),
            (json!("dry_run"), "object"),
        ] {
            let error = Request::from_payload(&payload).expect_err("rejected");
            assert!(
                matches!(&error, FunctionError::InvalidEvent(message) if message.contains(field)),
                "{payload}: {error}"
            );
        }
    }

    #[test]
    fn the_deadline_caps_the_budget() {
        let started = std::time::Instant::now();
        let budget = Duration::from_secs(600);
        let by_budget = Deadline::none().capped(started, budget);
        assert_eq!(by_budget.instant(), Some(started + budget));
        let soon = Deadline::after(Duration::from_secs(100));
        assert_eq!(soon.capped(started, budget), soon);
    }
}
