//! Wiring only: see the library for what `ad-api` does.

use ad_api::{AdSettings, AppState, router};
use common::{
    aws,
    config::Settings,
    db::Database,
    http::auth,
    secrets::{Secret, SecretSource},
    telemetry,
};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let sdk = aws::sdk_config().await;
    let database = Database::lazy(&settings.database, &sdk).await?;
    let salt = SecretSource::from_env(
        "AD_VISITOR_SALT_SECRET_ARN",
        Some("salt"),
        "AD_VISITOR_SALT",
    )?;
    let salt = Secret::new(salt, &sdk).get().await?.value;
    let ad_settings = AdSettings::from_env(salt)?;
    let sqs = aws::sqs_client(&sdk, settings.aws_endpoint_url.as_deref());
    let state = AppState::new(database.pool().clone(), ad_settings, sqs);
    // A bad API_TOKEN_CACHE_SECS stops the init phase with the variable's name.
    let tokens = auth::Tokens::from_env(state.pool.clone())?;
    let app = common::http::renew_credentials(router(state, tokens), database);
    common::http::serve(app).await
}
