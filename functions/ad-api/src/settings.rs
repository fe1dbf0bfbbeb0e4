//! The function's own settings, read once at start-up.

use std::time::Duration;

use chrono_tz::Tz;
use common::config::{ConfigError, env_opt, env_or};
use secrecy::{ExposeSecret, SecretString};

/// User agents ignored unless `AD_IGNORED_USER_AGENTS` says otherwise: substrings of the
/// common crawlers' and link previewers' agents (compared case-insensitively).
pub const DEFAULT_IGNORED_USER_AGENTS: &str =
    "bot,crawler,spider,slurp,facebookexternalhit,headlesschrome,lighthouse,preview";

/// Settings of `ad-api`.
#[derive(Clone)]
pub struct AdSettings {
    /// `AD_TIME_ZONE`: the business zone of days, hour slots and admin times.
    pub time_zone: Tz,
    /// `AD_CACHE_SECS`: how long an execution environment keeps the live ads (and their
    /// codes) before reading them again (default 30, 1–3600): an admin change is visible
    /// everywhere within it.
    pub cache_ttl: Duration,
    /// `AD_COUNTER_QUEUE_URL`: the queue the hit events go to.
    pub queue_url: String,
    /// `AD_VISITOR_SALT` (or the secret named by `AD_VISITOR_SALT_SECRET_ARN`, field
    /// `salt`): the salt of the visitor hashes, at least 16 characters.
    pub visitor_salt: SecretString,
    /// `AD_IGNORED_USER_AGENTS`: comma-separated, case-insensitive substrings; a hit from a
    /// matching agent is answered but not counted. Empty (`-`) ignores none.
    pub ignored_user_agents: Vec<String>,
    /// `HTTP_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for AdSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdSettings")
            .field("time_zone", &self.time_zone)
            .field("cache_ttl", &self.cache_ttl)
            .field("queue_url", &self.queue_url)
            .field("visitor_salt", &"[redacted]")
            .field("ignored_user_agents", &self.ignored_user_agents)
            .finish_non_exhaustive()
    }
}

impl AdSettings {
    /// Settings for tests and local tools: the defaults, with this queue and salt.
    pub fn new(queue_url: impl Into<String>, visitor_salt: SecretString) -> Self {
        Self {
            time_zone: chrono_tz::Asia::Shanghai,
            cache_ttl: Duration::from_secs(30),
            queue_url: queue_url.into(),
            visitor_salt,
            ignored_user_agents: split_agents(DEFAULT_IGNORED_USER_AGENTS),
            max_body_bytes: common::http::DEFAULT_BODY_LIMIT,
        }
    }

    /// Reads the variables above; the salt comes from the caller (it may live in Secrets
    /// Manager).
    ///
    /// # Errors
    /// The first variable that does not parse or is out of range.
    pub fn from_env(visitor_salt: SecretString) -> Result<Self, ConfigError> {
        let cache_secs: u64 = env_or("AD_CACHE_SECS", 30)?;
        if !(1..=3600).contains(&cache_secs) {
            return Err(ConfigError::Invalid {
                name: "AD_CACHE_SECS",
                value: cache_secs.to_string(),
                reason: "must be 1 to 3600".into(),
            });
        }
        let queue_url: Option<String> = env_opt("AD_COUNTER_QUEUE_URL")?;
        let queue_url = queue_url.ok_or(ConfigError::Invalid {
            name: "AD_COUNTER_QUEUE_URL",
            value: String::new(),
            reason: "required: the counter queue's URL".into(),
        })?;
        if visitor_salt.expose_secret().chars().count() < 16 {
            return Err(ConfigError::Invalid {
                name: "AD_VISITOR_SALT",
                value: "[redacted]".into(),
                reason: "at least 16 characters".into(),
            });
        }
        let agents: Option<String> = env_opt("AD_IGNORED_USER_AGENTS")?;
        Ok(Self {
            time_zone: common::ads::time_zone_from_env()?,
            cache_ttl: Duration::from_secs(cache_secs),
            queue_url,
            visitor_salt,
            ignored_user_agents: split_agents(
                agents.as_deref().unwrap_or(DEFAULT_IGNORED_USER_AGENTS),
            ),
            max_body_bytes: env_or("HTTP_MAX_BODY_BYTES", common::http::DEFAULT_BODY_LIMIT)?,
        })
    }

    /// Whether a hit from `user_agent` is ignored.
    pub fn is_ignored_agent(&self, user_agent: &str) -> bool {
        let agent = user_agent.to_ascii_lowercase();
        self.ignored_user_agents.iter().any(|a| agent.contains(a))
    }
}

fn split_agents(list: &str) -> Vec<String> {
    list.split(',')
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty() && a != "-")
        .collect()
}
