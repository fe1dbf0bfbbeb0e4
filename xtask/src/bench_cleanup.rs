//! The cleanup benchmark: rows deleted per second when three months out of six go, by the
//! function's chunked deletes and by unchunked `DELETE` statements on the same data, each
//! with a writer inserting events the whole time and the longest wait it saw.
//!
//! The writer is the real import: it imports generated day files of the current month
//! through `import::pipeline::import_file`, one transaction per file as in production, one
//! file after another for the whole run. Its slowest file is the longest a concurrent
//! import was held up (parsing included, so compare it with the same writer's figures in
//! the other run, not with zero).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{TimeZone, Utc};
use cleanup::{CleanupSettings, Request};
use common::config::DatabaseSettings;
use sqlx::MySqlPool;

use crate::bench_course_stats::fill;

/// Figures of one way of deleting.
#[derive(Debug, Clone, Default)]
pub struct DeleteFigures {
    pub rows_deleted: u64,
    pub seconds: f64,
    pub writer_transactions: u64,
    pub writer_longest_ms: f64,
    pub writer_p99_ms: f64,
}

impl DeleteFigures {
    #[allow(clippy::cast_precision_loss)]
    pub fn rows_per_second(&self) -> f64 {
        self.rows_deleted as f64 / self.seconds
    }
}

/// Figures of the run.
#[derive(Debug, Clone)]
pub struct CleanupFigures {
    pub events: u64,
    pub rows_before: u64,
    pub chunked: DeleteFigures,
    pub chunked_runs: u32,
    pub unchunked: DeleteFigures,
}

/// Day files the concurrent import cycles through, and statements per file (a school's
/// upload of a few minutes; the daily file of the source system is larger, but one
/// transaction per file either way).
const WRITER_FILES: u64 = 40;
const WRITER_STATEMENTS: u64 = 2_000;

/// 2 July 2024, Taipei: with three months kept, the cut-off is 1 April (Jan–Mar go).
const CUTOFF: &str = "2024-04-01";

/// Runs the benchmark on databases `bench_cleanup_chunked` and `bench_cleanup_unchunked`.
///
/// # Errors
/// Any failing step, with what was being done.
pub async fn run(
    server: &DatabaseSettings,
    events: u64,
    chunk_rows: u32,
) -> anyhow::Result<CleanupFigures> {
    let chunked_db = prepare(server, "bench_cleanup_chunked", events).await?;
    let unchunked_db = prepare(server, "bench_cleanup_unchunked", events).await?;
    let rows_before = total_rows(&chunked_db).await?;

    let settings = CleanupSettings {
        chunk_rows,
        ..CleanupSettings::defaults()
    };
    let now = Utc
        .with_ymd_and_hms(2024, 7, 2, 2, 0, 0)
        .single()
        .context("a valid instant")?;
    let spool = tempfile::tempdir().context("a directory for the writer's files")?;
    let files = writer_files(spool.path(), WRITER_FILES, WRITER_STATEMENTS)?;
    let writer = Writer::start(&chunked_db, &files);
    let started = Instant::now();
    let mut runs = 0;
    let mut chunked_deleted = 0u64;
    loop {
        // The writer keeps taking locks on actions the cleanup checks; those stay
        // candidates and a follow-up run (as the hourly continuation would) settles them.
        runs += 1;
        let outcome = cleanup::run(
            &chunked_db,
            Request::default(),
            now,
            chrono_tz::Asia::Taipei,
            &settings,
            common::job::Deadline::none(),
        )
        .await
        .context("the cleanup")?;
        anyhow::ensure!(
            outcome.cutoff.to_string() == CUTOFF,
            "cut-off {}",
            outcome.cutoff
        );
        chunked_deleted += outcome.deleted.values().sum::<u64>();
        if outcome.complete || runs >= 10 {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (writer_transactions, latencies) = writer.stop().await?;
    let chunked = DeleteFigures {
        rows_deleted: chunked_deleted,
        seconds,
        writer_transactions,
        writer_longest_ms: percentile(&latencies, 1.0),
        writer_p99_ms: percentile(&latencies, 0.99),
    };

    let writer = Writer::start(&unchunked_db, &files);
    let started = Instant::now();
    let unchunked_deleted = unchunked_delete(&unchunked_db).await?;
    let seconds = started.elapsed().as_secs_f64();
    let (writer_transactions, latencies) = writer.stop().await?;
    let unchunked = DeleteFigures {
        rows_deleted: unchunked_deleted,
        seconds,
        writer_transactions,
        writer_longest_ms: percentile(&latencies, 1.0),
        writer_p99_ms: percentile(&latencies, 0.99),
    };
    Ok(CleanupFigures {
        events,
        rows_before,
        chunked,
        chunked_runs: runs,
        unchunked,
    })
}

async fn prepare(server: &DatabaseSettings, name: &str, events: u64) -> anyhow::Result<MySqlPool> {
    let pool = crate::bench_db::fresh_migrated(server, name, 4).await?;
    let started = Instant::now();
    fill(&pool, events)
        .await
        .context("filling synthetic data")?;
    // Details as an import writes them: event_info for every event, result for a third.
    sqlx::raw_sql(
        "INSERT INTO event_info (statement_id, platform, event_time)
           SELECT statement_id, 'bench', event_time FROM client_event;
         INSERT INTO result (statement_id, score_scaled, success)
           SELECT statement_id, 0.5, 1 FROM client_event WHERE CRC32(statement_id) % 3 = 0;
         DROP TABLE digits, levels, courses;
         -- The fill makes 3,000 actors a day of which events use 50; an import leaves no
         -- unused actor, so neither does the benchmark's data.
         DELETE FROM actor WHERE NOT EXISTS (SELECT 1 FROM client_event e WHERE e.actor_id = actor.id);
         ANALYZE TABLE client_event, event_info, result, actor, action",
    )
    .execute(&pool)
    .await?;
    eprintln!(
        "  {name}: filled in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(pool)
}

async fn total_rows(pool: &MySqlPool) -> anyhow::Result<u64> {
    let mut total = 0u64;
    for table in ["client_event", "event_info", "result", "actor", "action"] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(pool)
                .await?;
        total += u64::try_from(n).unwrap_or(0);
    }
    Ok(total)
}

/// The plain way: one `DELETE` per table, each a single autocommitted statement; returns
/// the rows deleted.
async fn unchunked_delete(pool: &MySqlPool) -> anyhow::Result<u64> {
    let mut deleted = 0;
    for sql in [
        "DELETE d FROM event_info d JOIN client_event e ON e.statement_id = d.statement_id WHERE e.log_date < ?",
        "DELETE d FROM result d JOIN client_event e ON e.statement_id = d.statement_id WHERE e.log_date < ?",
        "DELETE FROM client_event WHERE log_date < ?",
    ] {
        deleted += sqlx::query(sql)
            .bind(CUTOFF)
            .execute(pool)
            .await?
            .rows_affected();
    }
    for sql in [
        "DELETE FROM actor WHERE NOT EXISTS (SELECT 1 FROM client_event e WHERE e.actor_id = actor.id)",
        "DELETE FROM action WHERE NOT EXISTS (SELECT 1 FROM client_event e WHERE e.action_id = action.id)",
    ] {
        deleted += sqlx::query(sql).execute(pool).await?.rows_affected();
    }
    Ok(deleted)
}

/// Day files for the writer: `count` zips of `statements` statements each, logged on
/// 1 July 2024 (the month the cleanup keeps), with distinct seeds so each is new data.
///
/// # Errors
/// I/O errors.
pub fn writer_files(
    dir: &std::path::Path,
    count: u64,
    statements: u64,
) -> anyhow::Result<Arc<Vec<std::path::PathBuf>>> {
    let date = chrono::NaiveDate::from_ymd_opt(2024, 7, 1).context("a valid date")?;
    let files = (0..count)
        .map(|i| {
            let path = dir.join(format!("writer-{i}.zip"));
            let options = crate::generate::GenerateOptions::new(statements, date, 9_000 + i);
            crate::generate::write_zip(&options, &path).context("generating a writer file")?;
            Ok(path)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Arc::new(files))
}

/// The import running alongside, timing each file (one transaction each).
struct Writer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<Vec<Duration>>>,
}

impl Writer {
    fn start(pool: &MySqlPool, files: &Arc<Vec<std::path::PathBuf>>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let pool = pool.clone();
        let flag = Arc::clone(&stop);
        let files = Arc::clone(files);
        let task = tokio::spawn(async move {
            let settings = import::settings::ImportSettings::defaults(chrono_tz::Asia::Taipei);
            let mut latencies = Vec::new();
            let mut n: usize = 0;
            let mut failed = 0u64;
            while !flag.load(Ordering::Relaxed) {
                // After one pass the files are re-imported under new keys: every statement
                // is then already present, which still takes the same locks.
                let path = &files[n % files.len()];
                let source = import::ledger::Source {
                    bucket: "bench".into(),
                    key: format!("uploads/writer/{n}-2024-07-01.zip"),
                    etag: format!("writer-{n}"),
                    size: None,
                };
                n += 1;
                let started = Instant::now();
                match import::pipeline::import_file(&pool, &settings, &source, path, Utc::now())
                    .await
                {
                    Ok(report) => anyhow::ensure!(
                        report.status == import::report::ImportStatus::Completed,
                        "the import beside the cleanup ended {}: {:?}",
                        report.status,
                        report.error
                    ),
                    // Waited past innodb_lock_wait_timeout, or lost a deadlock: the file was
                    // rolled back (SQS would redeliver it); the wait is the figure.
                    Err(import::pipeline::ImportError::Database(error))
                        if common::db::is_lock_conflict(&error) =>
                    {
                        failed += 1;
                    }
                    Err(error) => {
                        anyhow::bail!(
                            "an import beside the cleanup: {}",
                            common::error::error_chain(&error)
                        )
                    }
                }
                latencies.push(started.elapsed());
            }
            if failed > 0 {
                eprintln!("  {failed} imports alongside lost a lock conflict and were rolled back");
            }
            Ok(latencies)
        });
        Self { stop, task }
    }

    /// Stops the writer; its files and their durations.
    async fn stop(self) -> anyhow::Result<(u64, Vec<Duration>)> {
        self.stop.store(true, Ordering::Relaxed);
        let latencies = self.task.await.context("writer task")??;
        Ok((latencies.len() as u64, latencies))
    }
}

/// The `q` quantile of the latencies, in milliseconds (1.0: the longest).
fn percentile(latencies: &[Duration], q: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let mut sorted: Vec<Duration> = latencies.to_vec();
    sorted.sort();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = (((sorted.len() - 1) as f64) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}
