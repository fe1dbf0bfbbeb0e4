//! The worker's reads and writes: the question's keyword row, the cache of earlier days,
//! and the work ledger.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use common::chat::{QuestionHash, WorkItem, status};
use sqlx::{MySqlPool, Row};

use crate::classification::Classification;

/// Who answered, stored with every row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub provider: String,
    pub model: String,
    pub prompt_version: String,
}

/// What is stored for a question.
#[derive(Debug, Clone)]
pub enum Stored {
    /// Its category and keywords; `cached_from` when reused from an earlier day's row.
    Classified {
        classification: Classification,
        cached_from: Option<NaiveDate>,
    },
    /// The model's answer was not the JSON asked for: kept for review.
    Invalid { answer: String },
}

/// True when the question already has its row for its date.
///
/// # Errors
/// The database error.
pub async fn exists(pool: &MySqlPool, item: &WorkItem) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 FROM admin_chat_keywords WHERE created_at = ? AND query_hash = ?")
            .bind(item.date)
            .bind(item.hash.0.as_slice())
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

/// True when the ledger says the question was refused for good (not by the dead-letter
/// rule, which a redrive may overcome): a duplicate delivery of its message does not ask
/// again.
///
/// # Errors
/// The database error.
pub async fn refused(pool: &MySqlPool, item: &WorkItem) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT 1 FROM keyword_work WHERE chat_date = ? AND query_hash = ? \
         AND status = 'failed' AND reason NOT LIKE 'dead\\_letter:%'",
    )
    .bind(item.date)
    .bind(item.hash.0.as_slice())
    .fetch_optional(pool)
    .await?
    .is_some())
}

/// The newest valid result for the same question on another day by the same classifier
/// version, if any: the question is answered from it instead of a new API call.
///
/// # Errors
/// The database error, or a stored `keywords` value that is not a JSON array of strings.
pub async fn cached(
    pool: &MySqlPool,
    hash: &QuestionHash,
    by: &Provenance,
) -> Result<Option<(Classification, NaiveDate)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT category, CAST(keywords AS CHAR) AS keywords, created_at FROM admin_chat_keywords \
         WHERE query_hash = ? AND status = 'ok' AND provider = ? AND model = ? AND prompt_version = ? \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(hash.0.as_slice())
    .bind(&by.provider)
    .bind(&by.model)
    .bind(&by.prompt_version)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let category: Option<String> = row.try_get("category")?;
    let keywords: String = row.try_get("keywords")?;
    let keywords: Vec<String> =
        serde_json::from_str(&keywords).map_err(|e| sqlx::Error::ColumnDecode {
            index: "keywords".into(),
            source: e.into(),
        })?;
    let date: NaiveDate = row.try_get("created_at")?;
    Ok(Some((
        Classification {
            category: category.unwrap_or_else(|| crate::classification::OTHER.into()),
            keywords,
        },
        date,
    )))
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Stores the question's row and marks its ledger row done, in one transaction. A row that
/// another worker stored meanwhile is left as it is (the unique key on date and hash): the
/// answer is then false.
///
/// # Errors
/// The database error (nothing is stored).
pub async fn store(
    pool: &MySqlPool,
    item: &WorkItem,
    stored: &Stored,
    by: &Provenance,
) -> Result<bool, sqlx::Error> {
    let (category, keywords, row_status, answer, cached_from, reason) = match stored {
        Stored::Classified {
            classification,
            cached_from,
        } => (
            Some(classification.category.as_str()),
            serde_json::to_string(&classification.keywords).unwrap_or_else(|_| "[]".into()),
            "ok",
            None,
            *cached_from,
            None,
        ),
        Stored::Invalid { answer } => (
            None,
            "[]".to_owned(),
            "invalid",
            Some(answer.as_str()),
            None,
            Some("invalid_answer: kept in admin_chat_keywords.model_answer"),
        ),
    };
    let now = now();
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO admin_chat_keywords (query_text, query_hash, category, keywords, total_count, \
         status, model_answer, provider, model, prompt_version, cached_from, created_at, classified_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE id = id",
    )
    .bind(&item.text)
    .bind(item.hash.0.as_slice())
    .bind(category)
    .bind(&keywords)
    .bind(item.total_count)
    .bind(row_status)
    .bind(answer)
    .bind(&by.provider)
    .bind(&by.model)
    .bind(&by.prompt_version)
    .bind(cached_from)
    .bind(item.date)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    sqlx::query(
        "UPDATE keyword_work SET status = ?, attempts = attempts + 1, reason = ?, updated_at = ? \
         WHERE chat_date = ? AND query_hash = ?",
    )
    .bind(status::DONE)
    .bind(reason)
    .bind(now)
    .bind(item.date)
    .bind(item.hash.0.as_slice())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Marks a question that already has its row as done in the ledger (a redelivery, or a
/// second send).
///
/// # Errors
/// The database error.
pub async fn mark_done(pool: &MySqlPool, item: &WorkItem) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE keyword_work SET status = ?, updated_at = ? \
         WHERE chat_date = ? AND query_hash = ? AND status <> ?",
    )
    .bind(status::DONE)
    .bind(now())
    .bind(item.date)
    .bind(item.hash.0.as_slice())
    .bind(status::DONE)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records an attempt that failed: `failed` for good with the reason, or still `queued`
/// with the reason of the last attempt (it is retried).
///
/// # Errors
/// The database error.
pub async fn record_failure(
    pool: &MySqlPool,
    item: &WorkItem,
    reason: &str,
    for_good: bool,
) -> Result<(), sqlx::Error> {
    let reason: String = reason.chars().take(500).collect();
    sqlx::query(
        "UPDATE keyword_work SET status = IF(? AND status <> 'done', 'failed', status), \
         attempts = attempts + 1, reason = ?, updated_at = ? \
         WHERE chat_date = ? AND query_hash = ?",
    )
    .bind(for_good)
    .bind(reason)
    .bind(now())
    .bind(item.date)
    .bind(item.hash.0.as_slice())
    .execute(pool)
    .await?;
    Ok(())
}
