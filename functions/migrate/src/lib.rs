//! The `migrate` function: applies the embedded migrations ([`common::db::MIGRATOR`]).
//!
//! Invoked once per deploy (any payload). Applying is idempotent: migrations already
//! recorded in `_sqlx_migrations` are skipped, so a second invocation changes nothing.

use common::{db::MIGRATOR, error::FunctionError};
use serde_json::{Value, json};
use sqlx::MySqlPool;

/// Applies every pending migration and answers with the versions now applied.
///
/// # Errors
/// [`FunctionError::Retryable`] when the database is unreachable or a migration fails.
pub async fn apply(pool: &MySqlPool) -> Result<Value, FunctionError> {
    MIGRATOR.run(pool).await.map_err(FunctionError::retryable)?;
    let applied: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version",
    )
    .fetch_all(pool)
    .await
    .map_err(FunctionError::retryable)?;
    tracing::info!(applied = applied.len(), latest = ?applied.last(), "migrations applied");
    Ok(json!({ "applied": applied }))
}
