//! Wiring only: see the library for what `course-stats` does.

use common::{config::Settings, db, telemetry};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let pool = db::lazy_pool(&settings.database);
    let zone = settings.business_time_zone;
    run(service_fn(|event: LambdaEvent<Value>| {
        let pool = &pool;
        async move { course_stats::handle(pool, event.payload, chrono::Utc::now(), zone).await }
    }))
    .await
}
