//! Wiring only: see the library for what `course-stats` does.

use common::{aws, config::Settings, db::Database, job, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    // A bad DATE_WINDOW_FROM / DATE_WINDOW_TO stops the init phase with its name.
    common::instant::DateWindow::from_env()?;
    let database = Database::lazy(&settings.database, &aws::sdk_config().await).await?;
    let zone = settings.business_time_zone;
    job::serve(database, |pool, payload, deadline| async move {
        course_stats::handle(&pool, payload, chrono::Utc::now(), zone, deadline).await
    })
    .await
}
