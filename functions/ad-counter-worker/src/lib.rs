//! The `ad-counter-worker` function (source system 004): folds a batch of hit events from
//! the counter queue into `ad_hour_count` and `ad_hour_visitors`, exactly once over SQS's
//! at-least-once delivery.
//!
//! # One transaction per batch
//! 1. The batch's event ids go into `ad_event_seen` (primary key: the id). A plain
//!    multi-row `INSERT` succeeds when none is known, the usual case; when the key refuses
//!    one (only that statement is undone), the known ids are read and only the others
//!    inserted. Events already seen are dropped: a redelivered message, an overlapping
//!    batch, or a batch whose worker died after its commit but before SQS deleted it.
//! 2. The new events are folded per (style, UTC hour) and added with one multi-row
//!    `INSERT … ON DUPLICATE KEY UPDATE shows = shows + VALUES(shows), …` (the form MySQL
//!    8.0 and MariaDB both accept), keys in ascending order so parallel workers cannot
//!    deadlock on them, on one of `AD_COUNTER_SHARDS` shard rows picked per transaction so
//!    they rarely wait on one another either.
//! 3. Their visitors go into one new sketch row per (style, hour) (an append: no worker
//!    reads and rewrites a shared sketch). With `AD_CLICK_BLOCK_SECS` set, a click within
//!    that window of a counted click by the same visitor on the same style is not counted
//!    (Revive Adserver's click blocking); the last counted click per (style, visitor) lives
//!    in `ad_click_last`.
//! 4. A local day before today that the batch touched is taken out of the archive's
//!    ledger, so the next archive run redoes it with the late events.
//!
//! Two workers inserting the same new id at once: the second waits for the first's commit
//! and then finds the id taken; its transaction is retried from the start and drops the
//! event. Deadlocks and lock-wait timeouts are retried the same way.
//!
//! # Failures
//! A message that is not a hit event, or one older than the duplicate ledger keeps
//! (`AD_EVENT_LEDGER_DAYS`, pruned by the daily archive), fails on its own and reaches
//! the dead-letter queue with its reason logged; the rest of the batch is counted. A
//! database failure fails the whole batch for redelivery, which the ledger makes harmless.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use common::{
    ads::{self, HitEvent, HitKind, VisitorSketch},
    config::{ConfigError, env_or},
    db::mysql_error_number,
    sqs::{MessageError, handle_whole_batch},
};
use serde::Serialize;
use sqlx::{Executor, MySqlConnection, MySqlPool, Row};

/// Ids per `INSERT` into the ledger and per `IN (…)` look-up (MariaDB turns longer `IN`
/// lists into a temporary-table join).
const IDS_PER_STATEMENT: usize = 5000;
const IDS_PER_LOOKUP: usize = 500;

/// Transactions tried per batch before the batch is handed back to SQS.
const ATTEMPTS: u32 = 8;

/// MySQL's duplicate-key error.
const ER_DUP_ENTRY: u16 = 1062;

/// The worker's settings.
#[derive(Debug, Clone)]
pub struct FoldSettings {
    /// Rows per (style, hour) that parallel workers spread their additions over.
    pub shards: u8,
    /// The business zone (which local day an hour belongs to).
    pub zone: Tz,
    /// How long the duplicate ledger keeps an id; older events are refused.
    pub ledger_days: u32,
    /// A visitor's further clicks on one ad within this many milliseconds of a counted
    /// one are not counted (0: every click counts).
    pub click_block_ms: i64,
}

impl Default for FoldSettings {
    fn default() -> Self {
        Self {
            shards: 4,
            zone: chrono_tz::Asia::Shanghai,
            ledger_days: ads::DEFAULT_LEDGER_DAYS,
            click_block_ms: 0,
        }
    }
}

impl FoldSettings {
    /// `AD_COUNTER_SHARDS` (1–64, default 4), `AD_TIME_ZONE`, `AD_EVENT_LEDGER_DAYS`
    /// (15–90, default 15), `AD_CLICK_BLOCK_SECS` (0–86400, default 0: off).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let shards: u8 = env_or("AD_COUNTER_SHARDS", 4)?;
        if !(1..=64).contains(&shards) {
            return Err(ConfigError::Invalid {
                name: "AD_COUNTER_SHARDS",
                value: shards.to_string(),
                reason: "must be 1 to 64".into(),
            });
        }
        let block: i64 = env_or("AD_CLICK_BLOCK_SECS", 0)?;
        if !(0..=86_400).contains(&block) {
            return Err(ConfigError::Invalid {
                name: "AD_CLICK_BLOCK_SECS",
                value: block.to_string(),
                reason: "must be 0 (off) to 86400".into(),
            });
        }
        Ok(Self {
            shards,
            zone: ads::time_zone_from_env()?,
            ledger_days: ads::ledger_days_from_env()?,
            click_block_ms: block * 1000,
        })
    }
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FoldOutcome {
    /// Events counted now.
    pub counted: usize,
    /// Events dropped as already counted (in this batch or before).
    pub duplicates: usize,
    pub shows: u64,
    pub clicks: u64,
    /// (style, hour) cells written.
    pub cells: usize,
    /// Archived days reopened by late events.
    pub days_reopened: u64,
    /// Clicks not counted: within the click-block window of a counted one.
    pub clicks_blocked: usize,
    /// Transactions needed (1 unless a lock conflict or a racing duplicate retried it).
    pub attempts: u32,
}

/// Why a fold failed.
#[derive(Debug, thiserror::Error)]
pub enum FoldError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("gave up after {0} transactions lost lock conflicts or duplicate races")]
    Contended(u32),
}

/// The Lambda handler: parse each message, fold the valid ones in one transaction.
pub async fn handle(
    pool: &MySqlPool,
    event: SqsEvent,
    settings: &FoldSettings,
) -> SqsBatchResponse {
    let now = Utc::now();
    handle_whole_batch(
        event,
        |message| parse_message(message, settings, now),
        |events| async move {
            let outcome = fold(pool, events, settings)
                .await
                .map_err(MessageError::retryable)?;
            tracing::info!(
                counted = outcome.counted,
                duplicates = outcome.duplicates,
                shows = outcome.shows,
                clicks = outcome.clicks,
                cells = outcome.cells,
                days_reopened = outcome.days_reopened,
                attempts = outcome.attempts,
                clicks_blocked = outcome.clicks_blocked,
                "batch folded"
            );
            common::metrics::count("events_counted", outcome.counted as u64);
            common::metrics::count("events_duplicate", outcome.duplicates as u64);
            Ok(())
        },
    )
    .await
}

/// One message as a hit event, refused when malformed or older than the ledger keeps.
///
/// # Errors
/// [`MessageError::Permanent`] with the reason.
pub fn parse_message(
    message: &SqsMessage,
    settings: &FoldSettings,
    now: chrono::DateTime<Utc>,
) -> Result<HitEvent, MessageError> {
    let body = message.body.as_deref().unwrap_or_default();
    let event = HitEvent::parse(body).map_err(|e| MessageError::permanent(e.to_string()))?;
    let oldest = now - TimeDelta::days(i64::from(settings.ledger_days) - 1);
    let instant = event.instant().unwrap_or(now);
    if instant < oldest {
        return Err(MessageError::permanent(format!(
            "event {} is from {instant}, older than the duplicate ledger keeps ({} days): counting it could count it twice",
            event.id, settings.ledger_days
        )));
    }
    if instant > now + TimeDelta::minutes(5) {
        return Err(MessageError::permanent(format!(
            "event {} is from {instant}, in the future",
            event.id
        )));
    }
    Ok(event)
}

/// Folds `events` into the counts in one transaction (retried on lock conflicts and
/// duplicate races).
///
/// # Errors
/// [`FoldError`]; nothing is written then.
pub async fn fold(
    pool: &MySqlPool,
    mut events: Vec<HitEvent>,
    settings: &FoldSettings,
) -> Result<FoldOutcome, FoldError> {
    let received = events.len();
    events.sort_unstable_by_key(|e| e.id);
    events.dedup_by_key(|e| e.id);
    let in_batch_duplicates = received - events.len();
    for attempt in 1..=ATTEMPTS {
        let shard = rand::random_range(0..settings.shards.max(1));
        let mut conn = pool.acquire().await?;
        // READ COMMITTED: exactly-once rests on the ledger's primary key alone, and without
        // REPEATABLE READ's gap locks parallel workers inserting neighbouring ids do not
        // block (or deadlock) one another.
        conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let error = match fold_once(&mut tx, &events, shard, settings).await {
            Ok(mut outcome) => match tx.commit().await {
                Ok(()) => {
                    outcome.duplicates += in_batch_duplicates;
                    outcome.attempts = attempt;
                    return Ok(outcome);
                }
                Err(e) if is_retryable(&e) => e,
                Err(e) => return Err(e.into()),
            },
            Err(e) if is_retryable(&e) => {
                let _ = tx.rollback().await;
                e
            }
            Err(e) => return Err(e.into()),
        };
        tracing::warn!(attempt, %error, "batch lost a lock conflict or a duplicate race; retrying");
        let jitter = rand::random_range(0..50);
        tokio::time::sleep(std::time::Duration::from_millis(
            25 * u64::from(attempt) + jitter,
        ))
        .await;
    }
    Err(FoldError::Contended(ATTEMPTS))
}

/// Deadlock, lock-wait timeout, or an id another worker committed after this one looked.
fn is_retryable(error: &sqlx::Error) -> bool {
    common::db::is_lock_conflict(error) || mysql_error_number(error) == Some(ER_DUP_ENTRY)
}

/// One (style, UTC hour) of the batch.
#[derive(Default)]
struct Cell {
    shows: u64,
    clicks: u64,
    visitors: VisitorSketch,
}

async fn fold_once(
    conn: &mut MySqlConnection,
    events: &[HitEvent],
    shard: u8,
    settings: &FoldSettings,
) -> Result<FoldOutcome, sqlx::Error> {
    let zone = settings.zone;
    let new = record_new(conn, events).await?;
    let blocked = if settings.click_block_ms > 0 {
        blocked_clicks(conn, &new, settings.click_block_ms).await?
    } else {
        BTreeSet::new()
    };
    let mut outcome = FoldOutcome {
        counted: new.len() - blocked.len(),
        duplicates: events.len() - new.len(),
        clicks_blocked: blocked.len(),
        ..FoldOutcome::default()
    };
    let mut cells: BTreeMap<(u64, NaiveDateTime), Cell> = BTreeMap::new();
    for event in new {
        // parse_message checked the instant.
        let Some(hour) = event.hour_utc() else {
            continue;
        };
        let cell = cells.entry((event.style, hour)).or_default();
        match event.kind {
            HitKind::Show => cell.shows += 1,
            HitKind::Click if blocked.contains(&event.id) => {}
            HitKind::Click => cell.clicks += 1,
        }
        cell.visitors.add(event.visitor);
    }
    if cells.is_empty() {
        return Ok(outcome);
    }
    outcome.cells = cells.len();
    let now = Utc::now().naive_utc();
    let mut counts = String::with_capacity(64 * cells.len() + 256);
    counts.push_str(
        "INSERT INTO ad_hour_count (style_id, hour_utc, shard, shows, clicks, updated_at) VALUES ",
    );
    let mut sketches = String::with_capacity(256 * cells.len());
    sketches.push_str("INSERT INTO ad_hour_visitors (style_id, hour_utc, sketch) VALUES ");
    let mut days = BTreeSet::new();
    for (index, ((style, hour), cell)) in cells.iter().enumerate() {
        if index > 0 {
            counts.push(',');
            sketches.push(',');
        }
        outcome.shows += cell.shows;
        outcome.clicks += cell.clicks;
        counts.push('(');
        push_u64(&mut counts, *style);
        counts.push_str(",'");
        counts.push_str(&hour.format("%Y-%m-%d %H:00:00").to_string());
        counts.push_str("',");
        push_u64(&mut counts, u64::from(shard));
        counts.push(',');
        push_u64(&mut counts, cell.shows);
        counts.push(',');
        push_u64(&mut counts, cell.clicks);
        counts.push_str(",'");
        counts.push_str(&now.format("%Y-%m-%d %H:%M:%S%.3f").to_string());
        counts.push_str("')");
        sketches.push('(');
        push_u64(&mut sketches, *style);
        sketches.push_str(",'");
        sketches.push_str(&hour.format("%Y-%m-%d %H:00:00").to_string());
        sketches.push_str("',X'");
        push_hex(&mut sketches, &cell.visitors.to_bytes());
        sketches.push_str("')");
        days.insert(ads::local_day_of(*hour, zone));
    }
    counts.push_str(
        " ON DUPLICATE KEY UPDATE shows = shows + VALUES(shows), clicks = clicks + VALUES(clicks), updated_at = VALUES(updated_at)",
    );
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(counts)))
        .await?;
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sketches)))
        .await?;
    let today = ads::local_day_of(now, zone);
    let late: Vec<_> = days
        .into_iter()
        .filter(|d| *d < today)
        .map(|d| (ads::ARCHIVE_KIND, d))
        .collect();
    if !late.is_empty() {
        outcome.days_reopened = ads::ARCHIVE_LEDGER.clear(conn, late).await?;
    }
    Ok(outcome)
}

/// The ids of the clicks within `window_ms` of a counted click by the same visitor on the
/// same style (earlier batches' from `ad_click_last`, locked for the transaction, and this
/// batch's own, taken in time order); records the counted ones' instants.
async fn blocked_clicks(
    conn: &mut MySqlConnection,
    new: &[&HitEvent],
    window_ms: i64,
) -> Result<BTreeSet<uuid::Uuid>, sqlx::Error> {
    let mut clicks: Vec<&HitEvent> = new
        .iter()
        .copied()
        .filter(|e| e.kind == HitKind::Click)
        .collect();
    let mut blocked = BTreeSet::new();
    if clicks.is_empty() {
        return Ok(blocked);
    }
    clicks.sort_by_key(|e| (e.style, e.visitor, e.at, e.id));
    let keys: Vec<(u64, u64)> = {
        let mut keys: Vec<(u64, u64)> = clicks.iter().map(|e| (e.style, e.visitor.0)).collect();
        keys.dedup();
        keys
    };
    let mut last: BTreeMap<(u64, u64), i64> = BTreeMap::new();
    for chunk in keys.chunks(IDS_PER_LOOKUP) {
        let mut query = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "SELECT style_id, visitor, last_click_ms FROM ad_click_last WHERE (style_id, visitor) IN (",
        );
        let mut list = query.separated(", ");
        for (style, visitor) in chunk {
            list.push("(")
                .push_bind_unseparated(*style)
                .push_unseparated(", ")
                .push_bind_unseparated(*visitor)
                .push_unseparated(")");
        }
        query.push(") FOR UPDATE");
        for row in query.build().fetch_all(&mut *conn).await? {
            last.insert((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?);
        }
    }
    let mut counted: BTreeMap<(u64, u64), i64> = BTreeMap::new();
    for click in clicks {
        let key = (click.style, click.visitor.0);
        match last.get(&key) {
            Some(previous) if (click.at - previous).abs() < window_ms => {
                blocked.insert(click.id);
            }
            _ => {
                last.insert(key, click.at);
                counted.insert(key, click.at);
            }
        }
    }
    let rows: Vec<_> = counted.into_iter().collect();
    for chunk in rows.chunks(IDS_PER_LOOKUP) {
        let mut upsert = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "INSERT INTO ad_click_last (style_id, visitor, last_click_ms) ",
        );
        upsert.push_values(chunk, |mut row, ((style, visitor), at)| {
            row.push_bind(*style).push_bind(*visitor).push_bind(*at);
        });
        upsert.push(" ON DUPLICATE KEY UPDATE last_click_ms = GREATEST(last_click_ms, VALUES(last_click_ms))");
        upsert.build().execute(&mut *conn).await?;
    }
    Ok(blocked)
}

/// Records the events' ids in the ledger and answers the events not seen before.
///
/// A duplicate-key error undoes only its statement: the ids that are now known (committed
/// by an earlier batch, or by a parallel worker this statement waited for) are read and
/// the rest inserted again. Each round can only fail on an id committed since the last
/// look-up, so the rounds end; a bounded number of them keeps a pathological race from
/// spinning (the transaction is then retried whole).
async fn record_new<'e>(
    conn: &mut MySqlConnection,
    events: &'e [HitEvent],
) -> Result<Vec<&'e HitEvent>, sqlx::Error> {
    const ROUNDS: usize = 16;
    let mut new = Vec::with_capacity(events.len());
    for chunk in events.chunks(IDS_PER_STATEMENT) {
        let mut pending: Vec<&HitEvent> = chunk.iter().collect();
        for round in 1..=ROUNDS {
            match conn.execute(insert_ids(pending.iter().copied())).await {
                Ok(_) => break,
                Err(e) if mysql_error_number(&e) == Some(ER_DUP_ENTRY) && round < ROUNDS => {
                    let known = known_ids(conn, &pending).await?;
                    pending.retain(|e| !known.contains(&e.id));
                    if pending.is_empty() {
                        break;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        new.extend(pending);
    }
    Ok(new)
}

fn insert_ids<'e>(events: impl Iterator<Item = &'e HitEvent>) -> sqlx::RawSql {
    let mut sql = String::with_capacity(40 * IDS_PER_STATEMENT);
    sql.push_str("INSERT INTO ad_event_seen (event_id) VALUES ");
    for (index, event) in events.enumerate() {
        if index > 0 {
            sql.push(',');
        }
        sql.push_str("(X'");
        push_hex(&mut sql, event.id.as_bytes());
        sql.push_str("')");
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
}

async fn known_ids(
    conn: &mut MySqlConnection,
    events: &[&HitEvent],
) -> Result<BTreeSet<uuid::Uuid>, sqlx::Error> {
    let mut known = BTreeSet::new();
    for chunk in events.chunks(IDS_PER_LOOKUP) {
        let mut sql = String::from("SELECT event_id FROM ad_event_seen WHERE event_id IN (");
        for (index, event) in chunk.iter().enumerate() {
            if index > 0 {
                sql.push(',');
            }
            sql.push_str("X'");
            push_hex(&mut sql, event.id.as_bytes());
            sql.push('\'');
        }
        sql.push(')');
        for row in conn
            .fetch_all(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
            .await?
        {
            let bytes: Vec<u8> = row.try_get(0)?;
            if let Ok(id) = uuid::Uuid::from_slice(&bytes) {
                known.insert(id);
            }
        }
    }
    Ok(known)
}

fn push_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ads::VisitorId;

    fn message(body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some("m-1".into());
        m.body = Some(body.into());
        m
    }

    #[test]
    fn old_future_and_malformed_events_are_refused_alone() {
        let settings = FoldSettings::default();
        let now = Utc::now();
        let event = HitEvent::new(HitKind::Show, 1, VisitorId(9));
        let body = serde_json::to_string(&event).expect("serialises");
        assert!(parse_message(&message(&body), &settings, now).is_ok());
        let mut old = event.clone();
        old.at = (now - TimeDelta::days(15)).timestamp_millis();
        let old = serde_json::to_string(&old).expect("serialises");
        let error = parse_message(&message(&old), &settings, now).expect_err("too old");
        assert!(
            error
                .to_string()
                .contains("older than the duplicate ledger"),
            "{error}"
        );
        let mut future = event;
        future.at = (now + TimeDelta::hours(1)).timestamp_millis();
        let future = serde_json::to_string(&future).expect("serialises");
        assert!(parse_message(&message(&future), &settings, now).is_err());
        assert!(parse_message(&message("{}"), &settings, now).is_err());
    }

    #[test]
    fn hex_is_upper_case_pairs() {
        let mut out = String::new();
        push_hex(&mut out, &[0x00, 0xAB, 0x0F]);
        assert_eq!(out, "00AB0F");
    }
}
