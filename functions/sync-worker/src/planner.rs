//! Planning a run (its `{"exec_log_id": N}` message): claim the queued `exec_log` row,
//! take the config's job JSON as the run's snapshot (with its incremental window
//! substituted), run `preSql`, cut the job into ranges, choose how each range is kept
//! exactly once, store the plan and queue the first `channel` ranges.
//!
//! A redelivered plan message finds the run taken; if it was planned, the first ranges'
//! messages are sent again (the first sending may not have happened; a range message
//! delivered twice is harmless).

use common::sqs::MessageError;
use sync_engine::{
    incremental::{Incremental, Window, advances, apply, current_value_sql},
    job::{Job, Login, ReaderSpec, WriterSpec},
    log::{DEFAULT_LOG_CAP_BYTES, RunLog},
    run::{Datasources, prepare, reader_value},
    store::{self, Claim, status},
};
use tokio::time::Instant;

use crate::{
    Handled, Worker,
    ledger::{self, ExactlyOnce, Plan},
    parse_job,
};

/// The job a run will run, as the config holds it when the run starts.
pub(crate) struct Snapshot {
    pub config_name: String,
    pub content: String,
    /// `content` parsed, and the datasources it names (resolved once).
    pub job: Job,
    pub datasources: Datasources,
    /// The incremental window `(from, to)` substituted into `content`, if any.
    pub window: Option<(String, String)>,
}

impl Worker {
    /// Claims and plans run `exec_log_id`.
    pub async fn plan_run(
        &self,
        exec_log_id: u64,
        deadline: Instant,
    ) -> Result<Handled, MessageError> {
        let claim = store::claim_run(&self.pool, exec_log_id, self.settings.stale_secs)
            .await
            .map_err(MessageError::retryable)?;
        let config_id = match claim {
            Claim::Won { config_id } => config_id,
            Claim::Taken { status, planned } => {
                if planned && status == status::RUNNING {
                    let first = ledger::first_queued(&self.pool, exec_log_id)
                        .await
                        .map_err(MessageError::retryable)?;
                    self.send_ranges(exec_log_id, &first).await?;
                }
                tracing::info!(exec_log_id, %status, "run already taken; this delivery does nothing more");
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
        match self.plan(config_id, exec_log_id, deadline, &log).await {
            Ok(Some(ranges)) => Ok(Handled::Planned(ranges)),
            Ok(None) => Ok(Handled::AlreadyTaken(status::RUNNING.into())),
            Err(reason) => {
                log.error(&reason);
                let end = self
                    .finished(
                        config_id,
                        exec_log_id,
                        status::FAILED,
                        Some(reason),
                        None,
                        log.text(),
                    )
                    .await;
                store::finish_run(&self.pool, exec_log_id, &end)
                    .await
                    .map_err(MessageError::retryable)?;
                tracing::info!(exec_log_id, config_id, "run failed before its ranges");
                Ok(Handled::Ran(status::FAILED))
            }
        }
    }

    /// Plans the run; `Ok(None)` when another delivery stored the plan first.
    async fn plan(
        &self,
        config_id: u64,
        exec_log_id: u64,
        deadline: Instant,
        log: &RunLog,
    ) -> Result<Option<usize>, String> {
        let snapshot = self.snapshot(config_id, exec_log_id, deadline, log).await?;
        log.info(&format!(
            "config {config_id} ({}): the DataX job runs natively, one range per invocation",
            snapshot.config_name
        ));
        let (job, datasources) = (&snapshot.job, &snapshot.datasources);
        let consent = match &job.writer {
            WriterSpec::Db(writer) => match writer.login {
                Login::Datasource(id) => sqlx::query_scalar::<_, bool>(
                    "SELECT checkpoint_table FROM datasource WHERE id = ?",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| format!("reading datasource {id}: {e}"))?
                .unwrap_or(false),
                Login::Inline { .. } => false,
            },
            WriterSpec::Stream(_) => false,
        };
        let options = self.options(deadline);
        let prepared = prepare(job, datasources, &options, log, consent).await?;
        let exactly_once = if consent {
            ExactlyOnce::Ledger
        } else if prepared.rewrite_safe {
            ExactlyOnce::Rewrite
        } else {
            ExactlyOnce::None
        };
        match exactly_once {
            ExactlyOnce::Ledger => log.info(
                "exactly once: each batch commits with its range's checkpoint in the target",
            ),
            ExactlyOnce::Rewrite => log.info(
                "exactly once: writeMode rewrites a row in place, so a range resumed from its last checkpoint writes nothing twice",
            ),
            ExactlyOnce::None => log.warn(
                "writeMode insert without a checkpoint table: a range stopped at its deadline resumes exactly, but a range whose worker dies midway fails the run rather than write rows twice; allow the checkpoint table on the writer's datasource (checkpoint_table) or use writeMode replace/update on a keyed table to make it resumable",
            ),
        }
        let lanes = job.setting.channel.min(prepared.tasks.len() as u32).max(1);
        log.info(&format!(
            "{} ranges, {lanes} at once (channel {}); each range is one worker invocation at a time",
            prepared.tasks.len(),
            job.setting.channel
        ));
        let run_token = uuid::Uuid::new_v4().simple().to_string();
        let plan_log = log.text();
        let stored = ledger::store_plan(
            &self.pool,
            exec_log_id,
            &Plan {
                job_content: &snapshot.content,
                run_token: &run_token,
                exactly_once,
                tasks: &prepared.tasks,
                lanes,
                plan_log: &plan_log,
                window: snapshot
                    .window
                    .as_ref()
                    .map(|(from, to)| (from.as_str(), to.as_str())),
            },
        )
        .await
        .map_err(|e| format!("storing the plan: {e}"))?;
        if !stored {
            return Ok(None);
        }
        if prepared.tasks.is_empty() {
            // Nothing to copy: the run ends here, through the same assembly.
            self.assemble(exec_log_id, None, deadline)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(Some(0));
        }
        let first: Vec<u32> = (0..lanes).collect();
        self.send_ranges(exec_log_id, &first)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            exec_log_id,
            config_id,
            ranges = prepared.tasks.len(),
            lanes,
            mode = exactly_once.as_str(),
            "run planned"
        );
        Ok(Some(prepared.tasks.len()))
    }

    /// The config's job JSON for this run: for an incremental config, with the window
    /// from its mark to the value read on the reader now.
    async fn snapshot(
        &self,
        config_id: u64,
        exec_log_id: u64,
        deadline: Instant,
        log: &RunLog,
    ) -> Result<Snapshot, String> {
        let config: Option<(String, String, Option<serde_json::Value>, Option<String>)> =
            sqlx::query_as(
                "SELECT config_name, content, incremental, high_water_mark FROM json_config WHERE id = ?",
            )
            .bind(config_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| format!("reading config {config_id}: {e}"))?;
        let (config_name, content, incremental, mark) =
            config.ok_or_else(|| format!("config {config_id} no longer exists"))?;
        let (raw, datasources) = self.load_job(&content).await?;
        let Some(setting) = incremental.filter(|v| !v.is_null()) else {
            return Ok(Snapshot {
                config_name,
                content,
                job: raw,
                datasources,
                window: None,
            });
        };
        let setting: Incremental = serde_json::from_value(setting)
            .map_err(|e| format!("the stored incremental setting does not parse: {e}"))?;
        // Two runs of one incremental config would read the same window.
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM exec_log WHERE config_id = ? AND id <> ? AND status = 'running'",
        )
        .bind(config_id)
        .bind(exec_log_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| format!("reading the config's runs: {e}"))?;
        if others > 0 {
            return Err(format!(
                "another run of incremental config {config_id} is running; this one would read the same window (run it again when that one ends)"
            ));
        }
        let ReaderSpec::Db(reader) = &raw.reader else {
            return Err("incremental sync needs a database reader".into());
        };
        let first = reader
            .connections
            .first()
            .and_then(|c| c.tables.first())
            .map(String::as_str)
            .unwrap_or_default();
        let table = setting.source_table(first);
        if table.is_empty() {
            return Err(
                "incremental.table is needed: the reader reads querySql, so it names no table to read the current value from"
                    .into(),
            );
        }
        let sql = current_value_sql(reader.kind, &setting, table);
        let current = reader_value(&raw, &datasources, &self.options(deadline), &sql).await?;
        let from = mark.unwrap_or_else(|| setting.initial_mark());
        let to = match current {
            Some(value) if advances(&setting, &from, &value).map_err(|e| e.to_string())? => value,
            Some(value) => {
                log.warn(&format!(
                    "incremental: the current value {value} is not past the mark {from}; nothing new is read"
                ));
                from.clone()
            }
            None => from.clone(),
        };
        log.info(&format!(
            "incremental by {} {}: from {from} to {to} (read on the reader now)",
            setting.kind.as_str(),
            setting.column
        ));
        let doc: serde_json::Value = serde_json::from_str(&content)
            .map_err(|e| format!("the job JSON does not parse: {e}"))?;
        let window = Window {
            from: from.clone(),
            to: to.clone(),
        };
        let applied = apply(&doc, &setting, &window)
            .map_err(|e| e.to_string())?
            .to_string();
        // The window changes the reader's SQL only: the datasources stay those resolved.
        let job = parse_job(&applied)?;
        Ok(Snapshot {
            config_name,
            content: applied,
            job,
            datasources,
            window: Some((from, to)),
        })
    }
}
