//! Wiring only: see the library for what `sync-worker` does.

use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use common::{
    aws,
    config::Settings,
    db::Database,
    job::Deadline,
    metrics,
    secrets::{Secret, SecretSource},
    telemetry,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sync_engine::vault::PasswordCipher;
use sync_worker::{Worker, WorkerSettings};

// The engine allocates a value per cell it copies; see the workspace's mimalloc entry.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        sqs: aws::sqs_client(&sdk, settings.aws_endpoint_url.as_deref()),
        cipher: PasswordCipher::from_key_text(&key)?,
        settings: WorkerSettings::from_env()?,
    };
    let worker = &worker;
    metrics::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        // The invocation's deadline as a tokio instant, read by the job kit's rule (which
        // also takes `cargo lambda watch`'s constant budget header for what it is, not an
        // instant in 1970 that would stop every run before its first batch).
        let deadline = Deadline::from_context_with_margin(&event.context, Duration::ZERO)
            .instant()
            .map_or_else(
                || tokio::time::Instant::now() + Duration::from_secs(900),
                tokio::time::Instant::from_std,
            );
        Ok::<_, Error>(worker.handle(event.payload, deadline).await)
    }))
    .await
}
