//! The function's own settings, read once at start-up: which hosts a datasource may point
//! at, how long a connection attempt may take, the largest body.

use std::time::Duration;

use common::config::{ConfigError, env_opt, env_or};
use sync_engine::endpoint::{ALLOWED_HOSTS_VAR, AllowList};

/// The variable of the connection time-out.
pub const CONNECT_TIMEOUT_VAR: &str = "SYNC_CONNECT_TIMEOUT_MS";

/// The time-out when `SYNC_CONNECT_TIMEOUT_MS` is unset.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(5000);

/// The accepted time-outs in milliseconds. The upper bound stays under API Gateway's 30 s
/// integration time-out, so a datasource that never answers still gets the envelope's
/// answer rather than the gateway's 503.
pub const CONNECT_TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=29_000;

/// Settings of `datasource-api`.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// `SYNC_ALLOWED_HOSTS`: the hosts (names, addresses, CIDR blocks) a datasource may
    /// connect to; empty (the default) allows none, so a deployment that forgot it cannot
    /// be pointed at anything inside its VPC.
    pub allowed_hosts: AllowList,
    /// `SYNC_CONNECT_TIMEOUT_MS`: the bound of one ping, tables or columns question,
    /// name resolution and connection included (default 5000, 100–29000).
    pub connect_timeout: Duration,
    /// `HTTP_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `SYNC_BUCKET`: where job configs (`configs/{id}.json`) and long run logs go.
    pub bucket: String,
    /// `SYNC_QUEUE_URL`: sync-worker's queue, one message per run.
    pub queue_url: String,
}

impl SyncSettings {
    /// Settings for tests and local tools: this allow-list, the defaults otherwise.
    pub fn new(allowed_hosts: AllowList) -> Self {
        Self {
            allowed_hosts,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body_bytes: common::http::DEFAULT_BODY_LIMIT,
            bucket: String::new(),
            queue_url: String::new(),
        }
    }

    /// Reads the variables above.
    ///
    /// # Errors
    /// The first variable that does not parse or is out of range, by name.
    pub fn from_env() -> Result<Self, ConfigError> {
        let hosts: Option<String> = env_opt(ALLOWED_HOSTS_VAR)?;
        let hosts = hosts.unwrap_or_default();
        let allowed_hosts = AllowList::parse(&hosts).map_err(|reason| ConfigError::Invalid {
            name: ALLOWED_HOSTS_VAR,
            value: hosts.clone(),
            reason,
        })?;
        if allowed_hosts.is_empty() {
            tracing::warn!(
                "{ALLOWED_HOSTS_VAR} is empty: ping, tables and columns refuse every host"
            );
        }
        let millis: u64 = env_or(CONNECT_TIMEOUT_VAR, 5000)?;
        Ok(Self {
            allowed_hosts,
            connect_timeout: connect_timeout(millis)?,
            max_body_bytes: env_or("HTTP_MAX_BODY_BYTES", common::http::DEFAULT_BODY_LIMIT)?,
            bucket: env_opt("SYNC_BUCKET")?.ok_or(ConfigError::Missing {
                name: "SYNC_BUCKET",
                hint: "the bucket of the job configs and long run logs",
            })?,
            queue_url: env_opt("SYNC_QUEUE_URL")?.ok_or(ConfigError::Missing {
                name: "SYNC_QUEUE_URL",
                hint: "sync-worker's queue URL",
            })?,
        })
    }
}

/// `millis` as the connection time-out, if inside [`CONNECT_TIMEOUT_RANGE_MS`].
///
/// # Errors
/// [`ConfigError::Invalid`] naming `SYNC_CONNECT_TIMEOUT_MS`.
pub fn connect_timeout(millis: u64) -> Result<Duration, ConfigError> {
    if CONNECT_TIMEOUT_RANGE_MS.contains(&millis) {
        Ok(Duration::from_millis(millis))
    } else {
        Err(ConfigError::Invalid {
            name: CONNECT_TIMEOUT_VAR,
            value: millis.to_string(),
            reason: format!(
                "must be {} to {} milliseconds",
                CONNECT_TIMEOUT_RANGE_MS.start(),
                CONNECT_TIMEOUT_RANGE_MS.end()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_out_is_bounded() {
        assert_eq!(
            connect_timeout(5000).expect("default"),
            DEFAULT_CONNECT_TIMEOUT
        );
        assert!(connect_timeout(100).is_ok() && connect_timeout(29_000).is_ok());
        for bad in [0, 99, 29_001] {
            let error = connect_timeout(bad).expect_err("out of range").to_string();
            assert!(error.contains(CONNECT_TIMEOUT_VAR), "{error}");
        }
        assert!(
            SyncSettings::new(AllowList::default())
                .allowed_hosts
                .is_empty()
        );
    }
}
