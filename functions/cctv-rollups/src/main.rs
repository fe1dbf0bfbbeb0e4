//! Wiring only: see the library for what `cctv-rollups` does.

use common::{config::Settings, db, telemetry};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let pool = db::lazy_pool(&settings.database);
    let zone = cctv_rollups::time_zone_from_env()?;
    run(service_fn(|event: LambdaEvent<Value>| {
        let pool = &pool;
        async move { cctv_rollups::handle(pool, event.payload, chrono::Utc::now(), zone).await }
    }))
    .await
}
