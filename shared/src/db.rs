//! The MySQL pool, its credentials (from the environment, or from Secrets Manager with
//! re-reading on rotation) and the embedded migrations.
//!
//! # Credentials from Secrets Manager, and rotation
//! With `DB_SECRET_ARN` set, [`Database::lazy`] reads the secret (RDS format: `password`,
//! optionally `username`) once at start-up and builds the lazy pool with it. A rotation
//! changes the password on the server; open sessions keep working, and the next *new*
//! connection fails with MySQL error 1045. Whoever sees that error calls
//! [`Database::refresh_on_auth_failure`]: it re-reads the secret once (once per stale
//! version, however many tasks failed), installs the new credentials in the pool with
//! `Pool::set_connect_options` (new connections use them, open ones are left alone), and
//! answers whether a retry is worth it. [`Database::retry_once_on_auth_failure`] does that
//! around a unit of work and retries it once; nothing loops.
//!
//! Why not inside the pool: sqlx 0.9 has no hook on the connect path (its `before_acquire`
//! sees only connections that already exist, `after_connect` runs only after a successful
//! log-in, and a 1045 is returned from `acquire` at once), so the retry sits with the
//! caller: the SQS, job and HTTP kits, which already sort errors into retry or not.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use common::{aws, config::Settings, db};
//!
//! let settings = Settings::from_env()?;
//! let sdk = aws::sdk_config().await;
//! // Reads DB_SECRET_ARN's secret now when it is set; else DB_PASSWORD / DATABASE_URL.
//! let database = db::Database::lazy(&settings.database, &sdk).await?;
//! let pool = database.pool().clone(); // what the function libraries take, as before
//! let users: i64 = database
//!     .retry_once_on_auth_failure(|| sqlx::query_scalar("SELECT COUNT(*) FROM actor").fetch_one(&pool))
//!     .await?;
//! # let _ = users; Ok(()) }
//! ```

use std::{
    error::Error as StdError,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use aws_config::SdkConfig;
use secrecy::ExposeSecret;
use sqlx::{
    MySqlPool,
    migrate::Migrator,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
};

use crate::{
    config::DatabaseSettings,
    secrets::{DbCredentials, Secret, SecretError, SecretSource},
};

/// Every migration of the platform, embedded in each binary so a deploy needs no files.
/// The SQL keeps to what MySQL 8.0 and MariaDB 10.11 both run.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A pool fit for Lambda: a handful of connections, opened lazily on first use so that a
/// slow database does not fail the init phase, and an acquire time-out short enough that a
/// dead database fails the invocation (to be retried) rather than the Lambda time-out.
pub fn lazy_pool(settings: &DatabaseSettings) -> MySqlPool {
    pool_options(settings).connect_lazy_with(settings.connect_options())
}

/// The pool, and where its credentials come from so they can be renewed after a rotation.
/// Cloning is cheap (the pool and the secret are shared).
#[derive(Clone, Debug)]
pub struct Database {
    pool: MySqlPool,
    rotation: Option<Arc<Rotation>>,
}

/// Credentials from a secret: the secret, the settings' connect options they go over, and
/// the secret version installed in the pool.
#[derive(Debug)]
struct Rotation {
    secret: Secret,
    base: MySqlConnectOptions,
    installed: AtomicU64,
}

impl Database {
    /// The lazy pool of [`lazy_pool`], with the credentials of `DB_SECRET_ARN`'s secret when
    /// the settings name one (read now, through a Secrets Manager client built from `sdk`),
    /// else those of the settings.
    ///
    /// # Errors
    /// The secret cannot be read or is not an RDS-style JSON secret with a `password`.
    pub async fn lazy(settings: &DatabaseSettings, sdk: &SdkConfig) -> Result<Self, SecretError> {
        match settings.secret_arn() {
            Some(arn) => {
                let source = SecretSource::SecretsManager {
                    arn: arn.to_owned(),
                    json_key: None,
                };
                Self::lazy_with_secret(settings, Secret::new(source, sdk)).await
            }
            None => Ok(Self::from_pool(lazy_pool(settings))),
        }
    }

    /// The lazy pool with the credentials held by `secret` (an RDS-style JSON secret),
    /// read now; the settings give the host, port, database and the pool's limits.
    ///
    /// # Errors
    /// As [`Database::lazy`].
    pub async fn lazy_with_secret(
        settings: &DatabaseSettings,
        secret: Secret,
    ) -> Result<Self, SecretError> {
        let current = secret.get().await?;
        let credentials = DbCredentials::from_json(&current.value, &secret.source().origin())?;
        let base = settings.connect_options();
        let pool =
            pool_options(settings).connect_lazy_with(with_credentials(base.clone(), &credentials));
        Ok(Self {
            pool,
            rotation: Some(Arc::new(Rotation {
                secret,
                base,
                installed: AtomicU64::new(current.version),
            })),
        })
    }

    /// A pool whose credentials are not renewed (tests, tools, `DATABASE_URL`).
    pub fn from_pool(pool: MySqlPool) -> Self {
        Self {
            pool,
            rotation: None,
        }
    }

    /// The pool, for the code that takes `&MySqlPool`.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// How many times the credentials' secret was read (0 without one): one at start-up,
    /// plus one per rotation survived.
    pub fn secret_reads(&self) -> u64 {
        self.rotation
            .as_ref()
            .map_or(0, |rotation| rotation.secret.reads())
    }

    /// When `error` (or an error in its `source()` chain) is MySQL's 1045 and the
    /// credentials come from a secret: re-reads the secret, unless another task already
    /// re-read a newer version, installs its credentials for the pool's new connections,
    /// and answers `true`: one retry of the work may now succeed. `false` for any other
    /// error, without a secret, or when the secret cannot be read (logged).
    pub async fn refresh_on_auth_failure(&self, error: &(dyn StdError + 'static)) -> bool {
        if !is_auth_failure_in(error) {
            return false;
        }
        self.renew_credentials().await
    }

    /// Re-reads the credentials' secret (unless another task already installed a newer
    /// version) and installs them for the pool's new connections: what to do after the
    /// database answered 1045. `false` without a secret or when it cannot be read (logged).
    pub async fn renew_credentials(&self) -> bool {
        let Some(rotation) = &self.rotation else {
            tracing::warn!(
                "the database refused the credentials, which come from the environment: nothing to re-read"
            );
            return false;
        };
        let stale = rotation.installed.load(Ordering::Acquire);
        let fresh = match rotation.secret.refresh(stale).await {
            Ok(fresh) => fresh,
            Err(error) => {
                tracing::error!(error = %error, "the database refused the credentials and the secret could not be re-read");
                return false;
            }
        };
        let credentials =
            match DbCredentials::from_json(&fresh.value, &rotation.secret.source().origin()) {
                Ok(credentials) => credentials,
                Err(error) => {
                    tracing::error!(error = %error, "the re-read database secret is unusable");
                    return false;
                }
            };
        self.pool
            .set_connect_options(with_credentials(rotation.base.clone(), &credentials));
        rotation
            .installed
            .fetch_max(fresh.version, Ordering::AcqRel);
        tracing::info!(
            secret = %rotation.secret.source().origin(),
            version = fresh.version,
            "database credentials re-read after an authentication failure (rotation)"
        );
        true
    }

    /// Runs `work`; when it fails with MySQL's 1045 and [`Database::refresh_on_auth_failure`]
    /// installed fresh credentials, runs it once more. Never more than two runs.
    ///
    /// # Errors
    /// The work's error (the second run's, after a refresh).
    pub async fn retry_once_on_auth_failure<T, E, F, Fut>(&self, mut work: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: StdError + 'static,
    {
        match work().await {
            Err(error) if self.refresh_on_auth_failure(&error).await => work().await,
            other => other,
        }
    }
}

/// `options` with the secret's password, and its user when it names one.
fn with_credentials(
    options: MySqlConnectOptions,
    credentials: &DbCredentials,
) -> MySqlConnectOptions {
    let options = options.password(credentials.password.expose_secret());
    match &credentials.username {
        Some(user) => options.username(user),
        None => options,
    }
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

/// MySQL's error number for refused credentials (`ER_ACCESS_DENIED_ERROR`): a wrong
/// password, as after a rotation, when a new connection logs in.
pub const ER_ACCESS_DENIED_ERROR: u16 = 1045;

/// The server refused the credentials (1045).
pub fn is_auth_failure(error: &sqlx::Error) -> bool {
    mysql_error_number(error) == Some(ER_ACCESS_DENIED_ERROR)
}

/// `error` or an error in its `source()` chain is a [`sqlx::Error`] with 1045: for kits
/// that hold a function's own error type wrapping the sqlx error.
pub fn is_auth_failure_in(error: &(dyn StdError + 'static)) -> bool {
    std::iter::successors(Some(error), |e| (*e).source())
        .any(|e| e.downcast_ref::<sqlx::Error>().is_some_and(is_auth_failure))
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

/// `error` or an error in its `source()` chain is a lost lock conflict
/// ([`is_lock_conflict`]): for work whose own error type wraps the sqlx error.
pub fn is_lock_conflict_in(error: &(dyn StdError + 'static)) -> bool {
    std::iter::successors(Some(error), |e| (*e).source()).any(|e| {
        e.downcast_ref::<sqlx::Error>()
            .is_some_and(is_lock_conflict)
    })
}

/// Runs `work` (one transaction) until it does not lose a lock conflict, at most `retries`
/// times more, waiting a little longer before each retry; `on_retry` hears of each one.
/// The work's error may be a sqlx error or any error wrapping one ([`is_lock_conflict_in`]).
///
/// # Errors
/// The work's error: any other error at once, a lock conflict after the retries.
pub async fn retry_lock_conflicts<T, E, F, Fut>(
    retries: u32,
    mut on_retry: impl FnMut(&E),
    mut work: F,
) -> Result<T, E>
where
    E: StdError + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut retried = 0;
    loop {
        match work().await {
            Err(error) if is_lock_conflict_in(&error) && retried < retries => {
                retried += 1;
                on_retry(&error);
                tracing::warn!(attempt = retried, error = %error, "lost a lock conflict; retrying");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(retried))).await;
            }
            other => return other,
        }
    }
}
