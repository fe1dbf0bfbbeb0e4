//! Wiring only: settings, pool and S3 client once per execution environment, then the
//! handler in [`import::handler`].

use common::{aws, config::Settings, db::Database, metrics, telemetry};
use import::{handler::ImportDeps, settings::ImportSettings};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let sdk = aws::sdk_config().await;
    let database = Database::lazy(&settings.database, &sdk).await?;
    let deps = ImportDeps {
        database,
        s3: aws::s3_client(&sdk, settings.aws_endpoint_url.as_deref()),
        settings: ImportSettings::from_env(settings.business_time_zone)?,
        spool_dir: std::env::temp_dir(),
    };
    metrics::run(service_fn(|event: LambdaEvent<Value>| {
        import::handler::handle(event.payload, &deps)
    }))
    .await
}
