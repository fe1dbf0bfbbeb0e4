//! Wiring only: see the library for what `cctv-api` does.

use cctv_api::{AppState, CctvSettings, router};
use common::{config::Settings, db, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let state = AppState {
        pool: db::lazy_pool(&settings.database),
        settings: CctvSettings::from_env()?,
    };
    common::http::serve(router(state)).await
}
