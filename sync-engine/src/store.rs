//! The platform's own sync tables as both sync functions use them: a saved datasource
//! turned into an [`Endpoint`] (its password decrypted), and a run's `exec_log` row queued,
//! claimed and finished. SQL runs on MySQL 8.0 and MariaDB 10.11.

use std::str::FromStr;

use chrono::{NaiveDateTime, Utc};
use secrecy::SecretString;
use sqlx::MySqlPool;

use crate::{
    endpoint::{DbKind, Endpoint},
    vault::{PasswordCipher, VaultError},
};

/// Why a stored row could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("datasource {id}: its password does not decrypt with the current key ({source})")]
    Password {
        id: u64,
        #[source]
        source: VaultError,
    },
    #[error("datasource {id}: {reason}")]
    Corrupt { id: u64, reason: String },
}

/// The endpoint of saved datasource `id`, or `None` when there is no such datasource.
pub async fn datasource_endpoint(
    pool: &MySqlPool,
    cipher: &PasswordCipher,
    id: u64,
) -> Result<Option<Endpoint>, StoreError> {
    let row: Option<(String, String, u16, String, String, Vec<u8>)> = sqlx::query_as(
        "SELECT db_type, host, port, db_name, username, password FROM datasource WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some((db_type, host, port, database, username, password)) = row else {
        return Ok(None);
    };
    let kind = DbKind::from_str(&db_type).map_err(|reason| StoreError::Corrupt { id, reason })?;
    let password: SecretString = cipher
        .decrypt(&password)
        .map_err(|source| StoreError::Password { id, source })?;
    Ok(Some(Endpoint {
        kind,
        host,
        port,
        database,
        username,
        password,
    }))
}

/// A run's states.
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const SUCCEEDED: &str = "succeeded";
    pub const FAILED: &str = "failed";
    pub const STOPPED: &str = "stopped";
}

/// What claiming a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This invocation runs it: the config id.
    Won { config_id: u64 },
    /// Another delivery has it or had it: its status, and whether it was planned into
    /// ranges (a planned run is running for as long as its ranges take).
    Taken { status: String, planned: bool },
    /// No such run.
    Missing,
}

/// Claims run `id` if it is still queued (one UPDATE, so two deliveries cannot both win).
/// A run left `running` for longer than `stale_secs` (its worker died: a crash or the
/// function's time-out) before its plan was stored is marked failed instead of being
/// planned again, since its `preSql` may have run.
pub async fn claim_run(pool: &MySqlPool, id: u64, stale_secs: u64) -> Result<Claim, sqlx::Error> {
    let now = Utc::now().naive_utc();
    let won = sqlx::query(
        "UPDATE exec_log SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'",
    )
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected()
        == 1;
    let row: Option<(u64, String, Option<NaiveDateTime>, u32)> =
        sqlx::query_as("SELECT config_id, status, started_at, ranges FROM exec_log WHERE id = ?")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let Some((config_id, status, started_at, ranges)) = row else {
        return Ok(Claim::Missing);
    };
    if won {
        return Ok(Claim::Won { config_id });
    }
    let planned = ranges > 0;
    let stale = status == status::RUNNING
        && !planned
        && started_at.is_some_and(|t| (now - t).num_seconds() > stale_secs as i64);
    if stale {
        sqlx::query(
            "UPDATE exec_log SET status = 'failed', finished_at = ?, \
             error = 'the worker planning this run stopped without finishing (a crash or the function time-out); it is not planned again automatically, since its preSql may have run' \
             WHERE id = ? AND status = 'running' AND ranges = 0",
        )
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?;
        return Ok(Claim::Taken {
            status: status::FAILED.into(),
            planned,
        });
    }
    Ok(Claim::Taken { status, planned })
}

/// The end of a run, as `exec_log` keeps it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: &'static str,
    pub exec_result: String,
    pub summary: serde_json::Value,
    pub records_read: u64,
    pub records_written: u64,
    pub records_failed: u64,
    pub bytes_read: u64,
    pub log_lines: u64,
    pub log_key: Option<String>,
    pub error: Option<String>,
}

/// Records the end of run `id` (only while it is `running`: a run is finished once).
pub async fn finish_run(pool: &MySqlPool, id: u64, end: &Finished) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE exec_log SET status = ?, exec_result = ?, summary = ?, records_read = ?, \
         records_written = ?, records_failed = ?, bytes_read = ?, log_lines = ?, log_key = ?, \
         error = ?, finished_at = ? WHERE id = ? AND status = 'running'",
    )
    .bind(end.status)
    .bind(&end.exec_result)
    .bind(&end.summary)
    .bind(end.records_read)
    .bind(end.records_written)
    .bind(end.records_failed)
    .bind(end.bytes_read)
    .bind(end.log_lines)
    .bind(&end.log_key)
    .bind(&end.error)
    .bind(Utc::now().naive_utc())
    .bind(id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
