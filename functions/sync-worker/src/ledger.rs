//! The range ledger (`exec_range`): one row per task of a planned run, with its state,
//! its lease, its checkpoint and its counts. Every change of a range's state is one
//! compare-and-set UPDATE on its status or its lease, so two deliveries of a message, or
//! a worker presumed dead and its replacement, cannot both move it. SQL runs on MySQL 8.0
//! and MariaDB 10.11.

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::{MySqlPool, QueryBuilder};
use sync_engine::{plan::Task, summary::Counts};

/// A range's states.
pub mod state {
    /// Planned, its message not sent yet (more ranges than lanes).
    pub const PENDING: &str = "pending";
    /// Its message is sent (first, or again after a checkpoint).
    pub const QUEUED: &str = "queued";
    /// An invocation holds its lease.
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
}

/// How a rewrite of a range's rows is kept harmless (`exec_log.exactly_once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactlyOnce {
    /// The target's checkpoint table, written in each batch's transaction.
    Ledger,
    /// writeMode replace/update on a keyed target (or streamwriter).
    Rewrite,
    /// writeMode insert without the checkpoint table: a range whose worker died midway
    /// cannot be resumed without writing rows twice, so it fails the run instead.
    None,
}

impl ExactlyOnce {
    pub fn as_str(self) -> &'static str {
        match self {
            ExactlyOnce::Ledger => "ledger",
            ExactlyOnce::Rewrite => "rewrite",
            ExactlyOnce::None => "none",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "ledger" => ExactlyOnce::Ledger,
            "rewrite" => ExactlyOnce::Rewrite,
            _ => ExactlyOnce::None,
        }
    }
}

/// One range as the ledger holds it.
#[derive(Debug, Clone)]
pub struct Range {
    pub task: Task,
    pub status: String,
    pub lease: Option<String>,
    pub heartbeat_at: Option<NaiveDateTime>,
    pub resume_after: Option<i64>,
    pub invocations: u32,
    pub restarts: u32,
    /// What the range's earlier invocations did, up to its checkpoint.
    pub counts: Counts,
}

type RangeRow = (
    String,
    String,
    Option<String>,
    Option<NaiveDateTime>,
    Option<i64>,
    u32,
    u32,
    u64,
    u64,
    u64,
    u64,
    u64,
);

/// Why the ledger could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("range {index} of run {run}: its stored task does not parse ({reason})")]
    Corrupt {
        run: u64,
        index: u32,
        reason: String,
    },
}

/// Range `index` of run `run`.
pub async fn get(pool: &MySqlPool, run: u64, index: u32) -> Result<Option<Range>, LedgerError> {
    let row: Option<RangeRow> = sqlx::query_as(
        "SELECT task, status, lease, heartbeat_at, resume_after, invocations, restarts, \
         read_ok, read_ok_bytes, read_failed, write_failed, written \
         FROM exec_range WHERE exec_log_id = ? AND task_index = ?",
    )
    .bind(run)
    .bind(index)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let task = serde_json::from_str(&row.0).map_err(|e| LedgerError::Corrupt {
        run,
        index,
        reason: e.to_string(),
    })?;
    Ok(Some(Range {
        task,
        status: row.1,
        lease: row.2,
        heartbeat_at: row.3,
        resume_after: row.4,
        invocations: row.5,
        restarts: row.6,
        counts: Counts {
            read_ok: row.7,
            read_ok_bytes: row.8,
            read_failed: row.9,
            write_failed: row.10,
            written: row.11,
        },
    }))
}

/// What a planned run keeps in `exec_log`.
pub struct Plan<'a> {
    pub job_content: &'a str,
    pub run_token: &'a str,
    pub exactly_once: ExactlyOnce,
    pub tasks: &'a [Task],
    pub lanes: u32,
    pub plan_log: &'a str,
    pub window: Option<(&'a str, &'a str)>,
}

/// Stores the plan of a claimed, unplanned run, its first `lanes` ranges queued, in one
/// transaction. `false` when the run is no longer running unplanned.
pub async fn store_plan(pool: &MySqlPool, run: u64, plan: &Plan<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stored = sqlx::query(
        "UPDATE exec_log SET job_content = ?, run_token = ?, exactly_once = ?, ranges = ?, \
         lanes = ?, exec_result = ?, inc_from = ?, inc_to = ? \
         WHERE id = ? AND status = 'running' AND ranges = 0",
    )
    .bind(plan.job_content)
    .bind(plan.run_token)
    .bind(plan.exactly_once.as_str())
    .bind(plan.tasks.len() as u64)
    .bind(plan.lanes)
    .bind(plan.plan_log)
    .bind(plan.window.map(|w| w.0))
    .bind(plan.window.map(|w| w.1))
    .bind(run)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !stored {
        return Ok(false);
    }
    for chunk in plan.tasks.chunks(500) {
        let mut insert =
            QueryBuilder::new("INSERT INTO exec_range (exec_log_id, task_index, task, status) ");
        insert.push_values(chunk, |mut row, task| {
            let text = serde_json::to_string(task).unwrap_or_default();
            let status = if task.index < plan.lanes as usize {
                state::QUEUED
            } else {
                state::PENDING
            };
            row.push_bind(run)
                .push_bind(task.index as u64)
                .push_bind(text)
                .push_bind(status);
        });
        insert.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The ranges queued by the plan and not yet taken (their messages are sent again when the
/// plan's message is delivered again: the first sending may not have happened).
pub async fn first_queued(pool: &MySqlPool, run: u64) -> Result<Vec<u32>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT task_index FROM exec_range WHERE exec_log_id = ? AND status = 'queued' \
         AND dispatched_by IS NULL AND invocations = 0 ORDER BY task_index",
    )
    .bind(run)
    .fetch_all(pool)
    .await
}

/// Takes a queued range under `lease`.
pub async fn claim(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    lease: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE exec_range SET status = 'running', lease = ?, heartbeat_at = UTC_TIMESTAMP(3), \
         invocations = invocations + 1 WHERE exec_log_id = ? AND task_index = ? AND status = 'queued'",
    )
    .bind(lease)
    .bind(run)
    .bind(index)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Takes a running range over from `old` (a worker presumed dead).
pub async fn take_over(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    old: &str,
    lease: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE exec_range SET lease = ?, heartbeat_at = UTC_TIMESTAMP(3), \
         invocations = invocations + 1 \
         WHERE exec_log_id = ? AND task_index = ? AND status = 'running' AND lease = ?",
    )
    .bind(lease)
    .bind(run)
    .bind(index)
    .bind(old)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Renews the lease and, when given, records the checkpoint (the last key committed and
/// the range's counts up to it). `false` when the lease is no longer this invocation's.
pub async fn heartbeat(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    lease: &str,
    checkpoint: Option<(Option<i64>, Counts)>,
) -> Result<bool, sqlx::Error> {
    let query = match checkpoint {
        None => sqlx::query(
            "UPDATE exec_range SET heartbeat_at = UTC_TIMESTAMP(3) \
             WHERE exec_log_id = ? AND task_index = ? AND status = 'running' AND lease = ?",
        ),
        Some((key, counts)) => sqlx::query(
            "UPDATE exec_range SET heartbeat_at = UTC_TIMESTAMP(3), \
             resume_after = COALESCE(?, resume_after), read_ok = ?, read_ok_bytes = ?, \
             read_failed = ?, write_failed = ?, written = ? \
             WHERE exec_log_id = ? AND task_index = ? AND status = 'running' AND lease = ?",
        )
        .bind(key)
        .bind(counts.read_ok)
        .bind(counts.read_ok_bytes)
        .bind(counts.read_failed)
        .bind(counts.write_failed)
        .bind(counts.written),
    };
    // A renewal that changes nothing but the time still matches its row.
    Ok(query
        .bind(run)
        .bind(index)
        .bind(lease)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// The end of one invocation of a range, as recorded.
pub struct Ended<'a> {
    pub lease: &'a str,
    /// The range's counts over all its invocations.
    pub counts: Counts,
    pub log: &'a str,
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
}

const ENDED_SET: &str = "lease = NULL, read_ok = ?, read_ok_bytes = ?, read_failed = ?, \
     write_failed = ?, written = ?, log = CONCAT(COALESCE(log, ''), ?), \
     transfer_started = COALESCE(transfer_started, ?), transfer_ended = ?";

/// Puts a range stopped at its deadline back in the queue with its checkpoint (`restart`:
/// from its beginning, its counts reset to `ended.counts`).
pub async fn requeue(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    resume_after: Option<i64>,
    restart: bool,
    ended: &Ended<'_>,
) -> Result<bool, sqlx::Error> {
    let sql = ended_sql("status = 'queued', resume_after = ?, restarts = restarts + ?");
    let query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(resume_after)
        .bind(u32::from(restart));
    Ok(bind_ended(query, run, index, ended)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// The UPDATE that ends an invocation of a range: `head` sets its new state, the rest
/// records the invocation ([`Ended`]) while the range is still under its lease.
fn ended_sql(head: &str) -> String {
    format!(
        "UPDATE exec_range SET {head}, {ENDED_SET} \
         WHERE exec_log_id = ? AND task_index = ? AND status = 'running' AND lease = ?"
    )
}

/// Binds [`ended_sql`]'s parameters after `head`'s.
fn bind_ended<'q>(
    query: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    run: u64,
    index: u32,
    ended: &'q Ended<'q>,
) -> sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    query
        .bind(ended.counts.read_ok)
        .bind(ended.counts.read_ok_bytes)
        .bind(ended.counts.read_failed)
        .bind(ended.counts.write_failed)
        .bind(ended.counts.written)
        .bind(ended.log)
        .bind(ended.started.naive_utc())
        .bind(ended.ended.naive_utc())
        .bind(run)
        .bind(index)
        .bind(ended.lease)
}

/// Marks a range done and, in the same transaction, queues the next pending range as its
/// successor (so the run keeps `lanes` ranges going). `false` when the lease was lost.
pub async fn complete(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    ended: &Ended<'_>,
) -> Result<bool, sqlx::Error> {
    // Two ranges finishing at once can deadlock on the pending rows; InnoDB rolls one
    // back whole, so it is simply tried again.
    let mut attempt = 0;
    loop {
        match try_complete(pool, run, index, ended).await {
            Err(sqlx::Error::Database(e))
                if attempt < 5 && (e.code().as_deref() == Some("40001")) =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
            }
            other => return other,
        }
    }
}

async fn try_complete(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    ended: &Ended<'_>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let sql = ended_sql("status = 'done'");
    let done = bind_ended(
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str())),
        run,
        index,
        ended,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !done {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE exec_range SET status = 'queued', dispatched_by = ? \
         WHERE exec_log_id = ? AND status = 'pending' ORDER BY task_index LIMIT 1",
    )
    .bind(index)
    .bind(run)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Marks a range failed with `reason`.
pub async fn fail(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    reason: &str,
    ended: &Ended<'_>,
) -> Result<bool, sqlx::Error> {
    let sql = ended_sql("status = 'failed', error = ?");
    let query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(reason);
    Ok(bind_ended(query, run, index, ended)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// Marks a range whose running worker vanished failed, without its lease.
pub async fn fail_abandoned(
    pool: &MySqlPool,
    run: u64,
    index: u32,
    old: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE exec_range SET status = 'failed', error = ?, lease = NULL \
         WHERE exec_log_id = ? AND task_index = ? AND status = 'running' AND lease = ?",
    )
    .bind(reason)
    .bind(run)
    .bind(index)
    .bind(old)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// The ranges range `index` queued as its successors and that still wait for a message.
pub async fn successors(pool: &MySqlPool, run: u64, index: u32) -> Result<Vec<u32>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT task_index FROM exec_range WHERE exec_log_id = ? AND dispatched_by = ? \
         AND status = 'queued' AND invocations = 0",
    )
    .bind(run)
    .bind(index)
    .fetch_all(pool)
    .await
}

/// How many ranges of the run are not done.
pub async fn unfinished(pool: &MySqlPool, run: u64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM exec_range WHERE exec_log_id = ? AND status <> 'done'")
        .bind(run)
        .fetch_one(pool)
        .await
}

/// The dirty records of the run's other ranges (for errorLimit.record across workers).
pub async fn errors_elsewhere(pool: &MySqlPool, run: u64, index: u32) -> Result<u64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(read_failed + write_failed), 0) AS UNSIGNED) FROM exec_range \
         WHERE exec_log_id = ? AND task_index <> ?",
    )
    .bind(run)
    .bind(index)
    .fetch_one(pool)
    .await
}

/// The run's ranges as the assembly reads them: counts summed, the transfer's first start
/// and last end, every range's log in task order.
pub struct Totals {
    pub counts: Counts,
    pub transfer: Option<(NaiveDateTime, NaiveDateTime)>,
    pub logs: Vec<(u32, String, Option<String>)>,
}

type TotalsRow = (
    u32,
    u64,
    u64,
    u64,
    u64,
    u64,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
);

pub async fn totals(pool: &MySqlPool, run: u64) -> Result<Totals, sqlx::Error> {
    let rows: Vec<TotalsRow> = sqlx::query_as(
        "SELECT task_index, read_ok, read_ok_bytes, read_failed, write_failed, written, \
         transfer_started, transfer_ended, log, error FROM exec_range \
         WHERE exec_log_id = ? ORDER BY task_index",
    )
    .bind(run)
    .fetch_all(pool)
    .await?;
    let mut counts = Counts::default();
    let mut first: Option<NaiveDateTime> = None;
    let mut last: Option<NaiveDateTime> = None;
    let mut logs = Vec::with_capacity(rows.len());
    for row in rows {
        counts = counts.plus(Counts {
            read_ok: row.1,
            read_ok_bytes: row.2,
            read_failed: row.3,
            write_failed: row.4,
            written: row.5,
        });
        if let Some(start) = row.6 {
            first = Some(first.map_or(start, |f| f.min(start)));
        }
        if let Some(end) = row.7 {
            last = Some(last.map_or(end, |l| l.max(end)));
        }
        logs.push((row.0, row.8.unwrap_or_default(), row.9));
    }
    Ok(Totals {
        counts,
        transfer: first.zip(last),
        logs,
    })
}
