//! Wiring only: see the library for what `keyword-batch` does.

use common::{
    aws,
    config::{ConfigError, Settings, env_opt},
    db::Database,
    job,
    sqs::Producer,
    telemetry,
};
use keyword_batch::BatchSettings;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let mut batch = BatchSettings::from_env()?;
    common::instant::DateWindow::from_env()?;
    let queue_url: String = env_opt("KEYWORD_QUEUE_URL")?.ok_or(ConfigError::Missing {
        name: "KEYWORD_QUEUE_URL",
        hint: "the work queue keyword-worker reads",
    })?;
    // A streaming read and a writer per date in flight: the pool (DB_MAX_CONNECTIONS, which
    // the stack's connection budget counts) bounds how many dates run at once.
    let by_pool = usize::try_from(settings.database.max_connections / 2)
        .unwrap_or(1)
        .max(1);
    if batch.date_concurrency > by_pool {
        tracing::info!(
            configured = batch.date_concurrency,
            used = by_pool,
            "KEYWORD_DATE_CONCURRENCY capped by DB_MAX_CONNECTIONS / 2"
        );
        batch.date_concurrency = by_pool;
    }
    let sdk = aws::sdk_config().await;
    let database = Database::lazy(&settings.database, &sdk).await?;
    let mut producer = Producer::new(
        aws::sqs_client(&sdk, settings.aws_endpoint_url.as_deref()),
        queue_url,
    );
    producer.in_flight = batch.send_in_flight;
    let (producer, batch) = (&producer, &batch);
    job::serve(database, move |pool, payload, deadline| async move {
        keyword_batch::handle(
            &pool,
            producer,
            batch,
            payload,
            chrono::Utc::now(),
            deadline,
        )
        .await
    })
    .await
}
