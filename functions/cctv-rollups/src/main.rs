//! Wiring only: see the library for what `cctv-rollups` does.

use common::{aws, config::Settings, db::Database, job, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let zone = cctv_rollups::time_zone_from_env()?;
    // A bad DATE_WINDOW_FROM / DATE_WINDOW_TO stops the init phase with its name.
    common::instant::DateWindow::from_env()?;
    let database = Database::lazy(&settings.database, &aws::sdk_config().await).await?;
    job::serve(database, |pool, payload, deadline| async move {
        cctv_rollups::handle(&pool, payload, chrono::Utc::now(), zone, deadline).await
    })
    .await
}
