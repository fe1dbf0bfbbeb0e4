//! Wiring only: see the library for what `cleanup` does.

use cleanup::CleanupSettings;
use common::{aws, config::Settings, db::Database, job, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let cleanup_settings = CleanupSettings::from_env()?;
    let database = Database::lazy(&settings.database, &aws::sdk_config().await).await?;
    let zone = settings.business_time_zone;
    let cleanup_settings = &cleanup_settings;
    job::serve(database, |pool, payload, deadline| async move {
        // Boxed: inline, the purge loop's nested futures make the compiler's layout
        // computation of `main` overflow its query depth in release builds (README,
        // "Deploy build").
        Box::pin(cleanup::handle(
            &pool,
            payload,
            chrono::Utc::now(),
            zone,
            cleanup_settings,
            deadline,
        ))
        .await
    })
    .await
}
