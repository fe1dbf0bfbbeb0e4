//! Wiring only: see the library for what `ad-archive` does.

use common::{aws, config::Settings, db::Database, job, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let zone = common::ads::time_zone_from_env()?;
    let ledger_days = common::ads::ledger_days_from_env()?;
    common::instant::DateWindow::from_env()?;
    let database = Database::lazy(&settings.database, &aws::sdk_config().await).await?;
    job::serve(database, move |pool, payload, deadline| async move {
        ad_archive::handle(
            &pool,
            payload,
            chrono::Utc::now(),
            zone,
            ledger_days,
            deadline,
        )
        .await
    })
    .await
}
