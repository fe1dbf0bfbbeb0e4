//! The `migrate` function: applies the embedded migrations ([`common::db::MIGRATOR`]).
//!
//! Two ways in:
//! - **Every deploy**: the template's `DatabaseMigrations` custom resource invokes it with a
//!   CloudFormation request, and every other function waits for its answer, so new code is
//!   deployed only after the migrations are applied ([`custom_resource`]).
//! - **By hand** (any other payload): applies them and answers the versions now applied.
//!
//! Applying is idempotent: migrations already recorded in `_sqlx_migrations` are skipped,
//! so a second invocation changes nothing.

pub mod custom_resource;

use std::{future::Future, time::Duration};

use common::{db::MIGRATOR, error::FunctionError, job::Deadline};
use serde_json::{Value, json};
use sqlx::MySqlPool;

pub use custom_resource::Responder;

/// What an invocation keeps in hand, before Lambda's deadline, to deliver its answer to
/// CloudFormation (three PUT attempts of at most 15 s, with pauses).
pub const ANSWER_MARGIN: Duration = Duration::from_secs(60);

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

/// The deadline for the migrations of an invocation: Lambda's, minus [`ANSWER_MARGIN`].
pub fn deadline(context: &lambda_runtime::Context) -> Deadline {
    Deadline::from_context_with_margin(context, ANSWER_MARGIN)
}

/// One invocation: a CloudFormation custom-resource request is answered (see
/// [`custom_resource`]); any other payload runs `migrate` and answers its result.
///
/// `migrate` is the work (normally [`apply`] on the function's pool), passed in so that a
/// pool that cannot be built still gets a FAILED answer to CloudFormation.
///
/// # Errors
/// A plain invocation: `migrate`'s error. A custom-resource request: only an answer that
/// could not be delivered, or a request without a usable `ResponseURL`.
pub async fn handle<F, Fut>(
    payload: Value,
    deadline: Deadline,
    responder: &Responder,
    migrate: F,
) -> Result<Value, FunctionError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Value, FunctionError>>,
{
    match custom_resource::Request::from_payload(&payload) {
        Some(request) => custom_resource::answer(request?, deadline, responder, migrate).await,
        None => migrate().await,
    }
}
