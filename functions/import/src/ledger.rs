//! The `import_file` ledger: one row per object version (bucket, key, ETag).
//!
//! Its status is the idempotency key of the import. `completed` is written in the same
//! transaction as the file's rows, so it is true exactly when the rows are there; a crash
//! before the commit leaves `processing` and no rows, and the retry starts over.

use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};
use sqlx::{MySqlConnection, MySqlPool};

use crate::report::ImportReport;

/// Identifies the object version being imported.
#[derive(Debug, Clone)]
pub struct Source {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: Option<u64>,
}

impl Source {
    fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        for part in [&self.bucket, &self.key, &self.etag] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        hex::encode(hasher.finalize())
    }
}

/// The ledger row's state (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Processing,
    Completed,
    Failed,
}

impl Status {
    fn parse(text: &str) -> Self {
        match text {
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            _ => Self::Processing,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

/// What the ledger remembers of an object version, for answering a redelivered event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub id: u64,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub inserted: u64,
    pub already_present: u64,
    pub rejected: u64,
    pub error: Option<String>,
    pub moved_to: Option<String>,
    pub report_key: Option<String>,
}

impl From<String> for Status {
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
}

/// Records a delivery of `source` and returns its ledger id and status.
///
/// # Errors
/// The database error.
pub async fn register(
    pool: &MySqlPool,
    source: &Source,
    log_date: Option<NaiveDate>,
) -> Result<(u64, Status), sqlx::Error> {
    let hash = source.hash();
    sqlx::query(
        "INSERT INTO import_file (source_hash, bucket, object_key, etag, size_bytes, log_date, status, deliveries, first_seen_at)
         VALUES (?, ?, ?, ?, ?, ?, 'processing', 1, ?)
         ON DUPLICATE KEY UPDATE deliveries = deliveries + 1",
    )
    .bind(&hash)
    .bind(&source.bucket)
    .bind(&source.key)
    .bind(&source.etag)
    .bind(source.size)
    .bind(log_date)
    .bind(Utc::now().naive_utc())
    .execute(pool)
    .await?;
    let (id, status): (u64, String) =
        sqlx::query_as("SELECT id, status FROM import_file WHERE source_hash = ?")
            .bind(&hash)
            .fetch_one(pool)
            .await?;
    Ok((id, Status::parse(&status)))
}

/// The ledger row of `source`, if it was ever delivered.
///
/// # Errors
/// The database error.
pub async fn find(pool: &MySqlPool, source: &Source) -> Result<Option<Entry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, status, inserted, already_present, rejected, error, moved_to, report_key
         FROM import_file WHERE source_hash = ?",
    )
    .bind(source.hash())
    .fetch_optional(pool)
    .await
}

/// Counts an attempt (committed on its own, so it survives a rolled-back import).
///
/// # Errors
/// The database error.
pub async fn start_attempt(pool: &MySqlPool, id: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE import_file SET attempts = attempts + 1, started_at = ?, error = NULL,
         status = CASE WHEN status = 'completed' THEN status ELSE 'processing' END WHERE id = ?",
    )
    .bind(Utc::now().naive_utc())
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Locks the ledger row for the import transaction; a concurrent delivery of the same
/// object waits here and then sees `completed`.
///
/// # Errors
/// The database error.
pub async fn lock(conn: &mut MySqlConnection, id: u64) -> Result<Status, sqlx::Error> {
    let status: String =
        sqlx::query_scalar("SELECT status FROM import_file WHERE id = ? FOR UPDATE")
            .bind(id)
            .fetch_one(conn)
            .await?;
    Ok(Status::parse(&status))
}

/// Marks the import completed, inside the import transaction.
///
/// # Errors
/// The database error.
pub async fn complete(
    conn: &mut MySqlConnection,
    id: u64,
    report: &ImportReport,
) -> Result<(), sqlx::Error> {
    finish(conn, id, Status::Completed, report).await
}

/// Marks the import failed (outside any import transaction: the rows were rolled back).
///
/// # Errors
/// The database error.
pub async fn fail(pool: &MySqlPool, id: u64, report: &ImportReport) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    finish(&mut conn, id, Status::Failed, report).await
}

async fn finish(
    conn: &mut MySqlConnection,
    id: u64,
    status: Status,
    report: &ImportReport,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE import_file SET status = ?, entries = ?, skipped_entries = ?, statements_read = ?, inserted = ?,
         already_present = ?, duplicates_in_file = ?, rejected = ?, lost = ?, discarded = ?, rows_written = ?,
         error = ?, finished_at = ?, duration_ms = ? WHERE id = ?",
    )
    .bind(status.as_str())
    .bind(report.entries)
    .bind(report.skipped_entries.len() as u64)
    .bind(report.statements_read)
    .bind(report.inserted)
    .bind(report.already_present)
    .bind(report.duplicates_in_file)
    .bind(report.rejected)
    .bind(report.lost)
    .bind(report.discarded)
    .bind(report.rows_written)
    .bind(&report.error)
    .bind(Utc::now().naive_utc())
    .bind(report.duration_ms)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records where the object and its report went.
///
/// # Errors
/// The database error.
pub async fn record_move(
    pool: &MySqlPool,
    id: u64,
    moved_to: Option<&str>,
    report_key: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE import_file SET moved_to = COALESCE(?, moved_to), report_key = COALESCE(?, report_key) WHERE id = ?")
        .bind(moved_to)
        .bind(report_key)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
