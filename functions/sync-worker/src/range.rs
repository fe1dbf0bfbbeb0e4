//! Running one range (its `{"exec_log_id": N, "range": I}` message) in this invocation.
//!
//! The range is taken with a compare-and-set on the ledger (a second delivery finds it
//! taken and does nothing). While it runs, a heartbeat renews the lease and, where a
//! rewrite is harmless, records the checkpoint; it also stops the range when the run was
//! failed elsewhere or the lease was lost. A range whose lease went stale (its worker
//! died) is taken over: from the target's checkpoint row (`ledger`), from the ledger's
//! last checkpoint (`rewrite`: the rows after it are written again, in place), or not at
//! all (`none`: the run fails, since its rows could be written twice).
//!
//! The range's share of the job's limits: `speed.record` / `speed.byte` divided by the
//! run's lanes (the ranges running at once), `errorLimit.record` less the dirty records
//! the other ranges found.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use common::sqs::MessageError;
use sync_engine::{
    checkpoint::TargetCheckpoint,
    log::{DEFAULT_LOG_CAP_BYTES, RunLog},
    run::{
        Progress, ProgressHook, TaskOutcome, TaskReport, claim_target_checkpoint, run_task_alone,
    },
    store::status,
    summary::Counts,
};
use tokio::time::Instant;

use crate::{
    Handled, Worker,
    ledger::{self, Ended, ExactlyOnce, Range, state},
};

/// The run a range belongs to, as its ranges read it.
pub(crate) struct RunRow {
    pub status: String,
    pub job_content: Option<String>,
    pub run_token: Option<String>,
    pub exactly_once: ExactlyOnce,
    pub lanes: u32,
}

type RunRowTuple = (String, Option<String>, Option<String>, Option<String>, u32);

/// What a range runs with: the run's job, its datasources, this range's options, where it
/// resumes and what its earlier invocations did.
struct RangeSetup {
    job: sync_engine::job::Job,
    datasources: sync_engine::run::Datasources,
    options: sync_engine::run::RunOptions,
    resume: Option<i64>,
    base: Counts,
}

pub(crate) async fn run_row(
    pool: &sqlx::MySqlPool,
    run: u64,
) -> Result<Option<RunRow>, sqlx::Error> {
    let row: Option<RunRowTuple> = sqlx::query_as(
        "SELECT status, job_content, run_token, exactly_once, lanes FROM exec_log WHERE id = ?",
    )
    .bind(run)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(status, job_content, run_token, exactly_once, lanes)| RunRow {
            status,
            job_content,
            run_token,
            exactly_once: ExactlyOnce::parse(exactly_once.as_deref().unwrap_or("none")),
            lanes,
        },
    ))
}

impl Worker {
    /// Runs range `index` of run `run` if this delivery may.
    pub async fn run_range(
        &self,
        run: u64,
        index: u32,
        deadline: Instant,
    ) -> Result<Handled, MessageError> {
        let retry = MessageError::retryable;
        let Some(row) = run_row(&self.pool, run).await.map_err(retry)? else {
            return Ok(Handled::Missing);
        };
        let Some(range) = ledger::get(&self.pool, run, index)
            .await
            .map_err(MessageError::retryable)?
        else {
            return Ok(Handled::Missing);
        };
        if row.status != status::RUNNING {
            return Ok(Handled::AlreadyTaken(row.status));
        }
        let lease = uuid::Uuid::new_v4().simple().to_string();
        let mut taken_over = false;
        match range.status.as_str() {
            state::QUEUED => {
                if !ledger::claim(&self.pool, run, index, &lease)
                    .await
                    .map_err(retry)?
                {
                    return Ok(Handled::AlreadyTaken(state::RUNNING.into()));
                }
            }
            state::RUNNING => {
                let beat = range.heartbeat_at.map(|t| t.and_utc());
                let stale = beat.is_none_or(|t| {
                    (Utc::now() - t).to_std().unwrap_or_default() > self.settings.lease
                });
                let old = range.lease.clone().unwrap_or_default();
                if !stale {
                    tracing::info!(
                        run,
                        index,
                        "range is running elsewhere; this delivery does nothing"
                    );
                    return Ok(Handled::AlreadyTaken(state::RUNNING.into()));
                }
                if row.exactly_once == ExactlyOnce::None {
                    let reason = format!(
                        "range {index}: its worker stopped without finishing (a crash or the function time-out) and writeMode insert without a checkpoint table cannot resume it without writing rows twice; the run fails instead (allow the checkpoint table on the writer's datasource, or use writeMode replace/update on a keyed table)"
                    );
                    if ledger::fail_abandoned(&self.pool, run, index, &old, &reason)
                        .await
                        .map_err(retry)?
                    {
                        self.assemble(run, Some(reason), deadline).await?;
                        return Ok(Handled::Range(state::FAILED));
                    }
                    return Ok(Handled::AlreadyTaken(state::RUNNING.into()));
                }
                if !ledger::take_over(&self.pool, run, index, &old, &lease)
                    .await
                    .map_err(retry)?
                {
                    return Ok(Handled::AlreadyTaken(state::RUNNING.into()));
                }
                tracing::warn!(
                    run,
                    index,
                    "range taken over from a worker that stopped renewing its lease"
                );
                taken_over = true;
            }
            state::DONE => {
                self.after_done(run, index, deadline).await?;
                return Ok(Handled::AlreadyTaken(state::DONE.into()));
            }
            state::FAILED => {
                self.assemble(run, Some(format!("range {index} failed")), deadline)
                    .await?;
                return Ok(Handled::AlreadyTaken(state::FAILED.into()));
            }
            other => return Ok(Handled::AlreadyTaken(other.to_owned())),
        }
        self.execute_range(run, index, &row, range, &lease, taken_over, deadline)
            .await
    }

    /// Runs a range this invocation holds under `lease`, and records how it ended.
    #[allow(clippy::too_many_arguments)]
    async fn execute_range(
        &self,
        run: u64,
        index: u32,
        row: &RunRow,
        range: Range,
        lease: &str,
        taken_over: bool,
        deadline: Instant,
    ) -> Result<Handled, MessageError> {
        let retry = MessageError::retryable;
        let log = RunLog::new(
            format!("job-{run} task-{index}"),
            self.settings.zone,
            DEFAULT_LOG_CAP_BYTES,
        );
        if taken_over {
            log.warn("taken over from a worker that stopped renewing its lease");
        }
        let started = Utc::now();
        let prepared = self
            .range_setup(run, index, row, &range, lease, &log, deadline)
            .await;
        let RangeSetup {
            job,
            datasources,
            mut options,
            resume,
            base,
        } = match prepared {
            Ok(setup) => setup,
            Err(reason) => {
                log.error(&reason);
                let ended = Ended {
                    lease,
                    counts: range.counts,
                    log: &log.text(),
                    started,
                    ended: Utc::now(),
                };
                if ledger::fail(&self.pool, run, index, &reason, &ended)
                    .await
                    .map_err(retry)?
                {
                    self.assemble(run, Some(reason), deadline).await?;
                }
                return Ok(Handled::Range(state::FAILED));
            }
        };
        let latest: Arc<Mutex<Option<Progress>>> = Arc::new(Mutex::new(None));
        let cancel = Arc::new(AtomicBool::new(false));
        {
            let latest = latest.clone();
            options.progress = Some(ProgressHook(Arc::new(move |progress| {
                *latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(progress);
            })));
        }
        options.cancel = Some(cancel.clone());
        let heartbeat = tokio::spawn(heartbeat(
            self.pool.clone(),
            run,
            index,
            lease.to_owned(),
            // Only a task read in key order has a checkpoint to record: a task without one
            // starts again from its beginning, with the counts it had before.
            (row.exactly_once == ExactlyOnce::Rewrite && range.task.resumable()).then_some(base),
            latest,
            cancel.clone(),
            self.settings.checkpoint_every,
            self.settings.lease,
        ));
        let report: TaskReport =
            run_task_alone(&job, &datasources, &options, &log, &range.task, resume).await;
        heartbeat.abort();
        let cancelled = cancel.load(Ordering::Relaxed);
        let total = base.plus(report.counts);
        let text = log.text();
        let ended = Ended {
            lease,
            counts: total,
            log: &text,
            started: report.started.min(started),
            ended: report.ended,
        };
        match report.outcome {
            TaskOutcome::Complete => {
                if !ledger::complete(&self.pool, run, index, &ended)
                    .await
                    .map_err(retry)?
                {
                    return Ok(Handled::AlreadyTaken("taken over".into()));
                }
                tracing::info!(run, index, written = total.written, "range done");
                self.after_done(run, index, deadline).await?;
                Ok(Handled::Range(state::DONE))
            }
            TaskOutcome::Stopped {
                resume_after,
                records_done,
            } => {
                let restart = !range.task.resumable() && records_done > 0;
                if restart && (row.exactly_once != ExactlyOnce::Rewrite || range.restarts > 0) {
                    let reason = format!(
                        "task {index} has no key to resume from and did not finish within one invocation: give the reader a splitPk (an integer key) so that its ranges can stop and resume"
                    );
                    if ledger::fail(&self.pool, run, index, &reason, &ended)
                        .await
                        .map_err(retry)?
                    {
                        self.assemble(run, Some(reason), deadline).await?;
                    }
                    return Ok(Handled::Range(state::FAILED));
                }
                // A restart writes the task again from its start, in place: its counts
                // go back to what they were before this invocation.
                let counts = if restart { base } else { total };
                let ended = Ended { counts, ..ended };
                if !ledger::requeue(&self.pool, run, index, resume_after, restart, &ended)
                    .await
                    .map_err(retry)?
                {
                    return Ok(Handled::AlreadyTaken("taken over".into()));
                }
                if cancelled {
                    // The run ended elsewhere (failed): nothing more is sent.
                    return Ok(Handled::Range(state::QUEUED));
                }
                tracing::info!(
                    run,
                    index,
                    ?resume_after,
                    restart,
                    "range continues in a new invocation"
                );
                self.send_ranges(run, &[index]).await?;
                Ok(Handled::Range(state::QUEUED))
            }
            TaskOutcome::Failed(reason) => {
                if !ledger::fail(&self.pool, run, index, &reason, &ended)
                    .await
                    .map_err(retry)?
                {
                    return Ok(Handled::AlreadyTaken("taken over".into()));
                }
                self.assemble(run, Some(format!("task {index}: {reason}")), deadline)
                    .await?;
                Ok(Handled::Range(state::FAILED))
            }
        }
    }

    /// The job of the run, its datasources, this range's options, where it resumes and
    /// what it had done.
    #[allow(clippy::too_many_arguments)]
    async fn range_setup(
        &self,
        run: u64,
        index: u32,
        row: &RunRow,
        range: &Range,
        lease: &str,
        log: &RunLog,
        deadline: Instant,
    ) -> Result<RangeSetup, String> {
        let content = row
            .job_content
            .as_deref()
            .ok_or("the run has no job snapshot")?;
        let (mut job, datasources) = self.load_job(content).await?;
        let lanes = u64::from(row.lanes.max(1));
        // The job's speed is shared by the ranges running at once.
        job.setting.record_limit = job.setting.record_limit.map(|r| (r / lanes).max(1));
        job.setting.byte_limit = job.setting.byte_limit.map(|b| (b / lanes).max(1));
        if let Some(limit) = job.setting.error_limit.record {
            let elsewhere = ledger::errors_elsewhere(&self.pool, run, index)
                .await
                .map_err(|e| format!("reading the other ranges' dirty records: {e}"))?;
            job.setting.error_limit.record =
                Some(limit.saturating_sub(elsewhere + range.counts.errors()));
        }
        let mut options = self.options(deadline);
        let (resume, base) = match row.exactly_once {
            ExactlyOnce::Ledger => {
                let checkpoint = TargetCheckpoint {
                    run_token: row.run_token.clone().ok_or("the run has no token")?,
                    task_index: index as usize,
                    lease: lease.to_owned(),
                    base: Counts::default(),
                };
                let stored =
                    claim_target_checkpoint(&job, &datasources, &options, &checkpoint).await?;
                let (resume, base) =
                    stored.map_or((None, Counts::default()), |s| (s.last_key, s.counts));
                if resume.is_some() || base.read_ok > 0 {
                    if !range.task.resumable() {
                        return Err(format!(
                            "task {index} has no key to resume from and was cut short after writing {} rows: give the reader a splitPk (an integer key) so that its ranges can stop and resume",
                            base.written
                        ));
                    }
                    log.info(&format!(
                        "resuming after key {resume:?} from the target's checkpoint ({} rows written before)",
                        base.written
                    ));
                }
                options.checkpoint = Some(TargetCheckpoint { base, ..checkpoint });
                (resume, base)
            }
            ExactlyOnce::Rewrite | ExactlyOnce::None => {
                if let Some(key) = range.resume_after {
                    log.info(&format!(
                        "resuming after key {key} ({} rows written before)",
                        range.counts.written
                    ));
                }
                (range.resume_after, range.counts)
            }
        };
        Ok(RangeSetup {
            job,
            datasources,
            options,
            resume,
            base,
        })
    }

    /// After range `index` is done: the successor it queued gets its message, and the
    /// last range to finish assembles the run.
    pub(crate) async fn after_done(
        &self,
        run: u64,
        index: u32,
        deadline: Instant,
    ) -> Result<(), MessageError> {
        let retry = MessageError::retryable;
        let next = ledger::successors(&self.pool, run, index)
            .await
            .map_err(retry)?;
        self.send_ranges(run, &next).await?;
        if ledger::unfinished(&self.pool, run).await.map_err(retry)? == 0 {
            self.assemble(run, None, deadline).await?;
        }
        Ok(())
    }
}

/// Renews the lease every `every` (and records the checkpoint when `base` is given: a
/// rewrite-safe range); cancels the range when the lease is lost, cannot be renewed for
/// half its length, or the run is no longer running.
#[allow(clippy::too_many_arguments)]
async fn heartbeat(
    pool: sqlx::MySqlPool,
    run: u64,
    index: u32,
    lease: String,
    base: Option<Counts>,
    latest: Arc<Mutex<Option<Progress>>>,
    cancel: Arc<AtomicBool>,
    every: Duration,
    lease_length: Duration,
) {
    let mut renewed = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let checkpoint = base.and_then(|base| {
            let progress = *latest.lock().unwrap_or_else(|p| p.into_inner());
            progress.map(|p| (p.last_key, base.plus(p.counts)))
        });
        match ledger::heartbeat(&pool, run, index, &lease, checkpoint).await {
            Ok(true) => renewed = Instant::now(),
            Ok(false) => {
                tracing::warn!(run, index, "the range's lease is no longer ours; stopping");
                cancel.store(true, Ordering::Relaxed);
                return;
            }
            Err(error) => {
                tracing::warn!(run, index, %error, "renewing the range's lease failed");
                if renewed.elapsed() > lease_length / 2 {
                    cancel.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
        let status: Result<Option<String>, _> =
            sqlx::query_scalar("SELECT status FROM exec_log WHERE id = ?")
                .bind(run)
                .fetch_optional(&pool)
                .await;
        if let Ok(status) = status
            && status.as_deref() != Some(status::RUNNING)
        {
            tracing::info!(run, index, "the run ended elsewhere; the range stops");
            cancel.store(true, Ordering::Relaxed);
            return;
        }
    }
}
