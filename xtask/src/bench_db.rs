//! What every benchmark does first: find the server, and give itself databases of its own,
//! recreated empty on every run so figures never depend on an earlier run.

use anyhow::Context;
use common::config::DatabaseSettings;
use secrecy::SecretString;
use sqlx::MySqlPool;

/// The server `DATABASE_URL` names, with a pool of `max_connections`, and the URL itself.
///
/// # Errors
/// When the variable is unset or does not parse.
pub fn server_from_env(max_connections: u32) -> anyhow::Result<(DatabaseSettings, String)> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL names the server")?;
    let server = DatabaseSettings::from_url(&SecretString::from(url.clone()), max_connections)?;
    Ok((server, url))
}

/// Drops database `name` on `server` if it exists and creates it empty; returns its settings.
///
/// # Errors
/// The server's error, with the database named.
pub async fn recreate(server: &DatabaseSettings, name: &str) -> anyhow::Result<DatabaseSettings> {
    let admin = common::db::connect(&server.with_database(""))
        .await
        .context("connecting to the server")?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )))
    .execute(&admin)
    .await
    .with_context(|| format!("recreating the database {name}"))?;
    admin.close().await;
    Ok(server.with_database(name))
}

/// [`recreate`], then a pool of `max_connections` on it with every migration applied.
///
/// # Errors
/// The server's error, with what was being done.
pub async fn fresh_migrated(
    server: &DatabaseSettings,
    name: &str,
    max_connections: u32,
) -> anyhow::Result<MySqlPool> {
    let mut settings = recreate(server, name).await?;
    settings.max_connections = max_connections;
    let pool = common::db::connect(&settings)
        .await
        .with_context(|| format!("connecting to {name}"))?;
    common::db::MIGRATOR
        .run(&pool)
        .await
        .with_context(|| format!("applying the migrations to {name}"))?;
    Ok(pool)
}

/// The SDK configuration of the benchmarks' local moto server: test credentials, us-east-1
/// (the endpoint is given to each client).
pub async fn moto_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await
}
