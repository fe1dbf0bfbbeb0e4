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

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use common::{
    config::{ConfigError, env_or},
    db,
    error::FunctionError,
};
use serde::Serialize;
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

/// How long before the Lambda deadline a run stops starting new chunks.
const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

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

/// What a payload asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    pub dry_run: bool,
    pub retention_months: Option<u32>,
}

impl Request {
    /// Reads the fields the function knows from any JSON object.
    ///
    /// # Errors
    /// [`FunctionError::InvalidEvent`] naming the field that is wrong.
    pub fn from_payload(payload: &Value) -> Result<Self, FunctionError> {
        let object = match payload {
            Value::Null => return Ok(Self::default()),
            Value::Object(object) => object,
            other => {
                return Err(FunctionError::InvalidEvent(format!(
                    "the payload must be a JSON object, not {}",
                    json_kind(other)
                )));
            }
        };
        let dry_run = match object.get("dry_run") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(other) => {
                return Err(FunctionError::InvalidEvent(format!(
                    "\"dry_run\" must be true or false, not {}",
                    json_kind(other)
                )));
            }
        };
        let retention_months = match object.get("retention_months") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=MAX_RETENTION_MONTHS).contains(n))
                    .ok_or_else(|| {
                        FunctionError::InvalidEvent(format!(
                            "\"retention_months\" must be a whole number from 1 to {MAX_RETENTION_MONTHS}, not {value}"
                        ))
                    })?,
            ),
        };
        Ok(Self {
            dry_run,
            retention_months,
        })
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
    deadline: Option<Instant>,
) -> Result<Value, FunctionError> {
    let request = Request::from_payload(&payload)?;
    let outcome = run(pool, request, now, zone, settings, deadline)
        .await
        .map_err(FunctionError::retryable)?;
    serde_json::to_value(outcome).map_err(FunctionError::retryable)
}

/// Runs the cleanup (or the dry run) and reports.
///
/// # Errors
/// The database error that stopped it.
pub async fn run(
    pool: &MySqlPool,
    request: Request,
    now: DateTime<Utc>,
    zone: Tz,
    settings: &CleanupSettings,
    deadline: Option<Instant>,
) -> Result<Outcome, sqlx::Error> {
    let started = Instant::now();
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
        let stop_at = stop_time(started, settings.time_budget, deadline);
        purge_all(pool, cutoff, settings.chunk_rows, stop_at, &mut outcome).await?;
    }
    outcome.remaining = purge::remaining(pool, cutoff).await?;
    // A run cut short may have deleted everything yet not marked the ledger: not complete.
    outcome.complete = !outcome.stopped_by_time_budget && outcome.remaining == Remaining::default();
    outcome.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        %cutoff,
        dry_run = outcome.dry_run,
        complete = outcome.complete,
        stopped_by_time_budget = outcome.stopped_by_time_budget,
        deleted = ?outcome.deleted,
        import_files_purged = outcome.import_files_purged,
        remaining_events = outcome.remaining.client_event,
        remaining_candidates = outcome.remaining.candidates,
        chunks = outcome.chunks,
        skipped_locked = outcome.skipped_locked,
        lock_retries = outcome.lock_retries,
        duration_ms = outcome.duration_ms,
        "cleanup finished"
    );
    if !outcome.complete && !outcome.dry_run {
        tracing::warn!(
            "cleanup left work for the next run (time budget or rows held by an import)"
        );
    }
    Ok(outcome)
}

/// When to stop starting chunks: the budget, or the Lambda deadline minus a margin.
fn stop_time(started: Instant, budget: Duration, deadline: Option<Instant>) -> Instant {
    let by_budget = started + budget;
    match deadline.and_then(|d| d.checked_sub(DEADLINE_MARGIN)) {
        Some(by_deadline) if by_deadline < by_budget => by_deadline,
        _ => by_budget,
    }
}

/// A run always commits one chunk before it looks at the clock, so even a run started
/// with no time left makes progress.
fn out_of_time(outcome: &Outcome, stop_at: Instant) -> bool {
    outcome.chunks > 0 && Instant::now() >= stop_at
}

async fn purge_all(
    pool: &MySqlPool,
    cutoff: NaiveDate,
    chunk_rows: u32,
    stop_at: Instant,
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
        let started = Instant::now();
        let budget = Duration::from_secs(600);
        assert_eq!(stop_time(started, budget, None), started + budget);
        let deadline = started + Duration::from_secs(120);
        assert_eq!(
            stop_time(started, budget, Some(deadline)),
            deadline - DEADLINE_MARGIN
        );
    }
}
