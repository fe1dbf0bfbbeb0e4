//! Wiring only: see the library for what `migrate` does.

use common::{config::Settings, db, telemetry};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let pool = db::lazy_pool(&settings.database);
    run(service_fn(|_event: LambdaEvent<Value>| {
        migrate::apply(&pool)
    }))
    .await
}
