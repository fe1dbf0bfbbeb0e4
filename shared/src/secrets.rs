//! Secrets read at run time: from AWS Secrets Manager by ARN in AWS, from an environment
//! variable locally.
//!
//! A deployed function is given only a secret's ARN (say `DB_SECRET_ARN`); the value is read
//! on first use and cached for the execution environment, so it never appears in the
//! function's configuration, and a rotation is picked up by [`Secret::refresh`] when the old
//! value stops working (the database pool does that on MySQL error 1045:
//! [`crate::db::Database`]). Values are [`SecretString`]s: their `Debug` is redacted and
//! nothing here logs or formats one.
//!
//! The same [`Secret`] carries any other secret (an API key, an encryption key): a
//! [`SecretSource`] names an environment variable, or a Secrets Manager ARN with an optional
//! JSON field of its `SecretString`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use common::secrets::{Secret, SecretSource};
//! use secrecy::ExposeSecret;
//!
//! let sdk = common::aws::sdk_config().await;
//! // `HCX_API_KEY_SECRET_ARN` set: field `api_key` of that secret; else `HCX_API_KEY`.
//! let source = SecretSource::from_env("HCX_API_KEY_SECRET_ARN", Some("api_key"), "HCX_API_KEY")?;
//! let api_key = Secret::new(source, &sdk);
//! let current = api_key.get().await?; // one read per execution environment
//! let _header = format!("Bearer {}", current.value.expose_secret());
//! // After a 401 with that key: re-read once (a no-op read if another task already did).
//! let _renewed = api_key.refresh(current.version).await?;
//! # Ok(()) }
//! ```

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
};

use aws_config::SdkConfig;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::{ConfigError, env_opt};

/// Why a secret could not be read. Never contains the secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {var} holding a secret is not set")]
    MissingVariable { var: String },
    #[error("reading secret {arn} from Secrets Manager failed: {message}")]
    Read { arn: String, message: String },
    #[error("secret {arn} has no SecretString (binary secrets are not supported)")]
    NotString { arn: String },
    #[error("secret {origin} is not a JSON object: {reason}")]
    NotJson { origin: String, reason: String },
    #[error("secret {origin} has no string field \"{key}\"")]
    MissingField { origin: String, key: String },
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable (local runs, tests).
    Env { var: String },
    /// A Secrets Manager secret; with `json_key`, that field of its JSON `SecretString`,
    /// else the whole string.
    SecretsManager {
        arn: String,
        json_key: Option<String>,
    },
}

impl SecretSource {
    /// Secrets Manager when `arn_var` is set (its value is the ARN), else the environment
    /// variable `fallback_var`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when `arn_var` is not an ARN.
    pub fn from_env(
        arn_var: &'static str,
        json_key: Option<&str>,
        fallback_var: &str,
    ) -> Result<Self, ConfigError> {
        Ok(match secret_arn_from_env(arn_var)? {
            Some(arn) => Self::SecretsManager {
                arn,
                json_key: json_key.map(str::to_owned),
            },
            None => Self::Env {
                var: fallback_var.to_owned(),
            },
        })
    }

    /// Where the value is, safe to log (a variable name or an ARN).
    pub fn origin(&self) -> String {
        match self {
            Self::Env { var } => format!("${var}"),
            Self::SecretsManager {
                arn,
                json_key: Some(key),
            } => format!("{arn}#{key}"),
            Self::SecretsManager {
                arn,
                json_key: None,
            } => arn.clone(),
        }
    }
}

/// Reads `var` as a Secrets Manager ARN; `None` when unset or empty.
///
/// # Errors
/// [`ConfigError::Invalid`] when the value does not look like a Secrets Manager ARN (a
/// password pasted into the variable by mistake is not echoed).
pub fn secret_arn_from_env(var: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(arn) = env_opt::<String>(var)? else {
        return Ok(None);
    };
    if arn.starts_with("arn:") && arn.contains(":secretsmanager:") {
        Ok(Some(arn))
    } else {
        Err(ConfigError::Invalid {
            name: var,
            value: "[redacted]".into(),
            reason: "expected a Secrets Manager ARN (arn:aws:secretsmanager:…)".into(),
        })
    }
}

/// A secret's value as last read, with the version of that read (1 for the first read,
/// one more for each re-read) so that callers who saw the same stale value re-read once.
#[derive(Clone)]
pub struct Versioned {
    pub value: SecretString,
    pub version: u64,
}

impl fmt::Debug for Versioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Versioned")
            .field("value", &"[redacted]")
            .field("version", &self.version)
            .finish()
    }
}

/// One secret, read on first use and cached for the execution environment.
pub struct Secret {
    source: SecretSource,
    client: Option<aws_sdk_secretsmanager::Client>,
    /// The cached value. An async mutex so that concurrent first uses (or refreshes) wait
    /// for one read instead of each reading.
    current: tokio::sync::Mutex<Option<Versioned>>,
    reads: AtomicU64,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("origin", &self.source.origin())
            .field("reads", &self.reads())
            .finish_non_exhaustive()
    }
}

impl Secret {
    /// A secret from `source`; a Secrets Manager client is built from `sdk` (region,
    /// credentials, `AWS_ENDPOINT_URL`) only when the source needs one. Nothing is read yet.
    pub fn new(source: SecretSource, sdk: &SdkConfig) -> Self {
        let client = matches!(source, SecretSource::SecretsManager { .. })
            .then(|| aws_sdk_secretsmanager::Client::new(sdk));
        Self {
            source,
            client,
            current: tokio::sync::Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// A secret held in the environment variable `var` (no AWS configuration needed).
    pub fn from_variable(var: &str) -> Self {
        Self {
            source: SecretSource::Env {
                var: var.to_owned(),
            },
            client: None,
            current: tokio::sync::Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// Where the secret is, safe to log.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }

    /// How many times the value was read from its source (tests and logs: a healthy
    /// execution environment reads once, plus once per rotation).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// The cached value, read from the source on first use.
    ///
    /// # Errors
    /// The source cannot be read, or does not hold the expected field.
    pub async fn get(&self) -> Result<Versioned, SecretError> {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref() {
            return Ok(cached.clone());
        }
        self.read_into(&mut current).await
    }

    /// Re-reads the value because version `stale` stopped working (a rotation). When a
    /// newer version than `stale` is already cached (another task re-read it meanwhile),
    /// that one is returned without reading again. Callers re-read once per failure and
    /// never in a loop.
    ///
    /// # Errors
    /// As [`Secret::get`]; the cached value is kept.
    pub async fn refresh(&self, stale: u64) -> Result<Versioned, SecretError> {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref().filter(|cached| cached.version > stale) {
            return Ok(cached.clone());
        }
        self.read_into(&mut current).await
    }

    async fn read_into(&self, current: &mut Option<Versioned>) -> Result<Versioned, SecretError> {
        let value = self.read().await?;
        let version = current.as_ref().map_or(0, |cached| cached.version) + 1;
        let fresh = Versioned { value, version };
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    async fn read(&self) -> Result<SecretString, SecretError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        match (&self.source, &self.client) {
            (SecretSource::Env { var }, _) => std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| SecretError::MissingVariable { var: var.clone() }),
            (SecretSource::SecretsManager { arn, json_key }, Some(client)) => {
                let output = client
                    .get_secret_value()
                    .secret_id(arn)
                    .send()
                    .await
                    .map_err(|e| SecretError::Read {
                        arn: arn.clone(),
                        message: aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
                    })?;
                let whole = output
                    .secret_string()
                    .map(SecretString::from)
                    .ok_or_else(|| SecretError::NotString { arn: arn.clone() })?;
                tracing::info!(secret = %self.source.origin(), "secret read from Secrets Manager");
                match json_key {
                    Some(key) => json_field(&whole, key, arn),
                    None => Ok(whole),
                }
            }
            (SecretSource::SecretsManager { arn, .. }, None) => Err(SecretError::Read {
                arn: arn.clone(),
                message: "no Secrets Manager client (built without an SDK configuration)".into(),
            }),
        }
    }
}

/// The JSON object in a secret string. Parse errors report only their position: serde's
/// messages can quote the input.
fn json_object(
    secret: &SecretString,
    origin: &str,
) -> Result<serde_json::Map<String, Value>, SecretError> {
    match serde_json::from_str::<Value>(secret.expose_secret()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SecretError::NotJson {
            origin: origin.to_owned(),
            reason: "the JSON is not an object".into(),
        }),
        Err(e) => Err(SecretError::NotJson {
            origin: origin.to_owned(),
            reason: format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        }),
    }
}

/// The string field `key` of the JSON object in `secret`.
///
/// # Errors
/// The secret is not a JSON object, or `key` is missing or not a string.
pub fn json_field(
    secret: &SecretString,
    key: &str,
    origin: &str,
) -> Result<SecretString, SecretError> {
    let mut map = json_object(secret, origin)?;
    match map.remove(key) {
        Some(Value::String(value)) => Ok(SecretString::from(value)),
        _ => Err(SecretError::MissingField {
            origin: origin.to_owned(),
            key: key.to_owned(),
        }),
    }
}

/// Database credentials from a secret in the format RDS and its rotation functions use:
/// a JSON object with `password` and optionally `username` (other fields, such as `host`,
/// `port`, `dbname` and `engine`, are ignored: the host comes from the settings).
#[derive(Clone)]
pub struct DbCredentials {
    /// The user to connect as; `None` keeps the configured one.
    pub username: Option<String>,
    pub password: SecretString,
}

impl fmt::Debug for DbCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbCredentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl DbCredentials {
    /// Parses an RDS-style JSON secret.
    ///
    /// # Errors
    /// Not a JSON object, no string `password`, or a `username` that is not a string.
    pub fn from_json(secret: &SecretString, origin: &str) -> Result<Self, SecretError> {
        let mut map = json_object(secret, origin)?;
        let password = match map.remove("password") {
            Some(Value::String(password)) => SecretString::from(password),
            _ => {
                return Err(SecretError::MissingField {
                    origin: origin.to_owned(),
                    key: "password".into(),
                });
            }
        };
        let username = match map.remove("username") {
            None | Some(Value::Null) => None,
            Some(Value::String(user)) if user.is_empty() => None,
            Some(Value::String(user)) => Some(user),
            Some(_) => {
                return Err(SecretError::MissingField {
                    origin: origin.to_owned(),
                    key: "username".into(),
                });
            }
        };
        Ok(Self { username, password })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn an_rds_secret_gives_user_and_password() {
        let parsed = DbCredentials::from_json(
            &secret(
                r#"{"engine":"mysql","host":"db.example","port":3306,"username":"app","password":"p@ss\"w0rd","dbname":"platform"}"#,
            ),
            ORIGIN,
        )
        .expect("an RDS secret parses");
        assert_eq!(parsed.username.as_deref(), Some("app"));
        assert_eq!(parsed.password.expose_secret(), "p@ss\"w0rd");
    }

    #[test]
    fn the_username_is_optional() {
        let parsed = DbCredentials::from_json(&secret(r#"{"password":"only"}"#), ORIGIN)
            .expect("a password alone parses");
        assert_eq!(parsed.username, None);
        assert_eq!(parsed.password.expose_secret(), "only");
    }

    #[test]
    fn bad_secrets_are_refused_without_echoing_them() {
        let cases = [
            ("hunter2-not-json", "not a JSON object"),
            (r#"["hunter2"]"#, "not a JSON object"),
            (
                r#"{"username":"app","pass":"hunter2"}"#,
                "no string field \"password\"",
            ),
            (r#"{"password":98765}"#, "no string field \"password\""),
            (
                r#"{"password":"x","username":["hunter2"]}"#,
                "no string field \"username\"",
            ),
        ];
        for (text, expected) in cases {
            let error = DbCredentials::from_json(&secret(text), ORIGIN)
                .expect_err("a bad secret is refused");
            let message = error.to_string();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(message.contains(ORIGIN), "names the secret: {message}");
            for leaked in ["hunter2", "98765"] {
                assert!(!message.contains(leaked), "{message} echoes the secret");
                assert!(!format!("{error:?}").contains(leaked));
            }
        }
    }

    #[test]
    fn a_json_field_is_taken_from_the_secret() {
        let key = json_field(
            &secret(r#"{"api_key":"k-123","other":1}"#),
            "api_key",
            ORIGIN,
        )
        .expect("the field exists");
        assert_eq!(key.expose_secret(), "k-123");
        let missing = json_field(&secret(r#"{"other":"k-123"}"#), "api_key", ORIGIN)
            .expect_err("no such field");
        assert!(!missing.to_string().contains("k-123"));
    }

    #[test]
    fn debug_output_never_shows_a_value() {
        let credentials = DbCredentials {
            username: Some("app".into()),
            password: secret("s3cr3t-value"),
        };
        let versioned = Versioned {
            value: secret("s3cr3t-value"),
            version: 3,
        };
        for shown in [format!("{credentials:?}"), format!("{versioned:?}")] {
            assert!(!shown.contains("s3cr3t-value"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        assert!(format!("{credentials:?}").contains("app"));
    }

    #[test]
    fn only_a_secrets_manager_arn_is_accepted_as_one() {
        assert_eq!(
            SecretSource::SecretsManager {
                arn: ORIGIN.into(),
                json_key: Some("api_key".into())
            }
            .origin(),
            format!("{ORIGIN}#api_key")
        );
        assert_eq!(
            SecretSource::Env {
                var: "DB_PASSWORD".into()
            }
            .origin(),
            "$DB_PASSWORD"
        );
    }

    #[tokio::test]
    async fn a_secret_is_read_once_and_re_read_once_per_stale_version() {
        // Cargo sets CARGO_PKG_NAME for the test process; it stands in for a secret.
        let secret = Secret::from_variable("CARGO_PKG_NAME");
        let first = secret.get().await.expect("the variable is set");
        assert_eq!(first.value.expose_secret(), "common");
        assert_eq!(first.version, 1);
        secret.get().await.expect("cached");
        assert_eq!(secret.reads(), 1, "get() reads once");

        let renewed = secret.refresh(first.version).await.expect("re-read");
        assert_eq!((renewed.version, secret.reads()), (2, 2));
        // A second task that also saw version 1 fail gets version 2 without a read.
        let again = secret.refresh(first.version).await.expect("cached newer");
        assert_eq!((again.version, secret.reads()), (2, 2));
    }

    #[tokio::test]
    async fn a_missing_variable_names_itself() {
        let secret = Secret::from_variable("COMMON_TEST_SURELY_UNSET_SECRET");
        let error = secret.get().await.expect_err("unset");
        assert!(
            error
                .to_string()
                .contains("COMMON_TEST_SURELY_UNSET_SECRET")
        );
    }
}
