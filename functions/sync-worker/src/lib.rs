//! The `sync-worker` function (source system 003): one SQS message per run,
//! `{"exec_log_id": N}`, sent by `POST /api/config/exec` after it queued the run's
//! `exec_log` row. The worker claims the row (a redelivered message finds it taken and is
//! acknowledged), reads the job config, resolves the datasources it names (passwords
//! decrypted here, never written anywhere), runs the DataX job with sync-engine until the
//! invocation's deadline less a margin, and records the log and DataX's summary: the whole
//! log in `exec_result` when it fits, otherwise in S3 at `logs/{config}/{run}.log` with
//! its head and the summary in the row.

use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono_tz::Tz;
use common::{
    config::{ConfigError, env_opt, env_or},
    sqs::{MessageError, handle_batch},
};
use serde::Deserialize;
use sqlx::MySqlPool;
use sync_engine::{
    endpoint::{ALLOWED_HOSTS_VAR, AllowList},
    job::Job,
    log::{DEFAULT_LOG_CAP_BYTES, RunLog},
    run::{Datasources, RunOptions, RunReport, RunStatus, run},
    store::{self, Claim, Finished, status},
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
        Ok(Self {
            allow,
            connect_timeout: Duration::from_millis(connect_ms),
            zone,
            bucket,
            deadline_margin: Duration::from_secs(margin),
            stale_secs,
            result_max_bytes,
        })
    }
}

/// A run to do.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunMessage {
    pub exec_log_id: u64,
}

/// What one message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// This delivery ran it, to this status.
    Ran(&'static str),
    /// Another delivery has it or had it.
    AlreadyTaken(String),
    /// No such run (its config was deleted with its runs).
    Missing,
}

/// Everything a run needs, built once per execution environment.
pub struct Worker {
    pub pool: MySqlPool,
    pub s3: aws_sdk_s3::Client,
    pub cipher: PasswordCipher,
    pub settings: WorkerSettings,
}

impl Worker {
    /// Handles a batch (the event source uses batches of one: a run is long).
    pub async fn handle(&self, event: SqsEvent, deadline: Instant) -> SqsBatchResponse {
        handle_batch(event, 1, |message: SqsMessage| async move {
            let body = message.body.unwrap_or_default();
            let run: RunMessage = serde_json::from_str(&body).map_err(|e| {
                MessageError::permanent(format!("not a run message ({{\"exec_log_id\": N}}): {e}"))
            })?;
            self.run_once(run.exec_log_id, deadline).await.map(drop)
        })
        .await
    }

    /// Runs `exec_log_id` if this delivery claims it.
    pub async fn run_once(
        &self,
        exec_log_id: u64,
        deadline: Instant,
    ) -> Result<Handled, MessageError> {
        let claim = store::claim_run(&self.pool, exec_log_id, self.settings.stale_secs)
            .await
            .map_err(MessageError::retryable)?;
        let config_id = match claim {
            Claim::Won { config_id } => config_id,
            Claim::Taken { status } => {
                tracing::info!(exec_log_id, %status, "run already taken; this delivery does nothing");
                return Ok(Handled::AlreadyTaken(status));
            }
            Claim::Missing => {
                tracing::warn!(exec_log_id, "no such run; its config was deleted");
                return Ok(Handled::Missing);
            }
        };
        let log = RunLog::new(
            format!("job-{exec_log_id}"),
            self.settings.zone,
            DEFAULT_LOG_CAP_BYTES,
        );
        let outcome = self.execute(config_id, deadline, &log).await;
        let end = match outcome {
            Ok(report) => self.finished(config_id, exec_log_id, &report, &log).await,
            Err(reason) => {
                log.error(&reason);
                Finished {
                    status: status::FAILED,
                    exec_result: log.text(),
                    summary: serde_json::Value::Null,
                    records_read: 0,
                    records_written: 0,
                    records_failed: 0,
                    bytes_read: 0,
                    log_lines: log.snapshot().0.len() as u64,
                    log_key: None,
                    error: Some(reason),
                }
            }
        };
        store::finish_run(&self.pool, exec_log_id, &end)
            .await
            .map_err(MessageError::retryable)?;
        tracing::info!(
            exec_log_id,
            config_id,
            status = end.status,
            read = end.records_read,
            written = end.records_written,
            failed = end.records_failed,
            "run finished"
        );
        Ok(Handled::Ran(end.status))
    }

    /// Reads the config and its datasources and runs it; `Err` says why it could not run.
    async fn execute(
        &self,
        config_id: u64,
        deadline: Instant,
        log: &RunLog,
    ) -> Result<RunReport, String> {
        let config: Option<(String, String)> =
            sqlx::query_as("SELECT config_name, content FROM json_config WHERE id = ?")
                .bind(config_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| format!("reading config {config_id}: {e}"))?;
        let (name, content) =
            config.ok_or_else(|| format!("config {config_id} no longer exists"))?;
        log.info(&format!(
            "config {config_id} ({name}): the DataX job runs natively"
        ));
        let doc: serde_json::Value = serde_json::from_str(&content)
            .map_err(|e| format!("the stored job JSON does not parse: {e}"))?;
        let job = Job::parse(&doc)
            .map_err(|problems| format!("the stored job JSON is not valid: {problems}"))?;
        let mut datasources = Datasources::new();
        for (side, id) in job.datasource_ids() {
            let endpoint = store::datasource_endpoint(&self.pool, &self.cipher, id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("datasource {id} no longer exists"))?;
            datasources.insert(side, endpoint);
        }
        let mut options = RunOptions::new(self.settings.allow.clone());
        options.connect_timeout = self.settings.connect_timeout;
        options.deadline = Some(
            deadline
                .checked_sub(self.settings.deadline_margin)
                .unwrap_or(deadline),
        );
        Ok(run(&job, &datasources, &options, log).await)
    }

    async fn finished(
        &self,
        config_id: u64,
        exec_log_id: u64,
        report: &RunReport,
        log: &RunLog,
    ) -> Finished {
        let status = match report.status {
            RunStatus::Succeeded => status::SUCCEEDED,
            RunStatus::Failed => status::FAILED,
            RunStatus::Stopped => status::STOPPED,
        };
        let text = log.text();
        let lines = text.lines().count() as u64;
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
                        "{head}\n… the whole log ({} bytes, {lines} lines) is at s3://{}/{key}\n{}",
                        text.len(),
                        self.settings.bucket,
                        report.summary.block()
                    ),
                    Some(key),
                ),
                Err(error) => {
                    tracing::error!(exec_log_id, error = %common::error::error_chain(&error), "the long log could not be stored in S3; its head is kept");
                    (
                        format!(
                            "{head}\n… the rest of the log could not be stored\n{}",
                            report.summary.block()
                        ),
                        None,
                    )
                }
            }
        };
        Finished {
            status,
            exec_result,
            summary: serde_json::to_value(report).unwrap_or(serde_json::Value::Null),
            records_read: report.summary.read_records,
            records_written: report.summary.written_records,
            records_failed: report.summary.failed_records,
            bytes_read: report.summary.read_bytes,
            log_lines: lines,
            log_key,
            error: report.error.clone(),
        }
    }
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
