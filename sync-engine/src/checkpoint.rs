//! The checkpoint table a range keeps in its target database (`datax_sync_checkpoint`),
//! with the datasource owner's consent: one row per (run, task), updated in the same
//! transaction as each batch the range writes. After a worker dies midway, the row says
//! exactly which rows the target holds (the last key committed and the counts up to it),
//! so the next worker resumes there and `writeMode: insert` writes every row once.
//!
//! The row also holds the lease of the invocation that owns the range (a fencing token):
//! an invocation taking a range over writes its lease first, and every batch's
//! transaction locks the row and checks the lease before writing, so a worker that was
//! presumed dead but still runs cannot commit another row once it has been replaced.
//!
//! The statements run on MySQL 8.0, MariaDB 10.11 and PostgreSQL: plain `BIGINT`/`VARCHAR`
//! columns, and the upsert in each dialect.

use crate::{endpoint::Conn, summary::Counts};

/// The table's name in the target's database (PostgreSQL: the session's schema).
pub const TABLE: &str = "datax_sync_checkpoint";

/// The statement that creates the table when it is missing.
pub fn create_sql() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (\
         run_token VARCHAR(64) NOT NULL, \
         task_index INT NOT NULL, \
         lease VARCHAR(64) NULL, \
         last_key BIGINT NULL, \
         read_ok BIGINT NOT NULL, \
         read_ok_bytes BIGINT NOT NULL, \
         read_failed BIGINT NOT NULL, \
         write_failed BIGINT NOT NULL, \
         written BIGINT NOT NULL, \
         PRIMARY KEY (run_token, task_index))"
    )
}

/// Which checkpoint row a task writes, and the counts of its earlier invocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCheckpoint {
    pub run_token: String,
    pub task_index: usize,
    /// The owning invocation's lease.
    pub lease: String,
    /// What the range had done before this invocation (added to this invocation's counts).
    pub base: Counts,
}

/// A checkpoint as stored: the last key committed (`None`: no key yet, or a task without
/// one) and the counts up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub last_key: Option<i64>,
    pub counts: Counts,
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn as_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Makes `checkpoint.lease` the row's owner (creating the row when the range has none)
/// and answers what the row holds: from here on, only this invocation can commit.
pub async fn fence(
    conn: &mut Conn,
    checkpoint: &TargetCheckpoint,
) -> Result<Option<Stored>, sqlx::Error> {
    let task = task_of(checkpoint);
    let columns = "(run_token, task_index, lease, last_key, read_ok, read_ok_bytes, read_failed, write_failed, written)";
    match conn {
        Conn::Mysql(c) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {TABLE} {columns} VALUES (?, ?, ?, NULL, 0, 0, 0, 0, 0) \
             ON DUPLICATE KEY UPDATE lease = VALUES(lease)"
        )))
        .bind(&checkpoint.run_token)
        .bind(task)
        .bind(&checkpoint.lease)
        .execute(&mut *c)
        .await
        .map(drop)?,
        Conn::Postgresql(c) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {TABLE} {columns} VALUES ($1, $2, $3, NULL, 0, 0, 0, 0, 0) \
             ON CONFLICT (run_token, task_index) DO UPDATE SET lease = EXCLUDED.lease"
        )))
        .bind(&checkpoint.run_token)
        .bind(task)
        .bind(&checkpoint.lease)
        .execute(&mut *c)
        .await
        .map(drop)?,
    }
    read(conn, &checkpoint.run_token, checkpoint.task_index).await
}

fn task_of(checkpoint: &TargetCheckpoint) -> i32 {
    i32::try_from(checkpoint.task_index).unwrap_or(i32::MAX)
}

/// Locks the row for the caller's transaction and answers whether this invocation still
/// owns it.
pub async fn still_owned(
    conn: &mut Conn,
    checkpoint: &TargetCheckpoint,
) -> Result<bool, sqlx::Error> {
    let task = task_of(checkpoint);
    let lease: Option<Option<String>> = match conn {
        Conn::Mysql(c) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT lease FROM {TABLE} WHERE run_token = ? AND task_index = ? FOR UPDATE"
            )))
            .bind(&checkpoint.run_token)
            .bind(task)
            .fetch_optional(&mut *c)
            .await?
        }
        Conn::Postgresql(c) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT lease FROM {TABLE} WHERE run_token = $1 AND task_index = $2 FOR UPDATE"
            )))
            .bind(&checkpoint.run_token)
            .bind(task)
            .fetch_optional(&mut *c)
            .await?
        }
    };
    Ok(lease.flatten().as_deref() == Some(checkpoint.lease.as_str()))
}

/// Records the last key and the counts (inside the caller's transaction, after
/// [`still_owned`]).
pub async fn update(
    conn: &mut Conn,
    checkpoint: &TargetCheckpoint,
    last_key: Option<i64>,
    counts: Counts,
) -> Result<(), sqlx::Error> {
    let total = checkpoint.base.plus(counts);
    let task = task_of(checkpoint);
    let set = "last_key = COALESCE(?, last_key), read_ok = ?, read_ok_bytes = ?, read_failed = ?, write_failed = ?, written = ?";
    match conn {
        Conn::Mysql(c) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {TABLE} SET {set} WHERE run_token = ? AND task_index = ?"
        )))
        .bind(last_key)
        .bind(as_i64(total.read_ok))
        .bind(as_i64(total.read_ok_bytes))
        .bind(as_i64(total.read_failed))
        .bind(as_i64(total.write_failed))
        .bind(as_i64(total.written))
        .bind(&checkpoint.run_token)
        .bind(task)
        .execute(&mut *c)
        .await
        .map(drop),
        Conn::Postgresql(c) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {TABLE} SET last_key = COALESCE($1, last_key), read_ok = $2, \
                 read_ok_bytes = $3, read_failed = $4, write_failed = $5, written = $6 \
                 WHERE run_token = $7 AND task_index = $8"
        )))
        .bind(last_key)
        .bind(as_i64(total.read_ok))
        .bind(as_i64(total.read_ok_bytes))
        .bind(as_i64(total.read_failed))
        .bind(as_i64(total.write_failed))
        .bind(as_i64(total.written))
        .bind(&checkpoint.run_token)
        .bind(task)
        .execute(&mut *c)
        .await
        .map(drop),
    }
}

type Row = (Option<i64>, i64, i64, i64, i64, i64);

/// The stored checkpoint of `(run_token, task_index)`, if the range committed anything.
pub async fn read(
    conn: &mut Conn,
    run_token: &str,
    task_index: usize,
) -> Result<Option<Stored>, sqlx::Error> {
    let task = i32::try_from(task_index).unwrap_or(i32::MAX);
    let select = "SELECT last_key, read_ok, read_ok_bytes, read_failed, write_failed, written FROM";
    let row: Option<Row> = match conn {
        Conn::Mysql(c) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{select} {TABLE} WHERE run_token = ? AND task_index = ?"
            )))
            .bind(run_token)
            .bind(task)
            .fetch_optional(&mut *c)
            .await?
        }
        Conn::Postgresql(c) => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "{select} {TABLE} WHERE run_token = $1 AND task_index = $2"
            )))
            .bind(run_token)
            .bind(task)
            .fetch_optional(&mut *c)
            .await?
        }
    };
    Ok(row.map(
        |(last_key, read_ok, bytes, read_failed, write_failed, written)| Stored {
            last_key,
            counts: Counts {
                read_ok: as_u64(read_ok),
                read_ok_bytes: as_u64(bytes),
                read_failed: as_u64(read_failed),
                write_failed: as_u64(write_failed),
                written: as_u64(written),
            },
        },
    ))
}

/// Removes a finished run's rows.
pub async fn delete_run(conn: &mut Conn, run_token: &str) -> Result<u64, sqlx::Error> {
    match conn {
        Conn::Mysql(c) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {TABLE} WHERE run_token = ?"
        )))
        .bind(run_token)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()),
        Conn::Postgresql(c) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {TABLE} WHERE run_token = $1"
        )))
        .bind(run_token)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()),
    }
}
