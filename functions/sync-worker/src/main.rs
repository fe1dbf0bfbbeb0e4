//! Wiring only: see the library for what `sync-worker` does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::SqsEvent;
use common::{
    aws,
    config::Settings,
    db::Database,
    metrics,
    secrets::{Secret, SecretSource},
    telemetry,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sync_engine::vault::PasswordCipher;
use sync_worker::{Worker, WorkerSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let sdk = aws::sdk_config().await;
    let database = Database::lazy(&settings.database, &sdk).await?;
    let key = SecretSource::from_env(
        "SYNC_ENCRYPTION_KEY_SECRET_ARN",
        Some("key"),
        "SYNC_ENCRYPTION_KEY",
    )?;
    let key = Secret::new(key, &sdk).get().await?.value;
    let worker = Worker {
        pool: database.pool().clone(),
        s3: aws::s3_client(&sdk, settings.aws_endpoint_url.as_deref()),
        cipher: PasswordCipher::from_key_text(&key)?,
        settings: WorkerSettings::from_env()?,
    };
    let worker = &worker;
    metrics::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        // The invocation's deadline as a tokio instant: what is left of it from now.
        let deadline_ms = event.context.deadline;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        let deadline = tokio::time::Instant::now() + left;
        Ok::<_, Error>(worker.handle(event.payload, deadline).await)
    }))
    .await
}
