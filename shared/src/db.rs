//! The MySQL pool and the embedded migrations.

use std::time::Duration;

use sqlx::{
    MySqlPool,
    migrate::Migrator,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};

use crate::config::DatabaseSettings;

/// Every migration of the platform, embedded in each binary so a deploy needs no files.
/// The SQL keeps to what MySQL 8.0 and MariaDB 10.11 both run.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A pool fit for Lambda: a handful of connections, opened lazily on first use so that a
/// slow database does not fail the init phase, and an acquire time-out short enough that a
/// dead database fails the invocation (to be retried) rather than the Lambda time-out.
pub fn lazy_pool(settings: &DatabaseSettings) -> MySqlPool {
    pool_options(settings).connect_lazy_with(settings.connect_options())
}

/// Connects now (tools and tests that want an early, clear error).
///
/// # Errors
/// The connection error.
pub async fn connect(settings: &DatabaseSettings) -> Result<MySqlPool, sqlx::Error> {
    pool_options(settings)
        .connect_with(settings.connect_options())
        .await
}

fn pool_options(settings: &DatabaseSettings) -> MySqlPoolOptions {
    let lock_wait = settings.lock_wait_timeout_secs;
    MySqlPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        // Every session gets the configured row-lock wait limit, so a function blocked by
        // another's locks fails (and is retried) instead of hanging until its time-out.
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if let Some(seconds) = lock_wait {
                    let set = format!("SET SESSION innodb_lock_wait_timeout = {}", seconds.max(1));
                    sqlx::raw_sql(sqlx::AssertSqlSafe(set))
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
        })
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(10))
        // Connections idle between invocations may be cut by RDS or a NAT; recycle them.
        .idle_timeout(Duration::from_secs(300))
}

/// Creates the database named in `settings` when it does not exist (local set-up, tests).
///
/// # Errors
/// The server's error.
pub async fn create_database_if_missing(settings: &DatabaseSettings) -> Result<(), sqlx::Error> {
    let Some(name) = settings.database() else {
        return Ok(());
    };
    let server: MySqlConnectOptions = settings.connect_options().database("");
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .connect_with(server)
        .await?;
    let create = format!(
        "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        name.replace('`', "``")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// MySQL's error number for a lock wait that ran out of `innodb_lock_wait_timeout`.
pub const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// MySQL's error number for a transaction InnoDB rolled back to break a deadlock.
pub const ER_LOCK_DEADLOCK: u16 = 1213;

/// The MySQL / MariaDB error number of a server error, if `error` is one.
pub fn mysql_error_number(error: &sqlx::Error) -> Option<u16> {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(sqlx::mysql::MySqlDatabaseError::number)
}

/// A lost lock: a lock wait time-out or a deadlock. The work was rolled back and can be
/// tried again.
pub fn is_lock_conflict(error: &sqlx::Error) -> bool {
    matches!(
        mysql_error_number(error),
        Some(ER_LOCK_WAIT_TIMEOUT | ER_LOCK_DEADLOCK)
    )
}

/// Runs `work` (one transaction) until it does not lose a lock conflict, at most `retries`
/// times more, waiting a little longer before each retry; `on_retry` hears of each one.
///
/// # Errors
/// The work's error: any other error at once, a lock conflict after the retries.
pub async fn retry_lock_conflicts<T, F, Fut>(
    retries: u32,
    mut on_retry: impl FnMut(&sqlx::Error),
    mut work: F,
) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut retried = 0;
    loop {
        match work().await {
            Err(error) if is_lock_conflict(&error) && retried < retries => {
                retried += 1;
                on_retry(&error);
                tracing::warn!(attempt = retried, error = %error, "lost a lock conflict; retrying");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(retried))).await;
            }
            other => return other,
        }
    }
}
