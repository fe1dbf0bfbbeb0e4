//! Wiring only: see the library for what `migrate` does.

use common::{aws, config::Settings, db::Database, error::FunctionError, metrics, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let sdk = aws::sdk_config().await;
    // The pool is built on the first invocation, and again on the next one if that failed:
    // a settings or secret error must not fail the init phase (CloudFormation would then
    // wait for an answer that never comes), nor stick to the execution environment (the
    // secret's endpoint may not have been reachable yet).
    let database = tokio::sync::OnceCell::<Database>::new();
    let connect = || async {
        let settings = Settings::from_env().map_err(|e| format!("settings: {e}"))?;
        Database::lazy(&settings.database, &sdk)
            .await
            .map_err(|e| format!("database credentials: {e}"))
    };
    let responder = migrate::Responder::new()?;
    metrics::run(service_fn(|event: LambdaEvent<Value>| {
        let database = &database;
        let connect = &connect;
        let responder = &responder;
        let deadline = migrate::deadline(&event.context);
        async move {
            migrate::handle(event.payload, deadline, responder, || async move {
                let database = database.get_or_try_init(connect).await.map_err(|error| {
                    tracing::error!(%error, "cannot build the database pool");
                    FunctionError::retryable(error)
                })?;
                // After a password rotation (MySQL 1045): re-read the secret, once.
                database
                    .retry_once_on_auth_failure(|| migrate::apply(database.pool()))
                    .await
            })
            .await
        }
    }))
    .await
}
