//! The end of a run, whichever worker reaches it: the last range to finish, the first
//! range to fail, or the planner of a run with nothing to copy. One compare-and-set on
//! `exec_log.assembled_at` lets one of them assemble: `errorLimit.percentage` over the
//! whole job and `postSql` (a success only), the target's checkpoint rows removed, the
//! incremental mark moved (a success only), and the run's log (the plan's, then every
//! range's in task order) with DataX's summary over all the ranges recorded.

use chrono::{NaiveDateTime, Utc};
use chrono_tz::Tz;
use common::sqs::MessageError;
use sync_engine::{
    log::{DEFAULT_LOG_CAP_BYTES, RunLog},
    run::{RunReport, RunStatus, conclude, drop_target_checkpoints},
    store::{self, status},
    summary::Summary,
};
use tokio::time::Instant;

use crate::{
    Worker,
    ledger::{self, ExactlyOnce},
};

type AssemblyRow = (
    u64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
    u32,
    Option<String>,
    Option<String>,
);

fn local(zone: Tz, utc: NaiveDateTime) -> NaiveDateTime {
    utc.and_utc().with_timezone(&zone).naive_local()
}

impl Worker {
    /// Assembles run `run` if no one has; `failure` is why it failed (`None`: every range
    /// is done). Answers the run's status when this call assembled it.
    pub async fn assemble(
        &self,
        run: u64,
        failure: Option<String>,
        deadline: Instant,
    ) -> Result<Option<&'static str>, MessageError> {
        let retry = MessageError::retryable;
        let won = sqlx::query(
            "UPDATE exec_log SET assembled_at = UTC_TIMESTAMP(3) \
             WHERE id = ? AND status = 'running' AND assembled_at IS NULL",
        )
        .bind(run)
        .execute(&self.pool)
        .await
        .map_err(retry)?
        .rows_affected()
            == 1;
        if !won {
            return Ok(None);
        }
        let row: AssemblyRow = sqlx::query_as(
            "SELECT config_id, job_content, run_token, exactly_once, started_at, exec_result, \
             ranges, inc_from, inc_to FROM exec_log WHERE id = ?",
        )
        .bind(run)
        .fetch_one(&self.pool)
        .await
        .map_err(retry)?;
        let (config_id, content, token, mode, started_at, plan_log, ranges, inc_from, inc_to) = row;
        let totals = ledger::totals(&self.pool, run).await.map_err(retry)?;
        let zone = self.settings.zone;
        let log = RunLog::new(format!("job-{run}"), zone, DEFAULT_LOG_CAP_BYTES);
        let mut error = failure;
        let loaded = match &content {
            Some(content) => Some(self.load_job(content).await),
            None => None,
        };
        if let Some(Ok((job, datasources))) = &loaded {
            let options = self.options(deadline);
            if error.is_none()
                && let Err(reason) = conclude(job, datasources, &options, &log, totals.counts).await
            {
                error = Some(reason);
            }
            if ExactlyOnce::parse(mode.as_deref().unwrap_or("none")) == ExactlyOnce::Ledger
                && let Some(token) = &token
                && let Err(reason) =
                    drop_target_checkpoints(job, datasources, &options, token).await
            {
                log.warn(&format!(
                    "the run's checkpoint rows stay in the target: {reason}"
                ));
            }
        } else if let Some(Err(reason)) = &loaded {
            error.get_or_insert_with(|| reason.clone());
        }
        let succeeded = error.is_none();
        if succeeded
            && let (Some(from), Some(to)) = (&inc_from, &inc_to)
            && from != to
        {
            // Only from the mark this run started at: a mark someone reset meanwhile stays.
            let moved = sqlx::query(
                "UPDATE json_config SET high_water_mark = ? WHERE id = ? \
                 AND (high_water_mark IS NULL OR high_water_mark = ?)",
            )
            .bind(to)
            .bind(config_id)
            .bind(from)
            .execute(&self.pool)
            .await
            .map_err(retry)?
            .rows_affected();
            if moved == 1 {
                log.info(&format!("incremental mark moved from {from} to {to}"));
            } else {
                log.warn(&format!(
                    "the incremental mark was changed during the run; it is not moved to {to}"
                ));
            }
        }
        let status_text = if succeeded {
            status::SUCCEEDED
        } else {
            status::FAILED
        };
        match &error {
            Some(reason) => log.error(&format!("the job failed: {reason}")),
            None => log.info("the job finished"),
        }
        let now = Utc::now().naive_utc();
        let transfer_ms = totals
            .transfer
            .map_or(0, |(a, b)| (b - a).num_milliseconds().max(0) as u64);
        let summary = Summary::new(
            local(zone, started_at.unwrap_or(now)),
            local(zone, now),
            transfer_ms,
            totals.counts,
        );
        log.raw(summary.block());
        let mut text = plan_log.unwrap_or_default();
        for (_, range_log, range_error) in &totals.logs {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(range_log);
            if range_log.is_empty()
                && let Some(range_error) = range_error
            {
                text.push_str(range_error);
            }
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&log.text());
        let report = RunReport {
            status: if succeeded {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            },
            error: error.clone(),
            summary: summary.clone(),
            tasks: ranges as usize,
            remaining: Vec::new(),
        };
        let json = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
        let end = self
            .finished(
                config_id,
                run,
                status_text,
                error,
                Some((&summary, json)),
                text,
            )
            .await;
        store::finish_run(&self.pool, run, &end)
            .await
            .map_err(retry)?;
        tracing::info!(
            exec_log_id = run,
            config_id,
            status = status_text,
            read = summary.read_records,
            written = summary.written_records,
            failed = summary.failed_records,
            "run finished"
        );
        Ok(Some(status_text))
    }
}
