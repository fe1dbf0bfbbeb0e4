//! The worker's settings, read once at start-up.

use common::config::{ConfigError, env_in_range, env_or};

/// How the worker takes a batch.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Messages of a batch handled at once (`KEYWORD_WORKER_CONCURRENCY`, 1..=16, default 4):
    /// an HCX answer takes seconds, so one environment keeps several requests going, within
    /// its rate limit.
    pub concurrency: usize,
    /// The queue's `maxReceiveCount` (`KEYWORD_MAX_RECEIVES`, default 5): at that receive a
    /// failing question is marked `failed: dead_letter` in the ledger, because its message
    /// goes to the dead-letter queue next.
    pub max_receives: u32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_receives: 5,
        }
    }
}

impl WorkerSettings {
    /// Reads the settings.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is wrong.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let concurrency = env_in_range("KEYWORD_WORKER_CONCURRENCY", defaults.concurrency, 1, 16)?;
        let max_receives = env_in_range("KEYWORD_MAX_RECEIVES", defaults.max_receives, 1, 1000)?;
        Ok(Self {
            concurrency,
            max_receives,
        })
    }
}

/// The categories when `KEYWORD_CATEGORIES` is not set: the built-in rules' categories.
pub const DEFAULT_CATEGORIES: &str =
    "account,payment,reservation,delivery,transport,technical,information,other";

/// The HCX client's settings from `KEYWORD_HCX_*` and `KEYWORD_CATEGORIES`, with the API
/// key read by the caller (Secrets Manager or the environment).
///
/// # Errors
/// [`ConfigError`] naming the variable that is wrong.
pub fn hcx_from_env(
    api_key: secrecy::SecretString,
) -> Result<crate::hcx::HcxSettings, ConfigError> {
    let categories: String = env_or("KEYWORD_CATEGORIES", DEFAULT_CATEGORIES.to_owned())?;
    let categories: Vec<String> = categories
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    let qpm: u32 = env_in_range("KEYWORD_HCX_QPM", 60, 1, u32::MAX)?;
    let max_concurrency: u32 = env_in_range("KEYWORD_WORKER_MAX_CONCURRENCY", 2, 1, 1000)?;
    let mut settings = crate::hcx::HcxSettings::new(
        env_or(
            "KEYWORD_HCX_BASE_URL",
            "https://clovastudio.stream.ntruss.com".to_owned(),
        )?,
        env_or("KEYWORD_HCX_MODEL", "HCX-005".to_owned())?,
        api_key,
        categories,
        qpm,
        max_concurrency,
    );
    settings.request_timeout =
        std::time::Duration::from_secs(env_or("KEYWORD_HCX_TIMEOUT_SECS", 20u64)?.clamp(1, 300));
    settings.max_attempts = env_or("KEYWORD_HCX_MAX_ATTEMPTS", 5u32)?.clamp(1, 20);
    Ok(settings)
}
