//! Settings shared by every function, read once from the environment at start-up.
//!
//! Functions add their own settings with [`env_or`] / [`env_opt`] so that every variable
//! is parsed (and rejected with its name) during the Lambda init phase, not mid-request.

use std::{fmt, str::FromStr};

use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use sqlx::mysql::MySqlConnectOptions;

/// A variable that is present but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Reads `name`, parsing it with `FromStr`; `default` when unset or empty.
///
/// # Errors
/// [`ConfigError::Invalid`] when the value does not parse.
pub fn env_or<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    Ok(env_opt(name)?.unwrap_or(default))
}

/// Reads `name` like [`env_or`] and checks that it lies in `min..=max`.
///
/// # Errors
/// [`ConfigError::Invalid`] when the value does not parse or lies outside the range.
pub fn env_in_range<T>(name: &'static str, default: T, min: T, max: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
    T::Err: fmt::Display,
{
    let value = env_or(name, default)?;
    if value < min || value > max {
        return Err(ConfigError::Invalid {
            name,
            value: value.to_string(),
            reason: format!("must be from {min} to {max}"),
        });
    }
    Ok(value)
}

/// Reads `name`, parsing it with `FromStr`; `None` when unset or empty.
///
/// # Errors
/// [`ConfigError::Invalid`] when the value does not parse.
pub fn env_opt<T>(name: &'static str) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim()
                .parse()
                .map(Some)
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    value: v,
                    reason: e.to_string(),
                })
        }
        _ => Ok(None),
    }
}

/// Where the MySQL database is. Either a whole `DATABASE_URL` (local runs, tests) or the
/// parts `DB_HOST`, `DB_PORT`, `DB_USER`, `DB_PASSWORD`, `DB_NAME`. The deployed functions
/// set `DB_SECRET_ARN` instead of a password: the credentials are then read at run time
/// from that secret ([`crate::db::Database::lazy`]) and override the user and password
/// given here.
#[derive(Clone)]
pub struct DatabaseSettings {
    connect: MySqlConnectOptions,
    /// `DB_SECRET_ARN`: the Secrets Manager secret (RDS format) holding the credentials.
    secret_arn: Option<String>,
    /// Where we connect, for logs: never includes the password.
    display: String,
    /// Upper bound of the pool. Lambda runs one invocation per execution environment, so
    /// two connections (one for the work, one spare for the ledger) are enough.
    pub max_connections: u32,
    /// `DB_LOCK_WAIT_TIMEOUT_SECS`: the longest a statement waits for a row lock before it
    /// fails (`innodb_lock_wait_timeout` of every session); the server's default when unset.
    pub lock_wait_timeout_secs: Option<u32>,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("target", &self.display)
            .field("password", &"[redacted]")
            .field("secret_arn", &self.secret_arn)
            .field("max_connections", &self.max_connections)
            .field("lock_wait_timeout_secs", &self.lock_wait_timeout_secs)
            .finish()
    }
}

impl DatabaseSettings {
    /// Reads the database variables.
    ///
    /// # Errors
    /// When neither `DATABASE_URL` nor `DB_HOST` is set, or a value does not parse.
    pub fn from_env() -> Result<Self, ConfigError> {
        let max_connections = env_or("DB_MAX_CONNECTIONS", 2u32)?;
        let lock_wait_timeout_secs = env_opt("DB_LOCK_WAIT_TIMEOUT_SECS")?;
        let secret_arn = crate::secrets::secret_arn_from_env("DB_SECRET_ARN")?;
        if let Some(url) = env_opt::<String>("DATABASE_URL")? {
            let url = SecretString::from(url);
            return Ok(Self::from_url(&url, max_connections)?
                .with_lock_wait_timeout(lock_wait_timeout_secs)
                .with_secret_arn(secret_arn));
        }
        let host: String = env_opt("DB_HOST")?.ok_or(ConfigError::Missing {
            name: "DB_HOST",
            hint: "set DATABASE_URL, or DB_HOST with DB_USER, DB_NAME and DB_SECRET_ARN (or DB_PASSWORD)",
        })?;
        let port = env_or("DB_PORT", 3306u16)?;
        let user: String = env_or("DB_USER", "root".to_owned())?;
        let name: String = env_opt("DB_NAME")?.ok_or(ConfigError::Missing {
            name: "DB_NAME",
            hint: "the database (schema) the functions use",
        })?;
        let password = SecretString::from(std::env::var("DB_PASSWORD").unwrap_or_default());
        let connect = MySqlConnectOptions::new()
            .host(&host)
            .port(port)
            .username(&user)
            .password(password.expose_secret())
            .database(&name);
        Ok(Self {
            connect,
            secret_arn,
            display: format!("{user}@{host}:{port}/{name}"),
            max_connections,
            lock_wait_timeout_secs,
        })
    }

    /// Settings from a `mysql://user:password@host:port/db` URL.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when the URL does not parse (the URL itself is not echoed).
    pub fn from_url(url: &SecretString, max_connections: u32) -> Result<Self, ConfigError> {
        let connect: MySqlConnectOptions =
            url.expose_secret()
                .parse()
                .map_err(|e: sqlx::Error| ConfigError::Invalid {
                    name: "DATABASE_URL",
                    value: "[redacted]".into(),
                    reason: e.to_string(),
                })?;
        let display = format!(
            "{}@{}:{}/{}",
            connect.get_username(),
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or("")
        );
        Ok(Self {
            connect,
            secret_arn: None,
            display,
            max_connections,
            lock_wait_timeout_secs: None,
        })
    }

    /// The same settings with another row-lock wait limit (`None`: the server's default).
    #[must_use]
    pub fn with_lock_wait_timeout(mut self, seconds: Option<u32>) -> Self {
        self.lock_wait_timeout_secs = seconds;
        self
    }

    /// The same settings with the credentials taken from Secrets Manager secret `arn` (RDS
    /// format), or from these settings (`None`).
    #[must_use]
    pub fn with_secret_arn(mut self, arn: Option<String>) -> Self {
        self.secret_arn = arn;
        self
    }

    /// `DB_SECRET_ARN`, when the credentials come from Secrets Manager.
    pub fn secret_arn(&self) -> Option<&str> {
        self.secret_arn.as_deref()
    }

    /// The same server with another database (schema) name; tests and tools use it.
    pub fn with_database(&self, database: &str) -> Self {
        let (prefix, _) = self.display.rsplit_once('/').unwrap_or((&self.display, ""));
        Self {
            connect: self.connect.clone().database(database),
            secret_arn: self.secret_arn.clone(),
            display: format!("{prefix}/{database}"),
            max_connections: self.max_connections,
            lock_wait_timeout_secs: self.lock_wait_timeout_secs,
        }
    }

    /// Connect options for sqlx, with the user and password configured here: when
    /// [`DatabaseSettings::secret_arn`] is set, [`crate::db::Database::lazy`] puts the
    /// secret's credentials over them.
    pub fn connect_options(&self) -> MySqlConnectOptions {
        self.connect.clone()
    }

    /// `user@host:port/db`, safe to log.
    pub fn target(&self) -> &str {
        &self.display
    }

    /// The database (schema) name, if any.
    pub fn database(&self) -> Option<&str> {
        self.connect.get_database()
    }
}

/// Settings every function reads.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    /// `AWS_ENDPOINT_URL`: set for local runs against moto; S3 then uses path-style URLs.
    pub aws_endpoint_url: Option<String>,
    /// `BUSINESS_TIME_ZONE`: where "a day" and "a month" are counted (default Asia/Taipei).
    pub business_time_zone: Tz,
}

impl Settings {
    /// Reads the shared settings.
    ///
    /// # Errors
    /// The first variable that is missing or does not parse.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseSettings::from_env()?,
            aws_endpoint_url: env_opt("AWS_ENDPOINT_URL")?,
            business_time_zone: env_or("BUSINESS_TIME_ZONE", chrono_tz::Asia::Taipei)?,
        })
    }
}
