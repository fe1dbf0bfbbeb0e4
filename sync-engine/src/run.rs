//! Running a job: prepare the writer (`session`, `preSql`, its columns and their types),
//! plan the tasks, run up to `channel` of them at once — each a reader streaming its
//! range into batches of `batchSize` and a writer inserting each batch as one multi-row
//! statement, the two overlapping — then `postSql` and DataX's summary.
//!
//! - Limits for the whole job: `speed.record` / `speed.byte` pace every task through one
//!   shared [`Pace`]; `errorLimit.record` is checked after every batch, the percentage at
//!   the end.
//! - Dirty records: a batch the target refuses is split in halves until the refused rows
//!   are alone; each becomes a dirty record with the database's reason, in the log and in
//!   the counts, never dropped silently. A value that cannot be converted for its target
//!   column is a dirty record before any statement.
//! - The deadline: checked between batches; a run that reaches it stops reading, writes
//!   what it has read, and reports what is left ([`Remaining`]): the tasks not started,
//!   and for a ranged task that stopped midway, the rest of its range after the last key
//!   written.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use rand::Rng;
use serde::Serialize;
use sqlx::{
    AssertSqlSafe, Column, Executor, MySql, Postgres, SqlSafeStr, Statement, TypeInfo,
    mysql::MySqlArguments, postgres::PgArguments, query::Query,
};
use tokio::{sync::mpsc, time::Instant};

use crate::{
    checkpoint::{self, TargetCheckpoint},
    codec::{self, ReadCodec, Target},
    copy,
    endpoint::{AllowList, Conn, ConnectFailure, DbKind, Endpoint, connect},
    job::{
        DbReader, DbWriter, Job, Login, ReaderSpec, Side, StreamColumn, StreamReader, StreamType,
        StreamWriter, WriteMode, WriterSpec, is_star,
    },
    log::RunLog,
    plan::{KeyRange, Task, TaskKind, select_sql, split_range},
    summary::{Counts, Summary},
    value::{Record, Value, record_bytes},
};

/// How a run behaves beyond the job itself.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub allow: AllowList,
    /// For every connection the run opens.
    pub connect_timeout: Duration,
    /// Stop cleanly between batches once reached.
    pub deadline: Option<Instant>,
    /// The dirty records logged in full; the rest are counted.
    pub dirty_logged: usize,
    /// The records streamwriter prints into the log; the rest are counted.
    pub printed: usize,
    /// Told after every write the target committed (a task run alone: its checkpoint).
    pub progress: Option<ProgressHook>,
    /// Set from outside to stop between batches (the run was failed elsewhere).
    pub cancel: Option<Arc<AtomicBool>>,
    /// Write each batch in a transaction with this checkpoint row in the target.
    pub checkpoint: Option<TargetCheckpoint>,
}

/// Where a task stands after a write the target committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The split key of the last record committed (a ranged task).
    pub last_key: Option<i64>,
    /// This invocation's counts up to that commit: the committed batches' records read,
    /// their bytes and the rows written, the dirty records so far.
    pub counts: Counts,
}

/// A callback for [`Progress`]; it must not block (it runs between batches).
#[derive(Clone)]
pub struct ProgressHook(pub Arc<dyn Fn(Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

impl RunOptions {
    /// Defaults for `allow`: 5 s to connect, no deadline, 100 dirty records and 1,000
    /// printed records in the log.
    pub fn new(allow: AllowList) -> Self {
        Self {
            allow,
            connect_timeout: Duration::from_secs(5),
            deadline: None,
            dirty_logged: 100,
            printed: 1000,
            progress: None,
            cancel: None,
            checkpoint: None,
        }
    }
}

/// The saved datasources a job names, resolved by the caller.
pub type Datasources = HashMap<Side, Endpoint>;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    /// Reached its deadline; [`RunReport::remaining`] says what is left.
    Stopped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
        }
    }
}

/// Work a stopped run did not do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remaining {
    pub task: Task,
    /// Records this task had written when it stopped (0 for a task never started).
    pub records_done: u64,
    /// For a ranged task stopped midway: the last key written (the rest is `task`'s
    /// range after it).
    pub resume_after: Option<i64>,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub status: RunStatus,
    pub error: Option<String>,
    pub summary: Summary,
    pub tasks: usize,
    pub remaining: Vec<Remaining>,
}

/// Why a run failed (inside [`RunReport::error`]).
#[derive(Debug, thiserror::Error)]
enum Fatal {
    #[error("connecting to {target} failed: {failure}")]
    Connect {
        target: String,
        failure: ConnectFailure,
    },
    #[error("{0}")]
    Sql(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    ErrorLimit(String),
}

fn sql_error(context: &str, error: sqlx::Error) -> Fatal {
    Fatal::Sql(format!("{context}: {error}"))
}

/// Runs `job` to its end (or its deadline), logging into `log`.
pub async fn run(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
) -> RunReport {
    let zone = log.zone();
    let started_at = local_now(zone);
    for warning in &job.warnings {
        log.warn(&warning.to_string());
    }
    let state = Arc::new(Shared::new(job, options));
    let outcome = execute(job, datasources, options, log, &state).await;
    let ended_at = local_now(zone);
    let counts = state.counts();
    let transfer_ms = state.transfer_ms();
    let summary = Summary::new(started_at, ended_at, transfer_ms, counts);
    let (status, error, tasks, remaining) = match outcome {
        Ok((tasks, remaining)) if remaining.is_empty() => {
            (RunStatus::Succeeded, None, tasks, remaining)
        }
        Ok((tasks, remaining)) => (RunStatus::Stopped, None, tasks, remaining),
        Err(fatal) => (RunStatus::Failed, Some(fatal.to_string()), 0, Vec::new()),
    };
    match (&status, &error) {
        (RunStatus::Failed, Some(error)) => log.error(&format!("the job failed: {error}")),
        (RunStatus::Stopped, _) => log.warn(&format!(
            "the deadline was reached: {} of {tasks} tasks are not finished",
            remaining.len()
        )),
        _ => log.info("the job finished"),
    }
    log.raw(summary.block());
    RunReport {
        status,
        error,
        summary,
        tasks,
        remaining,
    }
}

/// A job planned so that its tasks can run apart, one invocation each ([`run_task_alone`]):
/// its `preSql` has run.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub tasks: Vec<Task>,
    /// Whether writing some of a task's rows again leaves the target as writing them once
    /// would: streamwriter (it prints), or writeMode replace/update on a target with a
    /// primary or unique key.
    pub rewrite_safe: bool,
}

/// Prepares `job` for [`run_task_alone`]: the writer's `preSql`, the checkpoint table when
/// `checkpoint_table` (the datasource owner's consent), the plan. `Err` says why the job
/// cannot run.
pub async fn prepare(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
    checkpoint_table: bool,
) -> Result<Prepared, String> {
    for warning in &job.warnings {
        log.warn(&warning.to_string());
    }
    let prepared = async {
        let shape = prepare_writer(job, datasources, options, log, true).await?;
        let rewrite_safe = match (&job.writer, &shape) {
            (WriterSpec::Db(writer), Some(shape)) => {
                let mut conn = open(&shape.endpoint, options, &writer.session).await?;
                if checkpoint_table {
                    log.info(&format!(
                        "the target keeps this run's checkpoints in {} (the datasource allows it)",
                        checkpoint::TABLE
                    ));
                    execute_sql(&mut conn, &checkpoint::create_sql())
                        .await
                        .map_err(|e| sql_error("creating the checkpoint table", e))?;
                }
                match writer.write_mode {
                    WriteMode::Insert => false,
                    // ON CONFLICT needs the primary key, which preparing checked.
                    WriteMode::Update if writer.kind == DbKind::Postgresql => true,
                    WriteMode::Update | WriteMode::Replace => {
                        has_unique_key(&mut conn, &writer.table).await?
                    }
                }
            }
            _ => true,
        };
        let (tasks, _) = plan(job, datasources, options, log).await?;
        Ok::<_, Fatal>(Prepared {
            tasks,
            rewrite_safe,
        })
    }
    .await;
    prepared.map_err(|fatal| fatal.to_string())
}

/// Whether a MySQL table has a primary or unique key (REPLACE and ON DUPLICATE KEY UPDATE
/// only rewrite a row in place through one).
async fn has_unique_key(conn: &mut Conn, table: &str) -> Result<bool, Fatal> {
    let Conn::Mysql(c) = conn else {
        return Ok(true);
    };
    let bare = table.replace('`', "");
    let (schema, name) = match bare.split_once('.') {
        Some((schema, name)) => (Some(schema.to_owned()), name.to_owned()),
        None => (None, bare),
    };
    let unique: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND NON_UNIQUE = 0",
    )
    .bind(schema)
    .bind(name)
    .fetch_one(&mut *c)
    .await
    .map_err(|e| sql_error(&format!("reading the keys of {table}"), e))?;
    Ok(unique > 0)
}

/// How a task run alone ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Its whole range is written.
    Complete,
    /// The deadline (or a cancel): the task's rows up to `resume_after` are written
    /// (`None` with `records_done` > 0: a task without a key stopped midway).
    Stopped {
        resume_after: Option<i64>,
        records_done: u64,
    },
    /// Why it failed (a database error, errorLimit).
    Failed(String),
}

/// What running one task alone did.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub outcome: TaskOutcome,
    /// This invocation's counts.
    pub counts: Counts,
    /// When this invocation's transfer began and ended.
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
}

/// Runs one task of a [`prepare`]d job in this invocation, from after `resume_after` (its
/// checkpoint) when given, until it ends or the deadline.
pub async fn run_task_alone(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
    task: &Task,
    resume_after: Option<i64>,
) -> TaskReport {
    let started = Utc::now();
    let state = Arc::new(Shared::new(job, options));
    let split_pk = match &job.reader {
        ReaderSpec::Db(r) => r.split_pk.clone(),
        ReaderSpec::Stream(_) => None,
    };
    let result = async {
        let task = match resume_after {
            None => task.clone(),
            Some(key) => match task.after(key) {
                Some(rest) => rest,
                None => {
                    return Ok(TaskResult {
                        task: task.clone(),
                        done: 0,
                        last_key: None,
                        complete: true,
                    });
                }
            },
        };
        let shape = prepare_writer(job, datasources, options, log, false).await?;
        let sources = match &job.reader {
            ReaderSpec::Db(reader) => reader_endpoints(reader, datasources)?,
            ReaderSpec::Stream(_) => Vec::new(),
        };
        log.info(&format!("started {}", task.describe(split_pk.as_deref())));
        run_task(job, &task, &sources, shape.as_ref(), options, log, &state).await
    }
    .await;
    state.transfer_ended();
    let failure = state
        .failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let outcome = match (result, failure) {
        (Err(fatal), _) => TaskOutcome::Failed(fatal.to_string()),
        (Ok(_), Some(failure)) => TaskOutcome::Failed(failure),
        (Ok(result), None) if result.complete => TaskOutcome::Complete,
        (Ok(result), None) => TaskOutcome::Stopped {
            resume_after: result.last_key.or(resume_after),
            records_done: result.done,
        },
    };
    match &outcome {
        TaskOutcome::Complete => log.info(&format!("finished task {}", task.index)),
        TaskOutcome::Stopped { resume_after, .. } => log.info(&format!(
            "task {} stopped at the deadline{}",
            task.index,
            resume_after.map_or(String::new(), |k| format!(" after key {k}"))
        )),
        TaskOutcome::Failed(reason) => log.error(&format!("task {} failed: {reason}", task.index)),
    }
    TaskReport {
        outcome,
        counts: state.counts(),
        started,
        ended: Utc::now(),
    }
}

/// Takes task `checkpoint.task_index` over in the target's checkpoint table (its fence)
/// and answers the checkpoint stored there: where the range resumes, exactly.
pub async fn claim_target_checkpoint(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    checkpoint: &TargetCheckpoint,
) -> Result<Option<checkpoint::Stored>, String> {
    let Some(mut conn) = open_writer(job, datasources, options).await? else {
        return Err("a checkpoint table needs a database writer".into());
    };
    checkpoint::fence(&mut conn, checkpoint).await.map_err(|e| {
        format!(
            "claiming the checkpoint of task {}: {e}",
            checkpoint.task_index
        )
    })
}

/// Runs `sql` on the reader's first connection (after its `session`) and answers the
/// first column of its one row as text (`None`: SQL NULL). For the values a run reads on
/// the source before it starts (an incremental window's upper bound).
pub async fn reader_value(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    sql: &str,
) -> Result<Option<String>, String> {
    let ReaderSpec::Db(reader) = &job.reader else {
        return Err("the reader is not a database".into());
    };
    let sources = reader_endpoints(reader, datasources).map_err(|f| f.to_string())?;
    let candidates = sources.first().ok_or("the reader has no connection")?;
    let mut conn = open_first(candidates, options, &reader.session)
        .await
        .map_err(|f| f.to_string())?;
    let value: Option<String> = match &mut conn {
        Conn::Mysql(c) => sqlx::query_scalar(job_sql(sql)).fetch_one(&mut *c).await,
        Conn::Postgresql(c) => sqlx::query_scalar(job_sql(sql)).fetch_one(&mut *c).await,
    }
    .map_err(|e| format!("{sql}: {e}"))?;
    Ok(value)
}

/// A connection to the writer's target (its `session` run); `None` for streamwriter.
async fn open_writer(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
) -> Result<Option<Conn>, String> {
    let WriterSpec::Db(writer) = &job.writer else {
        return Ok(None);
    };
    let endpoint = writer_endpoint(writer, datasources).map_err(|f| f.to_string())?;
    open(&endpoint, options, &writer.session)
        .await
        .map(Some)
        .map_err(|f| f.to_string())
}

/// Removes a finished run's rows from the target's checkpoint table.
pub async fn drop_target_checkpoints(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    run_token: &str,
) -> Result<u64, String> {
    let Some(mut conn) = open_writer(job, datasources, options).await? else {
        return Ok(0);
    };
    checkpoint::delete_run(&mut conn, run_token)
        .await
        .map_err(|e| format!("removing the run's checkpoints: {e}"))
}

/// The end of a job whose tasks ran apart and all finished: `errorLimit.percentage` over
/// the whole job's `counts`, then `postSql`. `Err` says why the job failed.
pub async fn conclude(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
    counts: Counts,
) -> Result<(), String> {
    finish_job(job, datasources, options, log, counts)
        .await
        .map_err(|fatal| fatal.to_string())
}

fn local_now(zone: chrono_tz::Tz) -> NaiveDateTime {
    Utc::now().with_timezone(&zone).naive_local()
}

/// What the tasks share: counters, the pace, the stop flag.
struct Shared {
    read_ok: AtomicU64,
    read_ok_bytes: AtomicU64,
    read_failed: AtomicU64,
    write_failed: AtomicU64,
    written: AtomicU64,
    dirty_logged: AtomicU64,
    printed: AtomicU64,
    stop: AtomicBool,
    cancel: Option<Arc<AtomicBool>>,
    failure: Mutex<Option<String>>,
    transfer: Mutex<(Option<Instant>, Option<Instant>)>,
    record_pace: Option<Pace>,
    byte_pace: Option<Pace>,
    error_limit: Option<u64>,
    deadline: Option<Instant>,
    dirty_cap: u64,
    print_cap: u64,
}

impl Shared {
    fn new(job: &Job, options: &RunOptions) -> Self {
        Self {
            read_ok: AtomicU64::new(0),
            read_ok_bytes: AtomicU64::new(0),
            read_failed: AtomicU64::new(0),
            write_failed: AtomicU64::new(0),
            written: AtomicU64::new(0),
            dirty_logged: AtomicU64::new(0),
            printed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            cancel: options.cancel.clone(),
            failure: Mutex::new(None),
            transfer: Mutex::new((None, None)),
            record_pace: job.setting.record_limit.map(Pace::new),
            byte_pace: job.setting.byte_limit.map(Pace::new),
            error_limit: job.setting.error_limit.record,
            deadline: options.deadline,
            dirty_cap: options.dirty_logged as u64,
            print_cap: options.printed as u64,
        }
    }

    fn counts(&self) -> Counts {
        Counts {
            read_ok: self.read_ok.load(Ordering::Relaxed),
            read_ok_bytes: self.read_ok_bytes.load(Ordering::Relaxed),
            read_failed: self.read_failed.load(Ordering::Relaxed),
            write_failed: self.write_failed.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
        }
    }

    fn errors(&self) -> u64 {
        self.read_failed.load(Ordering::Relaxed) + self.write_failed.load(Ordering::Relaxed)
    }

    fn transfer_started(&self) {
        let mut t = self.transfer.lock().unwrap_or_else(|p| p.into_inner());
        t.0.get_or_insert_with(Instant::now);
    }

    fn transfer_ended(&self) {
        let mut t = self.transfer.lock().unwrap_or_else(|p| p.into_inner());
        t.1 = Some(Instant::now());
    }

    fn transfer_ms(&self) -> u64 {
        let t = self.transfer.lock().unwrap_or_else(|p| p.into_inner());
        match *t {
            (Some(start), Some(end)) => end.saturating_duration_since(start).as_millis() as u64,
            _ => 0,
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self
                .cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    fn fail(&self, message: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert(message);
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Counts a dirty record and logs it while under the cap; trips the record limit.
    fn dirty(&self, log: &RunLog, side: &str, record: &[Value], reason: &str) {
        let counter = if side == "read" {
            &self.read_failed
        } else {
            &self.write_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if self.dirty_logged.fetch_add(1, Ordering::Relaxed) < self.dirty_cap {
            let fields: Vec<String> = record
                .iter()
                .map(|v| v.to_text().chars().take(200).collect())
                .collect();
            log.warn(&format!(
                "dirty record ({side}): {reason}; record: [{}]",
                fields.join(", ")
            ));
        }
        self.check_limit();
    }

    fn check_limit(&self) {
        if let Some(limit) = self.error_limit {
            let caught = self.errors();
            if caught > limit {
                self.fail(format!(
                    "dirty records exceed errorLimit.record: the limit is {limit}, {caught} were caught (脏数据条数检查不通过，限制是[{limit}]条，但实际上捕获了[{caught}]条.)"
                ));
            }
        }
    }

    async fn pace(&self, records: u64, bytes: u64) {
        if let Some(pace) = &self.record_pace {
            pace.take(records).await;
        }
        if let Some(pace) = &self.byte_pace {
            pace.take(bytes).await;
        }
    }
}

/// A rate limit for the whole job: every taker adds to one total, and waits until the
/// total is within `per_second` × the time since the first take.
struct Pace {
    per_second: u64,
    start: Mutex<Option<Instant>>,
    used: AtomicU64,
}

impl Pace {
    fn new(per_second: u64) -> Self {
        Self {
            per_second,
            start: Mutex::new(None),
            used: AtomicU64::new(0),
        }
    }

    async fn take(&self, amount: u64) {
        let start = *self
            .start
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Instant::now);
        let used = self.used.fetch_add(amount, Ordering::Relaxed) + amount;
        let due = start + Duration::from_secs_f64(used as f64 / self.per_second as f64);
        tokio::time::sleep_until(due).await;
    }
}

/// The reader's connection targets, in `connection` order.
fn reader_endpoints(
    reader: &DbReader,
    datasources: &Datasources,
) -> Result<Vec<Vec<Endpoint>>, Fatal> {
    match &reader.login {
        Login::Datasource(id) => {
            let endpoint = datasources
                .get(&Side::Reader)
                .cloned()
                .ok_or_else(|| Fatal::Config(format!("reader datasource {id} was not resolved")))?;
            Ok(vec![vec![endpoint]; reader.connections.len().max(1)])
        }
        Login::Inline { username, password } => Ok(reader
            .connections
            .iter()
            .map(|c| {
                c.urls
                    .iter()
                    .map(|url| Endpoint {
                        kind: reader.kind,
                        host: url.host.clone(),
                        port: url.port,
                        database: url.database.clone(),
                        username: username.clone(),
                        password: password.clone(),
                    })
                    .collect()
            })
            .collect()),
    }
}

fn writer_endpoint(writer: &DbWriter, datasources: &Datasources) -> Result<Endpoint, Fatal> {
    match (&writer.login, &writer.url) {
        (Login::Datasource(id), _) => datasources
            .get(&Side::Writer)
            .cloned()
            .ok_or_else(|| Fatal::Config(format!("writer datasource {id} was not resolved"))),
        (Login::Inline { username, password }, Some(url)) => Ok(Endpoint {
            kind: writer.kind,
            host: url.host.clone(),
            port: url.port,
            database: url.database.clone(),
            username: username.clone(),
            password: password.clone(),
        }),
        (Login::Inline { .. }, None) => Err(Fatal::Config("the writer has no jdbcUrl".into())),
    }
}

async fn open(
    endpoint: &Endpoint,
    options: &RunOptions,
    session: &[String],
) -> Result<Conn, Fatal> {
    let mut conn = connect(endpoint, &options.allow, options.connect_timeout)
        .await
        .map_err(|failure| Fatal::Connect {
            target: endpoint.describe(),
            failure,
        })?;
    for statement in session {
        execute_sql(&mut conn, statement)
            .await
            .map_err(|e| sql_error(&format!("session statement {statement:?}"), e))?;
    }
    Ok(conn)
}

/// Opens the first reachable of `candidates` (DataX tries a reader's jdbcUrls in order).
async fn open_first(
    candidates: &[Endpoint],
    options: &RunOptions,
    session: &[String],
) -> Result<Conn, Fatal> {
    let mut last = None;
    for endpoint in candidates {
        match open(endpoint, options, session).await {
            Ok(conn) => return Ok(conn),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| Fatal::Config("the reader connection has no jdbcUrl".into())))
}

/// SQL the job itself supplies or that is built from its names (`column`, `table`,
/// `where`, `querySql`, `preSql`, `session`). DataX passes these into its statements
/// verbatim, and so does the engine: they are the job author's SQL, run with the
/// datasource's own credentials against the author's own database. Values never go into
/// SQL text: they are bound.
fn job_sql(sql: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(sql.to_owned())
}

async fn execute_sql(conn: &mut Conn, sql: &str) -> Result<(), sqlx::Error> {
    match conn {
        Conn::Mysql(c) => c.execute(sqlx::raw_sql(job_sql(sql))).await.map(drop),
        Conn::Postgresql(c) => c.execute(sqlx::raw_sql(job_sql(sql))).await.map(drop),
    }
}

/// What the writer learnt while preparing: its columns and their targets.
#[derive(Clone)]
struct WriterShape {
    endpoint: Endpoint,
    columns: Vec<String>,
    targets: Vec<Target>,
    /// PostgreSQL with `writeMode` update: the target's primary key, the conflict target
    /// of `INSERT … ON CONFLICT`.
    conflict_key: Vec<String>,
}

/// The primary-key columns of a PostgreSQL table, in key order.
async fn primary_key(conn: &mut Conn, table: &str) -> Result<Vec<String>, Fatal> {
    let Conn::Postgresql(c) = conn else {
        return Ok(Vec::new());
    };
    let key: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = $1::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey, a.attnum)",
    )
    .bind(table)
    .fetch_all(&mut *c)
    .await
    .map_err(|e| sql_error(&format!("reading the primary key of {table}"), e))?;
    if key.is_empty() {
        return Err(Fatal::Config(format!(
            "writeMode update on PostgreSQL needs a primary key on {table} (the conflict target of INSERT … ON CONFLICT)"
        )));
    }
    Ok(key)
}

async fn describe_target(
    conn: &mut Conn,
    table: &str,
    columns: &[String],
) -> Result<(Vec<String>, Vec<Target>), Fatal> {
    let list = if is_star(columns) {
        "*".to_owned()
    } else {
        columns.join(",")
    };
    let sql = format!("SELECT {list} FROM {table} WHERE 1 = 0");
    let context = format!("reading the columns of {table}");
    let described: Vec<(String, Target)> = match conn {
        Conn::Mysql(c) => c
            .prepare(job_sql(&sql).into_sql_str())
            .await
            .map_err(|e| sql_error(&context, e))?
            .columns()
            .iter()
            .map(|col| (col.name().to_owned(), Target::mysql(col.type_info().name())))
            .collect(),
        Conn::Postgresql(c) => c
            .prepare(job_sql(&sql).into_sql_str())
            .await
            .map_err(|e| sql_error(&context, e))?
            .columns()
            .iter()
            .map(|col| {
                (
                    col.name().to_owned(),
                    Target::postgres(col.type_info().name()),
                )
            })
            .collect(),
    };
    let names = if is_star(columns) {
        described.iter().map(|(n, _)| n.clone()).collect()
    } else {
        columns.to_vec()
    };
    Ok((names, described.into_iter().map(|(_, t)| t).collect()))
}

type Outcome = (usize, Vec<Remaining>);

async fn execute(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
    state: &Arc<Shared>,
) -> Result<Outcome, Fatal> {
    // The writer first: a target that cannot be reached or described fails before any read.
    let shape = prepare_writer(job, datasources, options, log, true).await?;
    let (tasks, sources) = plan(job, datasources, options, log).await?;
    let split_pk = match &job.reader {
        ReaderSpec::Db(r) => r.split_pk.clone(),
        ReaderSpec::Stream(_) => None,
    };
    log.info(&format!(
        "{} tasks, {} at once (channel)",
        tasks.len(),
        job.setting.channel
    ));
    let shape = shape.map(Arc::new);
    let sources = Arc::new(sources);
    let results: Vec<TaskResult> = stream::iter(tasks.iter().cloned())
        .map(|task| {
            let shape = shape.clone();
            let sources = sources.clone();
            let state = state.clone();
            let split_pk = split_pk.clone();
            async move {
                if state.stopping() || state.past_deadline() {
                    return TaskResult {
                        task,
                        done: 0,
                        last_key: None,
                        complete: false,
                    };
                }
                log.info(&format!("started {}", task.describe(split_pk.as_deref())));
                let result =
                    run_task(job, &task, &sources, shape.as_deref(), options, log, &state).await;
                match result {
                    Ok(result) => result,
                    Err(fatal) => {
                        state.fail(fatal.to_string());
                        TaskResult {
                            task,
                            done: 0,
                            last_key: None,
                            complete: false,
                        }
                    }
                }
            }
        })
        .buffer_unordered(job.setting.channel as usize)
        .collect()
        .await;
    state.transfer_ended();
    if let Some(failure) = state
        .failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        return Err(if failure.starts_with("dirty records exceed") {
            Fatal::ErrorLimit(failure)
        } else {
            Fatal::Sql(failure)
        });
    }
    let mut remaining: Vec<Remaining> = results
        .into_iter()
        .filter(|r| !r.complete)
        .map(|r| Remaining {
            task: r.task,
            records_done: r.done,
            resume_after: r.last_key,
        })
        .collect();
    remaining.sort_by_key(|r| r.task.index);
    if remaining.is_empty() {
        finish_job(job, datasources, options, log, state.counts()).await?;
    }
    Ok((tasks.len(), remaining))
}

/// Opens the writer's target: `session`, `preSql` when `pre_sql`, its columns and types.
/// `None` for streamwriter.
async fn prepare_writer(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
    pre_sql: bool,
) -> Result<Option<WriterShape>, Fatal> {
    let WriterSpec::Db(writer) = &job.writer else {
        return Ok(None);
    };
    let endpoint = writer_endpoint(writer, datasources)?;
    if pre_sql {
        log.info(&format!(
            "{}: writing to {} table {}",
            writer.kind.writer_plugin(),
            endpoint.describe(),
            writer.table
        ));
    }
    let mut conn = open(&endpoint, options, &writer.session).await?;
    if pre_sql {
        for statement in &writer.pre_sql {
            let statement = statement.replace("@table", &writer.table);
            log.info(&format!("preSql: {statement}"));
            execute_sql(&mut conn, &statement)
                .await
                .map_err(|e| sql_error(&format!("preSql {statement:?}"), e))?;
        }
    }
    let (columns, targets) = describe_target(&mut conn, &writer.table, &writer.columns).await?;
    let conflict_key = if writer.write_mode == WriteMode::Update {
        primary_key(&mut conn, &writer.table).await?
    } else {
        Vec::new()
    };
    Ok(Some(WriterShape {
        endpoint,
        columns,
        targets,
        conflict_key,
    }))
}

/// The end of a job whose every task finished: `errorLimit.percentage` over `counts`,
/// then `postSql`.
async fn finish_job(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
    counts: Counts,
) -> Result<(), Fatal> {
    if let Some(percentage) = job.setting.error_limit.percentage {
        let total = counts.read_ok + counts.read_failed;
        let errors = counts.errors();
        if total > 0 && errors as f64 / total as f64 > percentage {
            return Err(Fatal::ErrorLimit(format!(
                "dirty records exceed errorLimit.percentage: the limit is {percentage}, {:.6} were caught (脏数据百分比检查不通过，限制是[{percentage}]，但实际上捕获到[{:.6}].)",
                errors as f64 / total as f64,
                errors as f64 / total as f64
            )));
        }
    }
    if let WriterSpec::Db(writer) = &job.writer
        && !writer.post_sql.is_empty()
    {
        let endpoint = writer_endpoint(writer, datasources)?;
        let mut conn = open(&endpoint, options, &writer.session).await?;
        for statement in &writer.post_sql {
            let statement = statement.replace("@table", &writer.table);
            log.info(&format!("postSql: {statement}"));
            execute_sql(&mut conn, &statement)
                .await
                .map_err(|e| sql_error(&format!("postSql {statement:?}"), e))?;
        }
    }
    Ok(())
}

/// The reader's connection candidates per `connection` entry (empty for streamreader).
type Sources = Vec<Vec<Endpoint>>;

async fn plan(
    job: &Job,
    datasources: &Datasources,
    options: &RunOptions,
    log: &RunLog,
) -> Result<(Vec<Task>, Sources), Fatal> {
    let mut kinds = Vec::new();
    let sources = match &job.reader {
        ReaderSpec::Stream(reader) => {
            for _ in 0..job.setting.channel {
                kinds.push(TaskKind::Stream {
                    records: reader.slice_record_count,
                });
            }
            Vec::new()
        }
        ReaderSpec::Db(reader) => {
            let sources = reader_endpoints(reader, datasources)?;
            for (index, connection) in reader.connections.iter().enumerate() {
                if !connection.query_sql.is_empty() {
                    for sql in &connection.query_sql {
                        kinds.push(TaskKind::Query {
                            connection: index,
                            sql: sql.clone(),
                        });
                    }
                    continue;
                }
                for table in &connection.tables {
                    let Some(pk) = &reader.split_pk else {
                        kinds.push(TaskKind::Table {
                            connection: index,
                            table: table.clone(),
                            range: None,
                        });
                        continue;
                    };
                    let mut conn = open_first(&sources[index], options, &reader.session).await?;
                    let (min, max) = key_bounds(&mut conn, reader, table, pk).await?;
                    let pieces = u64::from(job.setting.channel) * u64::from(reader.split_factor);
                    let ranges = match (min, max) {
                        (Some(min), Some(max)) => split_range(min, max, pieces),
                        _ => Vec::new(),
                    };
                    log.info(&format!(
                        "{table}: {pk} from {min:?} to {max:?}, {} ranges and the NULL slice",
                        ranges.len()
                    ));
                    for range in ranges.into_iter().chain([KeyRange::Null]) {
                        kinds.push(TaskKind::Table {
                            connection: index,
                            table: table.clone(),
                            range: Some(range),
                        });
                    }
                }
            }
            sources
        }
    };
    let tasks = kinds
        .into_iter()
        .enumerate()
        .map(|(index, kind)| Task { index, kind })
        .collect();
    Ok((tasks, sources))
}

async fn key_bounds(
    conn: &mut Conn,
    reader: &DbReader,
    table: &str,
    pk: &str,
) -> Result<(Option<i64>, Option<i64>), Fatal> {
    let mut sql = format!("SELECT MIN({pk}), MAX({pk}) FROM {table}");
    if let Some(w) = &reader.where_clause {
        sql.push_str(&format!(" WHERE ({w})"));
    }
    let not_integer = |e: sqlx::Error| {
        Fatal::Config(format!(
            "splitPk {pk} of {table} must be an integer column, as in DataX ({e})"
        ))
    };
    match conn {
        Conn::Mysql(c) => {
            let row = sqlx::query(job_sql(&sql))
                .fetch_one(&mut *c)
                .await
                .map_err(|e| sql_error(&format!("the key bounds of {table}"), e))?;
            let codec = codec::mysql_codecs(&row).map_err(Fatal::Config)?;
            if !codec
                .iter()
                .all(|c| matches!(c, ReadCodec::Long | ReadCodec::ULong | ReadCodec::Null))
            {
                return Err(Fatal::Config(format!(
                    "splitPk {pk} of {table} must be an integer column, as in DataX"
                )));
            }
            use sqlx::Row;
            let min = row
                .try_get_unchecked::<Option<i64>, _>(0)
                .map_err(not_integer)?;
            let max = row
                .try_get_unchecked::<Option<i64>, _>(1)
                .map_err(not_integer)?;
            Ok((min, max))
        }
        Conn::Postgresql(c) => {
            let sql = sql.replacen(
                &format!("MIN({pk}), MAX({pk})"),
                &format!("MIN({pk})::int8, MAX({pk})::int8"),
                1,
            );
            sqlx::query_as::<_, (Option<i64>, Option<i64>)>(job_sql(&sql))
                .fetch_one(&mut *c)
                .await
                .map_err(not_integer)
        }
    }
}

struct TaskResult {
    task: Task,
    done: u64,
    last_key: Option<i64>,
    complete: bool,
}

/// One batch from a reader to its writer.
struct Batch {
    records: Vec<Record>,
    /// The split key of the last record, for a ranged task.
    last_key: Option<i64>,
    /// The records' bytes as read.
    bytes: u64,
}

async fn run_task(
    job: &Job,
    task: &Task,
    sources: &Sources,
    shape: Option<&WriterShape>,
    options: &RunOptions,
    log: &RunLog,
    state: &Arc<Shared>,
) -> Result<TaskResult, Fatal> {
    let batch_size = match &job.writer {
        WriterSpec::Db(w) => w.batch_size as usize,
        WriterSpec::Stream(_) => 1024,
    };
    let (tx, rx) = mpsc::channel::<Batch>(2);
    let width = shape.map(|s| s.columns.len());
    let read = read_task(
        job, task, sources, options, log, state, batch_size, width, tx,
    );
    let write = write_task(job, shape, options, log, state, rx);
    let (read, write) = tokio::join!(read, write);
    let (done, last_key) = write?;
    let finished_reading = read?;
    let complete = finished_reading && !state.stopping();
    let last_key = match (&task.kind, complete) {
        (
            TaskKind::Table {
                range: Some(KeyRange::Span { .. }),
                ..
            },
            false,
        ) => last_key,
        _ => None,
    };
    Ok(TaskResult {
        task: task.clone(),
        done,
        last_key,
        complete,
    })
}

/// Reads a task into batches. `Ok(true)` when the whole range was read, `Ok(false)` when
/// it stopped early (deadline, another task's failure, the writer gone).
#[allow(clippy::too_many_arguments)]
async fn read_task(
    job: &Job,
    task: &Task,
    sources: &Sources,
    options: &RunOptions,
    log: &RunLog,
    state: &Arc<Shared>,
    batch_size: usize,
    width: Option<usize>,
    tx: mpsc::Sender<Batch>,
) -> Result<bool, Fatal> {
    state.transfer_started();
    let reader = match (&job.reader, &task.kind) {
        (ReaderSpec::Stream(stream), TaskKind::Stream { records }) => {
            return read_stream(stream, *records, state, batch_size, width, tx).await;
        }
        (ReaderSpec::Db(reader), _) => reader,
        _ => return Err(Fatal::Config("a task does not match its reader".into())),
    };
    let (connection, sql) = match &task.kind {
        TaskKind::Table {
            connection,
            table,
            range,
        } => (*connection, select_sql(reader, table, range.as_ref())),
        TaskKind::Query { connection, sql } => (*connection, sql.clone()),
        TaskKind::Stream { .. } => {
            return Err(Fatal::Config("a stream task for a database reader".into()));
        }
    };
    let mut conn = open_first(&sources[connection], options, &reader.session).await?;
    let pk = reader.split_pk.as_deref().map(|p| {
        p.trim_matches(|c| c == '`' || c == '"')
            .to_ascii_lowercase()
    });
    let context = format!("reading {}", task.describe(reader.split_pk.as_deref()));
    let mut batch = Vec::with_capacity(batch_size);
    let mut codecs: Option<(Vec<ReadCodec>, Option<usize>)> = None;
    macro_rules! consume {
        ($stream:expr, $codecs_of:path, $decode:path) => {{
            let mut rows = $stream;
            loop {
                let row = match rows.try_next().await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => return Err(sql_error(&context, e)),
                };
                if codecs.is_none() {
                    let found = $codecs_of(&row).map_err(Fatal::Config)?;
                    if let Some(width) = width && found.len() != width {
                        return Err(Fatal::Config(format!(
                            "the reader gives {} columns and the writer writes {width} (列配置信息有错误)",
                            found.len()
                        )));
                    }
                    let key_at = pk.as_ref().and_then(|pk| {
                        use sqlx::Row;
                        row.columns().iter().position(|c| c.name().eq_ignore_ascii_case(pk))
                    });
                    codecs = Some((found, key_at));
                }
                let (codecs, key_at) = codecs.as_ref().expect("set above");
                match $decode(&row, codecs) {
                    Ok(record) => batch.push(record),
                    Err(reason) => state.dirty(log, "read", &[], &reason),
                }
                if batch.len() >= batch_size {
                    if !send(&mut batch, *key_at, batch_size, state, &tx).await {
                        return Ok(false);
                    }
                }
            }
            let key_at = codecs.as_ref().and_then(|(_, k)| *k);
            if !batch.is_empty() && !send(&mut batch, key_at, batch_size, state, &tx).await {
                return Ok(false);
            }
            Ok(true)
        }};
    }
    match &mut conn {
        Conn::Mysql(c) => consume!(
            sqlx::query(job_sql(&sql)).fetch(&mut *c),
            codec::mysql_codecs,
            codec::decode_mysql
        ),
        Conn::Postgresql(c) => consume!(
            sqlx::query(job_sql(&sql)).fetch(&mut *c),
            codec::postgres_codecs,
            codec::decode_postgres
        ),
    }
}

/// Hands a full batch to the writer, after the job's pace. `false` when the task must
/// stop: the deadline, a failure elsewhere, or the writer gone.
async fn send(
    batch: &mut Vec<Record>,
    key_at: Option<usize>,
    batch_size: usize,
    state: &Shared,
    tx: &mpsc::Sender<Batch>,
) -> bool {
    if state.stopping() || state.past_deadline() {
        return false;
    }
    let records = std::mem::replace(batch, Vec::with_capacity(batch_size));
    let bytes: u64 = records.iter().map(|r| record_bytes(r)).sum();
    state.pace(records.len() as u64, bytes).await;
    state
        .read_ok
        .fetch_add(records.len() as u64, Ordering::Relaxed);
    state.read_ok_bytes.fetch_add(bytes, Ordering::Relaxed);
    let last_key = key_at.and_then(|i| match records.last().map(|r| &r[i]) {
        Some(Value::Long(k)) => Some(*k),
        Some(Value::ULong(k)) => i64::try_from(*k).ok(),
        _ => None,
    });
    tx.send(Batch {
        records,
        last_key,
        bytes,
    })
    .await
    .is_ok()
}

async fn read_stream(
    reader: &StreamReader,
    records: u64,
    state: &Shared,
    batch_size: usize,
    width: Option<usize>,
    tx: mpsc::Sender<Batch>,
) -> Result<bool, Fatal> {
    if let Some(width) = width
        && width != reader.columns.len()
    {
        return Err(Fatal::Config(format!(
            "the reader gives {} columns and the writer writes {width} (列配置信息有错误)",
            reader.columns.len()
        )));
    }
    let mut batch = Vec::with_capacity(batch_size.min(records as usize));
    for _ in 0..records {
        batch.push(reader.columns.iter().map(stream_value).collect());
        if batch.len() >= batch_size && !send(&mut batch, None, batch_size, state, &tx).await {
            return Ok(false);
        }
    }
    if !batch.is_empty() && !send(&mut batch, None, batch_size, state, &tx).await {
        return Ok(false);
    }
    Ok(true)
}

fn stream_value(column: &StreamColumn) -> Value {
    match column {
        StreamColumn::Constant(value) => value.clone(),
        StreamColumn::Random { kind, low, high } => {
            let mut rng = rand::rng();
            match kind {
                StreamType::Long => Value::Long(rng.random_range(*low as i64..=*high as i64)),
                StreamType::Double => Value::Double(rng.random_range(*low..=*high)),
                StreamType::Bool => {
                    Value::Bool(rng.random_range(*low..=*high) >= (*low + *high) / 2.0)
                }
                StreamType::Date => {
                    DateTime::from_timestamp(rng.random_range(*low as i64..=*high as i64), 0)
                        .map_or(Value::Null, |t| Value::DateTime(t.naive_utc()))
                }
                StreamType::String | StreamType::Bytes => {
                    let len = rng.random_range(*low as usize..=*high as usize);
                    let text: String = (0..len)
                        .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
                        .collect();
                    if *kind == StreamType::Bytes {
                        Value::Bytes(text.into_bytes())
                    } else {
                        Value::String(text)
                    }
                }
            }
        }
    }
}

/// Writes what the reader sends; returns the records written and the last key written.
async fn write_task(
    job: &Job,
    shape: Option<&WriterShape>,
    options: &RunOptions,
    log: &RunLog,
    state: &Arc<Shared>,
    mut rx: mpsc::Receiver<Batch>,
) -> Result<(u64, Option<i64>), Fatal> {
    let mut done = 0;
    let mut last_key = None;
    match (&job.writer, shape) {
        (WriterSpec::Stream(writer), _) => {
            let mut since_sleep = 0;
            while let Some(batch) = rx.recv().await {
                done += print_batch(writer, &batch.records, log, state);
                state
                    .written
                    .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
                since_sleep += batch.records.len() as u64;
                if writer.record_num_before_sleep > 0
                    && since_sleep >= writer.record_num_before_sleep
                {
                    since_sleep = 0;
                    tokio::time::sleep(Duration::from_millis(writer.sleep_time_ms)).await;
                }
                last_key = batch.last_key.or(last_key);
            }
        }
        (WriterSpec::Db(writer), Some(shape)) => {
            let mut conn = open(&shape.endpoint, options, &writer.session).await?;
            // COPY gathers the reader's batches into large statements: every statement
            // ends with a small message, which the socket holds back until the previous
            // segment is acknowledged (Nagle's rule against the server's delayed ACK,
            // about 40 ms), so fewer, larger COPYs are what makes it fast.
            let gather = if uses_copy(&conn, writer) {
                COPY_ROWS
            } else {
                1
            };
            let mut pending: Vec<Record> = Vec::new();
            let mut pending_key = None;
            let mut pending_bytes = 0;
            // This invocation's committed batches: what a checkpoint may claim.
            let mut committed = Counts::default();
            let mut open_channel = true;
            while open_channel {
                match rx.recv().await {
                    Some(batch) => {
                        pending.extend(batch.records);
                        pending_key = batch.last_key.or(pending_key);
                        pending_bytes += batch.bytes;
                        if pending.len() < gather {
                            continue;
                        }
                    }
                    None => open_channel = false,
                }
                if pending.is_empty() {
                    continue;
                }
                let records = std::mem::take(&mut pending);
                let read = records.len() as u64;
                let batch_key = pending_key.take().or(last_key);
                let written = match &options.checkpoint {
                    None => {
                        write_batch(&mut conn, writer, shape, records, log, state, false).await?
                    }
                    Some(checkpoint) => {
                        // The rows and the checkpoint commit together, or neither does.
                        let context = format!("writing to {} with its checkpoint", writer.table);
                        execute_sql(&mut conn, "BEGIN")
                            .await
                            .map_err(|e| sql_error(&context, e))?;
                        let owned = checkpoint::still_owned(&mut conn, checkpoint)
                            .await
                            .map_err(|e| sql_error(&context, e))?;
                        if !owned {
                            let _ = execute_sql(&mut conn, "ROLLBACK").await;
                            return Err(Fatal::Sql(format!(
                                "task {} was taken over by another worker; this one stops without writing",
                                checkpoint.task_index
                            )));
                        }
                        let written =
                            write_batch(&mut conn, writer, shape, records, log, state, true)
                                .await?;
                        let counts = Counts {
                            read_ok: committed.read_ok + read,
                            read_ok_bytes: committed.read_ok_bytes + pending_bytes,
                            read_failed: state.read_failed.load(Ordering::Relaxed),
                            write_failed: state.write_failed.load(Ordering::Relaxed),
                            written: committed.written + written,
                        };
                        checkpoint::update(&mut conn, checkpoint, batch_key, counts)
                            .await
                            .map_err(|e| sql_error(&context, e))?;
                        execute_sql(&mut conn, "COMMIT")
                            .await
                            .map_err(|e| sql_error(&context, e))?;
                        written
                    }
                };
                state.written.fetch_add(written, Ordering::Relaxed);
                done += written;
                last_key = batch_key;
                committed.read_ok += read;
                committed.read_ok_bytes += std::mem::take(&mut pending_bytes);
                committed.written += written;
                committed.read_failed = state.read_failed.load(Ordering::Relaxed);
                committed.write_failed = state.write_failed.load(Ordering::Relaxed);
                if let Some(hook) = &options.progress {
                    (hook.0)(Progress {
                        last_key,
                        counts: committed,
                    });
                }
                if state.stopping() {
                    break;
                }
            }
        }
        (WriterSpec::Db(_), None) => {
            return Err(Fatal::Config("the writer was not prepared".into()));
        }
    }
    Ok((done, last_key))
}

fn print_batch(writer: &StreamWriter, records: &[Record], log: &RunLog, state: &Shared) -> u64 {
    if writer.print {
        for record in records {
            let n = state.printed.fetch_add(1, Ordering::Relaxed);
            if n < state.print_cap {
                let fields: Vec<_> = record.iter().map(Value::to_text).collect();
                log.raw(fields.join(&writer.field_delimiter));
            } else if n == state.print_cap {
                log.info(&format!("streamwriter: the log keeps the first {} printed records; the rest are counted", state.print_cap));
            }
        }
    }
    records.len() as u64
}

/// Converts and writes one batch; refused rows become dirty records. Returns the rows
/// written.
async fn write_batch(
    conn: &mut Conn,
    writer: &DbWriter,
    shape: &WriterShape,
    records: Vec<Record>,
    log: &RunLog,
    state: &Shared,
    in_transaction: bool,
) -> Result<u64, Fatal> {
    let mut rows = Vec::with_capacity(records.len());
    for record in records {
        let converted: Result<Vec<Value>, String> = record
            .iter()
            .zip(&shape.targets)
            .enumerate()
            .map(|(i, (value, target))| {
                target
                    .convert(value)
                    .map_err(|e| format!("column {}: {e}", shape.columns[i]))
            })
            .collect();
        match converted {
            Ok(row) => rows.push(row),
            Err(reason) => state.dirty(log, "write", &record, &reason),
        }
    }
    // Statements of at most 65,535 placeholders (both protocols' limit); a COPY has none.
    let per_statement = if uses_copy(conn, writer) {
        COPY_ROWS
    } else {
        (65_535 / shape.columns.len().max(1)).clamp(1, writer.batch_size as usize)
    };
    let mut written = 0;
    // Halving on refusal: a stack of slices still to write.
    let mut pending: Vec<&[Record]> = rows.chunks(per_statement).rev().collect();
    let context = format!("writing to {}", writer.table);
    while let Some(slice) = pending.pop() {
        // Inside a transaction a refused statement must not take the batch's earlier
        // statements with it (PostgreSQL aborts the whole transaction on an error).
        if in_transaction {
            execute_sql(conn, "SAVEPOINT datax_batch")
                .await
                .map_err(|e| sql_error(&context, e))?;
        }
        let attempt = insert(conn, writer, shape, slice).await;
        if in_transaction {
            let end = match &attempt {
                Ok(()) => Some("RELEASE SAVEPOINT datax_batch"),
                Err(sqlx::Error::Database(_)) => Some("ROLLBACK TO SAVEPOINT datax_batch"),
                Err(_) => None,
            };
            if let Some(end) = end {
                execute_sql(conn, end)
                    .await
                    .map_err(|e| sql_error(&context, e))?;
            }
        }
        match attempt {
            Ok(()) => written += slice.len() as u64,
            Err(sqlx::Error::Database(refusal)) => {
                if slice.len() == 1 {
                    state.dirty(log, "write", &slice[0], refusal.message());
                    if state.stopping() {
                        break;
                    }
                } else {
                    let (left, right) = slice.split_at(slice.len() / 2);
                    pending.push(right);
                    pending.push(left);
                }
            }
            Err(other) => return Err(sql_error(&context, other)),
        }
    }
    Ok(written)
}

fn insert_sql(kind: DbKind, writer: &DbWriter, shape: &WriterShape, rows: usize) -> String {
    let verb = match writer.write_mode {
        WriteMode::Replace => "REPLACE INTO",
        WriteMode::Insert | WriteMode::Update => "INSERT INTO",
    };
    let width = shape.columns.len();
    let mut sql = String::with_capacity(64 + rows * width * 6);
    sql.push_str(verb);
    sql.push(' ');
    sql.push_str(&writer.table);
    sql.push_str(" (");
    sql.push_str(&shape.columns.join(","));
    sql.push_str(") VALUES ");
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for (col, target) in shape.targets.iter().enumerate() {
            if col > 0 {
                sql.push(',');
            }
            match kind {
                DbKind::Mysql => sql.push('?'),
                DbKind::Postgresql => {
                    n += 1;
                    match target {
                        Target::Cast(type_name) => {
                            sql.push_str(&format!("CAST(${n} AS {type_name})"))
                        }
                        _ => sql.push_str(&format!("${n}")),
                    }
                }
            }
        }
        sql.push(')');
    }
    if writer.write_mode == WriteMode::Update && kind == DbKind::Postgresql {
        sql.push_str(" ON CONFLICT (");
        sql.push_str(&shape.conflict_key.join(","));
        let updates: Vec<String> = shape
            .columns
            .iter()
            .filter(|c| !shape.conflict_key.contains(c))
            .map(|c| format!("{c}=EXCLUDED.{c}"))
            .collect();
        if updates.is_empty() {
            sql.push_str(") DO NOTHING");
        } else {
            sql.push_str(") DO UPDATE SET ");
            sql.push_str(&updates.join(","));
        }
    } else if writer.write_mode == WriteMode::Update {
        // VALUES() runs on MySQL 8.0 (deprecated there, not removed) and on MariaDB, which
        // has no row alias form.
        let updates: Vec<String> = shape
            .columns
            .iter()
            .map(|c| format!("{c}=VALUES({c})"))
            .collect();
        sql.push_str(" ON DUPLICATE KEY UPDATE ");
        sql.push_str(&updates.join(","));
    }
    sql
}

/// Rows gathered into one `COPY` (about 10 MB of a 10-column table).
const COPY_ROWS: usize = 32_768;

/// PostgreSQL targets in insert mode are written with `COPY … FROM STDIN` ([`copy`]).
fn uses_copy(conn: &Conn, writer: &DbWriter) -> bool {
    matches!(conn, Conn::Postgresql(_)) && writer.write_mode == WriteMode::Insert
}

async fn insert(
    conn: &mut Conn,
    writer: &DbWriter,
    shape: &WriterShape,
    rows: &[Record],
) -> Result<(), sqlx::Error> {
    match conn {
        Conn::Mysql(c) => {
            let sql = insert_sql(DbKind::Mysql, writer, shape, rows.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in rows {
                for value in row {
                    query = bind_mysql(query, value);
                }
            }
            query.execute(&mut *c).await.map(drop)
        }
        Conn::Postgresql(c) if writer.write_mode == WriteMode::Insert => {
            let mut data = String::with_capacity(rows.len() * shape.columns.len() * 12);
            copy::encode(rows, &shape.targets, &mut data);
            let mut copy_in = c
                .copy_in_raw(&copy::statement(&writer.table, &shape.columns))
                .await?;
            copy_in.send(data.as_bytes()).await?;
            copy_in.finish().await.map(drop)
        }
        Conn::Postgresql(c) => {
            let sql = insert_sql(DbKind::Postgresql, writer, shape, rows.len());
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in rows {
                for (value, target) in row.iter().zip(&shape.targets) {
                    query = bind_postgres(query, value, target);
                }
            }
            query.execute(&mut *c).await.map(drop)
        }
    }
}

fn bind_mysql<'q>(
    query: Query<'q, MySql, MySqlArguments>,
    value: &'q Value,
) -> Query<'q, MySql, MySqlArguments> {
    match value {
        Value::Null => query.bind(None::<&str>),
        Value::Bool(b) => query.bind(*b),
        Value::Long(n) => query.bind(*n),
        Value::ULong(n) => query.bind(*n),
        Value::Double(f) => query.bind(*f),
        Value::Decimal(d) => query.bind(d),
        Value::String(s) => query.bind(s.as_str()),
        Value::Bytes(b) => query.bind(b.as_slice()),
        Value::Date(d) => query.bind(*d),
        Value::DateTime(t) => query.bind(*t),
        Value::Time(t) => query.bind(*t),
    }
}

fn bind_postgres<'q>(
    query: Query<'q, Postgres, PgArguments>,
    value: &'q Value,
    target: &Target,
) -> Query<'q, Postgres, PgArguments> {
    match (target, value) {
        (Target::Int(16), Value::Long(n)) => query.bind(*n as i16),
        (Target::Int(16), _) => query.bind(None::<i16>),
        (Target::Int(32), Value::Long(n)) => query.bind(*n as i32),
        (Target::Int(32), _) => query.bind(None::<i32>),
        (Target::Int(_) | Target::UInt, Value::Long(n)) => query.bind(*n),
        (Target::Int(_) | Target::UInt, _) => query.bind(None::<i64>),
        (Target::Float, Value::Double(f)) => query.bind(*f as f32),
        (Target::Float, _) => query.bind(None::<f32>),
        (Target::Double, Value::Double(f)) => query.bind(*f),
        (Target::Double, _) => query.bind(None::<f64>),
        (Target::Decimal, Value::Decimal(d)) => query.bind(d),
        (Target::Decimal, _) => query.bind(None::<bigdecimal::BigDecimal>),
        (Target::Text | Target::Cast(_), Value::String(s)) => query.bind(s.as_str()),
        (Target::Text | Target::Cast(_), _) => query.bind(None::<&str>),
        (Target::Bytes, Value::Bytes(b)) => query.bind(b.as_slice()),
        (Target::Bytes, _) => query.bind(None::<&[u8]>),
        (Target::Bool, Value::Bool(b)) => query.bind(*b),
        (Target::Bool, _) => query.bind(None::<bool>),
        (Target::Date, Value::Date(d)) => query.bind(*d),
        (Target::Date, _) => query.bind(None::<chrono::NaiveDate>),
        (Target::DateTime, Value::DateTime(t)) => query.bind(*t),
        (Target::DateTime, _) => query.bind(None::<NaiveDateTime>),
        (Target::DateTimeTz, Value::DateTime(t)) => query.bind(t.and_utc()),
        (Target::DateTimeTz, _) => query.bind(None::<DateTime<Utc>>),
        (Target::Time | Target::Span, Value::Time(t)) => query.bind(*t),
        (Target::Span, Value::String(s)) => query.bind(s.as_str()),
        (Target::Time | Target::Span, _) => query.bind(None::<chrono::NaiveTime>),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::log::DEFAULT_LOG_CAP_BYTES;

    fn stream_job(channel: u32, records: u64, extra_setting: serde_json::Value) -> Job {
        let mut setting = json!({"speed": {"channel": channel}});
        if let Some(extra) = extra_setting.as_object() {
            for (k, v) in extra {
                setting[k] = v.clone();
            }
        }
        Job::parse(&json!({"job": {"setting": setting, "content": [{
            "reader": {"name": "streamreader", "parameter": {"sliceRecordCount": records,
                "column": [{"type": "long", "value": "10"}, {"type": "string", "value": "hello，你好，世界-DataX"}]}},
            "writer": {"name": "streamwriter", "parameter": {"print": true}}}]}}))
        .expect("valid")
    }

    #[tokio::test]
    async fn stream_to_stream_runs_one_slice_per_channel() {
        let log = RunLog::new("job-1", chrono_tz::UTC, DEFAULT_LOG_CAP_BYTES);
        let report = run(
            &stream_job(5, 10, json!({})),
            &Datasources::new(),
            &RunOptions::new(AllowList::default()),
            &log,
        )
        .await;
        assert_eq!(report.status, RunStatus::Succeeded, "{}", log.text());
        assert_eq!(report.tasks, 5);
        assert_eq!(report.summary.read_records, 50);
        assert_eq!(
            log.text()
                .lines()
                .filter(|l| *l == "10\thello，你好，世界-DataX")
                .count(),
            50
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_record_limit_paces_the_whole_job() {
        let log = RunLog::new("job-1", chrono_tz::UTC, DEFAULT_LOG_CAP_BYTES);
        let started = Instant::now();
        let job = stream_job(4, 5_000, json!({"speed": {"channel": 4, "record": 10_000}}));
        let report = run(
            &job,
            &Datasources::new(),
            &RunOptions::new(AllowList::default()),
            &log,
        )
        .await;
        assert_eq!(report.status, RunStatus::Succeeded);
        // 20,000 records at 10,000 a second across four channels: about two seconds of the
        // paused clock, not eight (the limit is for the job, not per channel).
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1_800) && took <= Duration::from_millis(2_300),
            "{took:?}"
        );
    }
}
