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
    let mut settings = Settings::from_env()?;
    let batch = BatchSettings::from_env()?;
    common::instant::DateWindow::from_env()?;
    let queue_url: String = env_opt("KEYWORD_QUEUE_URL")?.ok_or(ConfigError::Missing {
        name: "KEYWORD_QUEUE_URL",
        hint: "the work queue keyword-worker reads",
    })?;
    // A streaming read and a writer per date in flight.
    settings.database.max_connections = settings.database.max_connections.max(batch.connections());
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
