//! Wiring only: see the library for what `cleanup` does.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cleanup::CleanupSettings;
use common::{config::Settings, db, telemetry};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let cleanup_settings = CleanupSettings::from_env()?;
    let pool = db::lazy_pool(&settings.database);
    let zone = settings.business_time_zone;
    run(service_fn(|event: LambdaEvent<Value>| {
        let pool = &pool;
        let cleanup_settings = &cleanup_settings;
        let deadline = deadline_of(event.context.deadline);
        async move {
            cleanup::handle(
                pool,
                event.payload,
                chrono::Utc::now(),
                zone,
                cleanup_settings,
                deadline,
            )
            .await
        }
    }))
    .await
}

/// The invocation's deadline (milliseconds since the epoch) as an `Instant`.
fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis();
    let left = u64::try_from(u128::from(deadline_ms).checked_sub(now_ms)?).ok()?;
    Some(Instant::now() + Duration::from_millis(left))
}
