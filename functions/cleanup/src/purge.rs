//! The chunked deletes, each one short transaction at READ COMMITTED.
//!
//! # Why an import running at the same time is safe
//! The importer writes a file in one transaction and, before it inserts an event, locks
//! every dimension row the event refers to: a row that exists with a locking read
//! (`LOCK IN SHARE MODE`, a shared lock), a new one by inserting it (an exclusive lock);
//! both last until the import commits. The cleanup locks a candidate with
//! `FOR UPDATE SKIP LOCKED` before checking that no event references it, so for a given
//! dimension row either
//! - the import committed first: the check (READ COMMITTED sees it) finds the reference and
//!   the row stays;
//! - the import holds the row: the cleanup skips it and it stays a candidate;
//! - the import comes later: its locking read waits for the cleanup's chunk (a few
//!   milliseconds), then finds the row gone and inserts it anew.
//!
//! No step waits for an import's locks (`SKIP LOCKED`), and READ COMMITTED takes no gap
//! locks, so the import waits at most for one chunk of the cleanup.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use sqlx::{Executor, MySql, MySqlConnection, MySqlPool, QueryBuilder, pool::PoolConnection};

use crate::Remaining;

/// A dimension table and the `client_event` column that refers to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Actor,
    Action,
    Cookie,
    TanetInfo,
}

impl Dimension {
    pub const ALL: [Self; 4] = [Self::Actor, Self::Action, Self::Cookie, Self::TanetInfo];

    /// The table, which is also the `cleanup_candidate.dimension` value.
    pub fn table(self) -> &'static str {
        match self {
            Self::Actor => "actor",
            Self::Action => "action",
            Self::Cookie => "cookie",
            Self::TanetInfo => "tanet_info",
        }
    }

    /// The referencing column of `client_event` (each has its own index).
    pub fn event_column(self) -> &'static str {
        match self {
            Self::Actor => "actor_id",
            Self::Action => "action_id",
            Self::Cookie => "cookie_id",
            Self::TanetInfo => "tanet_info_id",
        }
    }
}

/// The per-statement detail tables, deleted with their event.
const DETAIL_TABLES: [&str; 4] = ["event_info", "result", "video_info", "sentences"];

/// Rows one event chunk deleted.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventChunk {
    /// The latest log date of the chunk: where the next chunk starts.
    pub last_log_date: Option<NaiveDate>,
    pub events: u64,
    pub event_info: u64,
    pub result: u64,
    pub video_info: u64,
    pub sentences: u64,
}

/// What one dimension chunk did.
#[derive(Debug, Clone, Copy, Default)]
pub struct DimensionChunk {
    /// The highest candidate id looked at; `None` when no candidate was left.
    pub last_candidate: Option<u64>,
    pub deleted: u64,
    pub skipped_locked: u64,
}

/// A connection whose next transaction runs at READ COMMITTED.
async fn read_committed(pool: &MySqlPool) -> Result<PoolConnection<MySql>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await?;
    Ok(conn)
}

type EventKeys = (String, u64, u64, Option<u64>, Option<u64>, NaiveDate);

/// Deletes up to `limit` events logged from `from` to before `cutoff`, with their details,
/// and records their dimension ids as candidates; all in one transaction.
///
/// The caller passes the last chunk's latest log date as `from`: deleted index entries
/// stay (delete-marked) until InnoDB purges them, and a scan from the very start would
/// step over every one of them again in each chunk.
///
/// # Errors
/// The database error (the chunk is rolled back).
pub async fn delete_event_chunk(
    pool: &MySqlPool,
    from: NaiveDate,
    cutoff: NaiveDate,
    limit: u32,
) -> Result<EventChunk, sqlx::Error> {
    let mut conn = read_committed(pool).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // Oldest first, through the log-date index; rows an import holds are left for later.
    let events: Vec<EventKeys> = sqlx::query_as(
        "SELECT statement_id, actor_id, action_id, cookie_id, tanet_info_id, log_date
         FROM client_event FORCE INDEX (ix_client_event_log_date)
         WHERE log_date >= ? AND log_date < ?
         ORDER BY log_date
         LIMIT ?
         FOR UPDATE SKIP LOCKED",
    )
    .bind(from)
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if events.is_empty() {
        tx.commit().await?;
        return Ok(EventChunk::default());
    }

    let mut candidates: Vec<(&'static str, u64)> = Vec::with_capacity(events.len() * 2);
    let mut seen = BTreeSet::new();
    for (_, actor, action, cookie, tanet, _) in &events {
        let ids = [
            (Dimension::Actor, Some(*actor)),
            (Dimension::Action, Some(*action)),
            (Dimension::Cookie, *cookie),
            (Dimension::TanetInfo, *tanet),
        ];
        for (dimension, id) in ids {
            if let Some(id) = id
                && seen.insert((dimension.table(), id))
            {
                candidates.push((dimension.table(), id));
            }
        }
    }
    let mut insert =
        QueryBuilder::<MySql>::new("INSERT IGNORE INTO cleanup_candidate (dimension, id) ");
    insert.push_values(&candidates, |mut row, (dimension, id)| {
        row.push_bind(*dimension).push_bind(*id);
    });
    insert.build().execute(&mut *tx).await?;

    let ids: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    let mut deleted = [0u64; 4];
    for (table, count) in DETAIL_TABLES.iter().zip(deleted.iter_mut()) {
        *count = delete_statements(&mut tx, table, &ids).await?;
    }
    let events_deleted = delete_statements(&mut tx, "client_event", &ids).await?;
    tx.commit().await?;
    Ok(EventChunk {
        last_log_date: events.iter().map(|e| e.5).max(),
        events: events_deleted,
        event_info: deleted[0],
        result: deleted[1],
        video_info: deleted[2],
        sentences: deleted[3],
    })
}

async fn delete_statements(
    conn: &mut MySqlConnection,
    table: &'static str,
    statement_ids: &[&str],
) -> Result<u64, sqlx::Error> {
    let mut delete =
        QueryBuilder::<MySql>::new(format!("DELETE FROM {table} WHERE statement_id IN ("));
    let mut list = delete.separated(", ");
    for id in statement_ids {
        list.push_bind(*id);
    }
    delete.push(")");
    Ok(delete.build().execute(conn).await?.rows_affected())
}

/// Checks up to `limit` candidates of `dimension` with ids above `after`: deletes the rows
/// no event references, forgets the candidates that are settled, keeps the ones an import
/// holds.
///
/// # Errors
/// The database error (the chunk is rolled back).
pub async fn delete_dimension_chunk(
    pool: &MySqlPool,
    dimension: Dimension,
    after: u64,
    limit: u32,
) -> Result<DimensionChunk, sqlx::Error> {
    let table = dimension.table();
    let mut conn = read_committed(pool).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let candidates: Vec<u64> = sqlx::query_scalar(
        "SELECT id FROM cleanup_candidate WHERE dimension = ? AND id > ?
         ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(table)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let Some(&last) = candidates.last() else {
        tx.commit().await?;
        return Ok(DimensionChunk::default());
    };

    let present: BTreeSet<u64> = select_ids(&mut tx, table, &candidates, "").await?;
    let locked: BTreeSet<u64> =
        select_ids(&mut tx, table, &candidates, " FOR UPDATE SKIP LOCKED").await?;
    let held_by_others: BTreeSet<u64> = present.difference(&locked).copied().collect();

    let mut deleted = 0;
    if !locked.is_empty() {
        let column = dimension.event_column();
        let mut delete = QueryBuilder::<MySql>::new(format!("DELETE FROM {table} WHERE id IN ("));
        let mut list = delete.separated(", ");
        for id in &locked {
            list.push_bind(*id);
        }
        delete.push(format!(
            ") AND NOT EXISTS (SELECT 1 FROM client_event e WHERE e.{column} = {table}.id)"
        ));
        deleted = delete.build().execute(&mut *tx).await?.rows_affected();
    }

    let settled: Vec<u64> = candidates
        .iter()
        .copied()
        .filter(|id| !held_by_others.contains(id))
        .collect();
    if !settled.is_empty() {
        let mut forget =
            QueryBuilder::<MySql>::new("DELETE FROM cleanup_candidate WHERE dimension = ");
        forget.push_bind(table).push(" AND id IN (");
        let mut list = forget.separated(", ");
        for id in &settled {
            list.push_bind(*id);
        }
        forget.push(")");
        forget.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(DimensionChunk {
        last_candidate: Some(last),
        deleted,
        skipped_locked: u64::try_from(held_by_others.len()).unwrap_or(u64::MAX),
    })
}

async fn select_ids(
    conn: &mut MySqlConnection,
    table: &'static str,
    ids: &[u64],
    suffix: &'static str,
) -> Result<BTreeSet<u64>, sqlx::Error> {
    let mut select = QueryBuilder::<MySql>::new(format!("SELECT id FROM {table} WHERE id IN ("));
    let mut list = select.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    select.push(")").push(suffix);
    let rows: Vec<u64> = select.build_query_scalar().fetch_all(conn).await?;
    Ok(rows.into_iter().collect())
}

/// Marks `purged_at` on completed imports of before the cut-off whose events are all gone.
/// The ledger rows themselves are kept: they say what was imported, when, from where.
///
/// # Errors
/// The database error.
pub async fn mark_purged_imports(pool: &MySqlPool, cutoff: NaiveDate) -> Result<u64, sqlx::Error> {
    let mut conn = read_committed(pool).await?;
    let marked = sqlx::query(
        "UPDATE import_file f SET f.purged_at = ?
         WHERE f.purged_at IS NULL AND f.status = 'completed'
           AND COALESCE(f.log_date, DATE(f.first_seen_at)) < ?
           AND NOT EXISTS (SELECT 1 FROM client_event e WHERE e.import_id = f.id)",
    )
    .bind(Utc::now().naive_utc())
    .bind(cutoff)
    .execute(&mut *conn)
    .await?;
    Ok(marked.rows_affected())
}

/// Events before the cut-off and candidates still present.
///
/// # Errors
/// The database error.
pub async fn remaining(pool: &MySqlPool, cutoff: NaiveDate) -> Result<Remaining, sqlx::Error> {
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_event WHERE log_date < ?")
        .bind(cutoff)
        .fetch_one(pool)
        .await?;
    let candidates: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cleanup_candidate")
        .fetch_one(pool)
        .await?;
    Ok(Remaining {
        client_event: u64::try_from(events).unwrap_or(0),
        candidates: u64::try_from(candidates).unwrap_or(0),
    })
}

/// Retries of a chunk that lost a lock conflict (it was rolled back whole).
pub const LOCK_RETRIES: u32 = 5;
