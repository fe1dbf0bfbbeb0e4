//! The batch's settings, read once at start-up.

use std::time::Duration;

use chrono_tz::Tz;
use common::{
    chat::{self, Normalization},
    config::{ConfigError, env_in_range},
};

/// What a run needs besides the database and the queue.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// The chat system's zone: `chattings.created_at` is local time there, and the
    /// scheduled run takes yesterday in it (`KEYWORD_TIME_ZONE`, default Asia/Seoul).
    pub zone: Tz,
    /// What makes two texts one question (`KEYWORD_NORMALIZE`, `on` or `off`).
    pub normalization: Normalization,
    /// The longest `from`..`to` a payload may name, in days (`KEYWORD_MAX_RANGE_DAYS`, 31).
    pub max_range_days: i64,
    /// A question still `queued` after this long was lost on the way (its message expired
    /// or was deleted by hand) and is sent again (`KEYWORD_REQUEUE_AFTER_SECS`, 6 h: longer
    /// than a message can wait in the queue through its retries).
    pub requeue_after: Duration,
    /// Questions per work-queue message (`KEYWORD_QUESTIONS_PER_MESSAGE`, 1..=10, default 10):
    /// fewer SQS requests per question; the worker handles each question of a message on
    /// its own.
    pub questions_per_message: usize,
    /// Dates surveyed and sent at once (`KEYWORD_DATE_CONCURRENCY`, 1..=8, default 2); each
    /// takes two database connections, so the function runs at most DB_MAX_CONNECTIONS / 2.
    pub date_concurrency: usize,
    /// `SendMessageBatch` requests in flight at once (`KEYWORD_SEND_IN_FLIGHT`, 1..=16, 4).
    pub send_in_flight: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            zone: chat::DEFAULT_TIME_ZONE,
            normalization: Normalization::On,
            max_range_days: 31,
            requeue_after: Duration::from_secs(6 * 3600),
            questions_per_message: 10,
            date_concurrency: 2,
            send_in_flight: 4,
        }
    }
}

impl BatchSettings {
    /// Reads every `KEYWORD_*` setting of the batch.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is wrong.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            zone: chat::time_zone_from_env()?,
            normalization: Normalization::from_env()?,
            max_range_days: env_in_range(
                "KEYWORD_MAX_RANGE_DAYS",
                defaults.max_range_days,
                1,
                366,
            )?,
            requeue_after: Duration::from_secs(env_in_range(
                "KEYWORD_REQUEUE_AFTER_SECS",
                defaults.requeue_after.as_secs(),
                60,
                14 * 86_400,
            )?),
            questions_per_message: env_in_range(
                "KEYWORD_QUESTIONS_PER_MESSAGE",
                defaults.questions_per_message,
                1,
                10,
            )?,
            date_concurrency: env_in_range(
                "KEYWORD_DATE_CONCURRENCY",
                defaults.date_concurrency,
                1,
                8,
            )?,
            send_in_flight: env_in_range("KEYWORD_SEND_IN_FLIGHT", defaults.send_in_flight, 1, 16)?,
        })
    }
}
