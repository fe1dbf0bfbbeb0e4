//! Wiring only: see the library for what `cctv-api` does.

use cctv_api::{AppState, CctvSettings, router_with_tokens};
use common::{aws, config::Settings, db::Database, http::auth, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let database = Database::lazy(&settings.database, &aws::sdk_config().await).await?;
    let state = AppState {
        pool: database.pool().clone(),
        settings: CctvSettings::from_env()?,
    };
    // A bad API_TOKEN_CACHE_SECS stops the init phase with the variable's name.
    let tokens = auth::Tokens::from_env(state.pool.clone())?;
    let app = common::http::renew_credentials(router_with_tokens(state, tokens), database);
    common::http::serve(app).await
}
