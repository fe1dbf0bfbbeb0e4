//! Wiring only: see the library for what `ad-counter-worker` does.

use ad_counter_worker::{FoldSettings, handle};
use aws_lambda_events::sqs::SqsEvent;
use common::{aws, config::Settings, db::Database, metrics, telemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let fold = FoldSettings::from_env()?;
    let database = Database::lazy(&settings.database, &aws::sdk_config().await).await?;
    let pool = database.pool().clone();
    metrics::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let pool = pool.clone();
        let fold = fold.clone();
        async move { Ok::<_, Error>(handle(&pool, event.payload, &fold).await) }
    }))
    .await
}
