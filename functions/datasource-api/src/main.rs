//! Wiring only: see the library for what `datasource-api` does.

use common::{
    aws,
    config::Settings,
    db::Database,
    http::auth,
    secrets::{Secret, SecretSource},
    telemetry,
};
use datasource_api::{
    AppState, ENCRYPTION_KEY_FIELD, ENCRYPTION_KEY_SECRET_ARN_VAR, ENCRYPTION_KEY_VAR,
    SyncSettings, router,
};
use sync_engine::vault::PasswordCipher;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init();
    let settings = Settings::from_env()?;
    let sync_settings = SyncSettings::from_env()?;
    let sdk = aws::sdk_config().await;
    let database = Database::lazy(&settings.database, &sdk).await?;
    let key = SecretSource::from_env(
        ENCRYPTION_KEY_SECRET_ARN_VAR,
        Some(ENCRYPTION_KEY_FIELD),
        ENCRYPTION_KEY_VAR,
    )?;
    let origin = key.origin();
    let key = Secret::new(key, &sdk).get().await?.value;
    // A bad key stops the init phase, naming where it came from (never the key).
    let cipher = PasswordCipher::from_key_text(&key).map_err(|e| format!("{origin}: {e}"))?;
    let endpoint = settings.aws_endpoint_url.as_deref();
    let state = AppState::new(
        database.pool().clone(),
        sync_settings,
        cipher,
        aws::s3_client(&sdk, endpoint),
        aws::sqs_client(&sdk, endpoint),
    );
    // A bad API_TOKEN_CACHE_SECS stops the init phase with the variable's name.
    let tokens = auth::Tokens::from_env(state.pool.clone())?;
    let app = common::http::renew_credentials(router(state, tokens), database);
    common::http::serve(app).await
}
