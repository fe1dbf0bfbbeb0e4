//! The `sync-worker` function (source system 003): a DataX job spread over many
//! invocations. Two kinds of SQS message:
//!
//! - `{"exec_log_id": N}`, sent by `POST /api/config/exec` after it queued the run's
//!   `exec_log` row: [`planner`] claims the run, takes its job JSON (with its incremental
//!   window, if any) as the run's snapshot, runs `preSql`, cuts the job into ranges (DataX's
//!   tasks) and queues the first `channel` of them;
//! - `{"exec_log_id": N, "range": I}`: [`range`] runs one range until it ends or the
//!   invocation's deadline less a margin; a stopped range records its checkpoint (the
//!   last key written) and queues itself again; a finished one queues the next pending
//!   range, so `channel` ranges run at once; the last one to finish has [`assemble`]
//!   record the run's log and DataX's summary (the whole log in `exec_result` when it
//!   fits, otherwise in S3 at `logs/{config}/{run}.log` with its head and the summary in
//!   the row) and move the incremental mark.
//!
//! Every message may arrive twice and any worker may die midway: the [`ledger`] says how
//! each range stands, and `exec_log.exactly_once` how a range is resumed without writing
//! a row twice. Passwords are decrypted here and never written anywhere.

pub mod assemble;
pub mod ledger;
pub mod planner;
pub mod range;

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono_tz::Tz;
use common::{
    config::{ConfigError, env_in_range, env_opt, env_or},
    sqs::{MessageError, OutgoingMessage, Producer, handle_batch},
};
use serde::Deserialize;
use sqlx::MySqlPool;
use sync_engine::{
    endpoint::{ALLOWED_HOSTS_VAR, AllowList},
    job::Job,
    run::{Datasources, RunOptions},
    store::{self, Finished},
    summary::Summary,
    vault::PasswordCipher,
};
use tokio::time::Instant;

/// The worker's environment.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub allow: AllowList,
    pub connect_timeout: Duration,
    /// The zone of the log's and the summary's times (`SYNC_TIME_ZONE`).
    pub zone: Tz,
    /// Where long logs go (`SYNC_BUCKET`).
    pub bucket: String,
    /// Stop this long before the invocation's deadline (`SYNC_DEADLINE_MARGIN_SECS`).
    pub deadline_margin: Duration,
    /// A run `running` for longer is taken as abandoned (`SYNC_RUN_STALE_SECS`; more than
    /// the function's time-out).
    pub stale_secs: u64,
    /// The longest log kept in `exec_result` (`SYNC_EXEC_RESULT_MAX_BYTES`).
    pub result_max_bytes: usize,
    /// This queue: where range messages go (`SYNC_QUEUE_URL`).
    pub queue_url: String,
    /// How often a running range renews its lease and records its checkpoint
    /// (`SYNC_CHECKPOINT_SECS`).
    pub checkpoint_every: Duration,
    /// A range whose lease was not renewed for this long is taken as abandoned
    /// (`SYNC_RANGE_LEASE_SECS`, at least 3 × the checkpoint interval).
    pub lease: Duration,
}

fn invalid(name: &'static str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl WorkerSettings {
    /// Reads the settings; each bad value names its variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let hosts: String = env_or(ALLOWED_HOSTS_VAR, String::new())?;
        let allow = AllowList::parse(&hosts)
            .map_err(|reason| invalid(ALLOWED_HOSTS_VAR, &hosts, &reason))?;
        let connect_ms: u64 = env_or("SYNC_CONNECT_TIMEOUT_MS", 5000)?;
        if !(100..=60_000).contains(&connect_ms) {
            return Err(invalid(
                "SYNC_CONNECT_TIMEOUT_MS",
                connect_ms,
                "must be 100 to 60000",
            ));
        }
        let zone_name: String = env_or("SYNC_TIME_ZONE", "Asia/Shanghai".to_owned())?;
        let zone: Tz = zone_name
            .parse()
            .map_err(|_| invalid("SYNC_TIME_ZONE", &zone_name, "not an IANA time zone"))?;
        let bucket: Option<String> = env_opt("SYNC_BUCKET")?;
        let bucket = bucket.ok_or(ConfigError::Missing {
            name: "SYNC_BUCKET",
            hint: "the bucket of the job configs and long run logs",
        })?;
        let margin: u64 = env_or("SYNC_DEADLINE_MARGIN_SECS", 60)?;
        let stale_secs: u64 = env_or("SYNC_RUN_STALE_SECS", 1800)?;
        if stale_secs < 960 {
            return Err(invalid(
                "SYNC_RUN_STALE_SECS",
                stale_secs,
                "must exceed the 15-minute Lambda limit (≥ 960)",
            ));
        }
        let result_max_bytes: usize = env_or("SYNC_EXEC_RESULT_MAX_BYTES", 65_536)?;
        if !(4096..=8 << 20).contains(&result_max_bytes) {
            return Err(invalid(
                "SYNC_EXEC_RESULT_MAX_BYTES",
                result_max_bytes,
                "must be 4096 to 8388608",
            ));
        }
        let queue_url: Option<String> = env_opt("SYNC_QUEUE_URL")?;
        let queue_url = queue_url.ok_or(ConfigError::Missing {
            name: "SYNC_QUEUE_URL",
            hint: "this function's own queue, where the ranges of a run are sent",
        })?;
        let checkpoint_secs: u64 = env_in_range("SYNC_CHECKPOINT_SECS", 10, 1, 300)?;
        let lease_secs: u64 = env_or("SYNC_RANGE_LEASE_SECS", 120)?;
        if lease_secs < 3 * checkpoint_secs || lease_secs > stale_secs {
            return Err(invalid(
                "SYNC_RANGE_LEASE_SECS",
                lease_secs,
                "must be at least 3 × SYNC_CHECKPOINT_SECS and at most SYNC_RUN_STALE_SECS",
            ));
        }
        Ok(Self {
            allow,
            connect_timeout: Duration::from_millis(connect_ms),
            zone,
            bucket,
            deadline_margin: Duration::from_secs(margin),
            stale_secs,
            result_max_bytes,
            queue_url,
            checkpoint_every: Duration::from_secs(checkpoint_secs),
            lease: Duration::from_secs(lease_secs),
        })
    }
}

/// A message of this queue: a run to plan, or one of its ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunMessage {
    pub exec_log_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<u32>,
}

/// What one message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// This delivery planned the run into this many ranges and queued the first ones.
    Planned(usize),
    /// This delivery ended the run before any range (a job that cannot run): its status.
    Ran(&'static str),
    /// This delivery ran a range to this state (done, queued again, failed).
    Range(&'static str),
    /// Another delivery has it or had it: its status.
    AlreadyTaken(String),
    /// No such run or range (its config was deleted with its runs).
    Missing,
}

/// Everything a run needs, built once per execution environment.
pub struct Worker {
    pub pool: MySqlPool,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub cipher: PasswordCipher,
    pub settings: WorkerSettings,
}

impl Worker {
    /// Handles a batch (the event source uses batches of one: a range is long).
    pub async fn handle(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        handle_batch(event, 1, |message: SqsMessage| async move {
            let body = message.body.unwrap_or_default();
            let message: RunMessage = serde_json::from_str(&body).map_err(|e| {
                MessageError::permanent(format!(
                    "not a run message ({{\"exec_log_id\": N}} or {{\"exec_log_id\": N, \"range\": I}}): {e}"
                ))
            })?;
            self.handle_message(message, deadline).await.map(drop)
        })
        .await
    }

    /// Plans the run, or runs the range, a message names.
    pub async fn handle_message(
        &self,
        message: RunMessage,
        deadline: Instant,
    ) -> Result<Handled, MessageError> {
        match message.range {
            None => self.plan_run(message.exec_log_id, deadline).await,
            Some(index) => self.run_range(message.exec_log_id, index, deadline).await,
        }
    }

    /// Sends one message per range of run `run`.
    pub(crate) async fn send_ranges(&self, run: u64, ranges: &[u32]) -> Result<(), MessageError> {
        if ranges.is_empty() {
            return Ok(());
        }
        let messages = ranges
            .iter()
            .map(|&index| {
                OutgoingMessage::new(
                    serde_json::json!({"exec_log_id": run, "range": index}).to_string(),
                )
            })
            .collect();
        Producer::new(self.sqs.clone(), &self.settings.queue_url)
            .send_all(messages)
            .await
            .map(drop)
            .map_err(MessageError::retryable)
    }

    /// A run's job (its snapshot or its config's JSON) parsed, with its datasources.
    pub(crate) async fn load_job(&self, content: &str) -> Result<(Job, Datasources), String> {
        let job = parse_job(content)?;
        let mut datasources = Datasources::new();
        for (side, id) in job.datasource_ids() {
            let endpoint = store::datasource_endpoint(&self.pool, &self.cipher, id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("datasource {id} no longer exists"))?;
            datasources.insert(side, endpoint);
        }
        Ok((job, datasources))
    }

    /// The engine's options for an invocation ending at `deadline`.
    pub(crate) fn options(&self, deadline: Instant) -> RunOptions {
        let mut options = RunOptions::new(self.settings.allow.clone());
        options.connect_timeout = self.settings.connect_timeout;
        options.deadline = Some(
            deadline
                .checked_sub(self.settings.deadline_margin)
                .unwrap_or(deadline),
        );
        options
    }

    /// The `exec_log` end of a run whose log is `text`: the whole log in the row when it
    /// fits, otherwise in S3 with its head and the summary in the row.
    pub(crate) async fn finished(
        &self,
        config_id: u64,
        exec_log_id: u64,
        status: &'static str,
        error: Option<String>,
        summary: Option<(&Summary, serde_json::Value)>,
        text: String,
    ) -> Finished {
        let lines = text.lines().count() as u64;
        let block = summary.as_ref().map(|(s, _)| s.block()).unwrap_or_default();
        let (exec_result, log_key) = if text.len() <= self.settings.result_max_bytes {
            (text, None)
        } else {
            let key = format!("logs/{config_id}/{exec_log_id}.log");
            let head = head_of(&text, self.settings.result_max_bytes / 2);
            let stored = self
                .s3
                .put_object()
                .bucket(&self.settings.bucket)
                .key(&key)
                .content_type("text/plain; charset=utf-8")
                .body(text.clone().into_bytes().into())
                .send()
                .await;
            match stored {
                Ok(_) => (
                    format!(
                        "{head}\n… the whole log ({} bytes, {lines} lines) is at s3://{}/{key}\n{block}",
                        text.len(),
                        self.settings.bucket,
                    ),
                    Some(key),
                ),
                Err(error) => {
                    tracing::error!(exec_log_id, error = %common::error::error_chain(&error), "the long log could not be stored in S3; its head is kept");
                    (
                        format!("{head}\n… the rest of the log could not be stored\n{block}"),
                        None,
                    )
                }
            }
        };
        let counts = summary.as_ref().map(|(s, _)| *s);
        Finished {
            status,
            exec_result,
            summary: summary.map_or(serde_json::Value::Null, |(_, json)| json),
            records_read: counts.as_ref().map_or(0, |s| s.read_records),
            records_written: counts.as_ref().map_or(0, |s| s.written_records),
            records_failed: counts.as_ref().map_or(0, |s| s.failed_records),
            bytes_read: counts.as_ref().map_or(0, |s| s.read_bytes),
            log_lines: lines,
            log_key,
            error,
        }
    }
}

/// A job JSON's text parsed and validated; `Err` says why it cannot run.
pub(crate) fn parse_job(content: &str) -> Result<Job, String> {
    let doc: serde_json::Value =
        serde_json::from_str(content).map_err(|e| format!("the job JSON does not parse: {e}"))?;
    Job::parse(&doc).map_err(|problems| format!("the job JSON is not valid: {problems}"))
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn head_of(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_is_cut_at_a_character_boundary() {
        assert_eq!(head_of("任务启动", 4), "任");
        assert_eq!(head_of("abc", 10), "abc");
    }
}
