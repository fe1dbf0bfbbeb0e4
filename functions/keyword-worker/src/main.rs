//! Wiring only: see the library for what `keyword-worker` does.

use aws_lambda_events::sqs::SqsEvent;
use std::time::Duration;

use common::{
    aws,
    config::Settings,
    db::Database,
    job::Deadline,
    metrics,
    secrets::{Secret, SecretSource},
    telemetry,
};
use keyword_worker::{Classifier, Worker, WorkerSettings, hcx::HcxClient, settings::hcx_from_env};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use secrecy::ExposeSecret;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    // Messages in flight mostly wait for HCX; they share DB_MAX_CONNECTIONS connections.
    let worker_settings = WorkerSettings::from_env()?;
    let sdk = aws::sdk_config().await;
    let database = Database::lazy(&settings.database, &sdk).await?;
    // The HCX key: Secrets Manager in AWS, the environment locally; none configured means
    // the built-in classifier.
    let source = SecretSource::from_env(
        "KEYWORD_HCX_API_KEY_SECRET_ARN",
        Some("api_key"),
        "KEYWORD_HCX_API_KEY",
    )?;
    let configured = match &source {
        SecretSource::SecretsManager { .. } => true,
        SecretSource::Env { var } => std::env::var(var).is_ok_and(|v| !v.trim().is_empty()),
    };
    let classifier = if configured {
        let key = Secret::new(source, &sdk).get().await?.value;
        let key = secrecy::SecretString::from(key.expose_secret().trim().to_owned());
        Classifier::Hcx(HcxClient::new(hcx_from_env(key)?)?)
    } else {
        tracing::info!("no HCX API key configured: the built-in classifier answers");
        Classifier::Builtin
    };
    let worker = Worker {
        pool: database.pool().clone(),
        classifier,
        settings: worker_settings,
    };
    let worker = &worker;
    metrics::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        // Keep 30 s to finish the question in flight (an HCX request and its retries are
        // bounded by KEYWORD_HCX_TIMEOUT_SECS) and answer.
        let deadline = Deadline::from_context_with_margin(&event.context, Duration::from_secs(30));
        Ok::<_, Error>(worker.handle(event.payload, deadline).await)
    }))
    .await
}
