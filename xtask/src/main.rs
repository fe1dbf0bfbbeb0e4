//! `cargo run -p xtask -- <task>`: project tasks (see the library for each).

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use xtask::{
    bench::{BenchFigures, BenchOptions},
    bench_db::server_from_env,
    generate::{EntryFormat, GenerateOptions, write_zip},
};

// The engine allocates a value per cell it copies; see the workspace's mimalloc entry.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Insert generated chats (Korean and English questions, repeats, variants) into
    /// `chattings` of the database DATABASE_URL names (the keyword batches' input).
    GenChats {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: NaiveDate,
        #[arg(long, default_value_t = 3)]
        days: u32,
        #[arg(long, default_value_t = 2000)]
        per_day: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Write a zip of realistic xAPI statements for one log date.
    GenXapi {
        /// Where to write the zip.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        statements: u64,
        /// Log date, YYYY-MM-DD.
        #[arg(long, default_value = "2024-05-01")]
        date: NaiveDate,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 4)]
        entries: u32,
        #[arg(long)]
        users: Option<u32>,
        #[arg(long, value_enum, default_value = "mixed")]
        format: EntryFormat,
    },
    /// Benchmark the import against LOAD DATA on the same rows (needs DATABASE_URL).
    BenchImport {
        #[arg(long, default_value_t = 1_000_000)]
        statements: u64,
        #[arg(long, default_value = "target/bench")]
        work_dir: PathBuf,
        #[arg(long, default_value = "target/release/import-local")]
        import_binary: PathBuf,
    },
    /// Benchmark one month of course stats against the original SQL (needs DATABASE_URL).
    BenchCourseStats {
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
    },
    /// Benchmark the cleanup against unchunked DELETEs, a writer alongside (needs DATABASE_URL).
    BenchCleanup {
        /// Synthetic events over six months (three months of them go).
        #[arg(long, default_value_t = 2_000_000)]
        events: u64,
        #[arg(long, default_value_t = 2_000)]
        chunk_rows: u32,
    },
    /// Benchmark the keyword batch's queries against the original's, `complete` end to end
    /// against the fake HCX, and sending to moto (needs DATABASE_URL and AWS_ENDPOINT_URL).
    BenchKeywords {
        /// Generated chats over 7 days for the query comparison.
        #[arg(long, env = "BENCH_KEYWORDS_CHATS", default_value_t = 1_000_000)]
        chats: u64,
        /// Unique questions (over 2 days) classified end to end through the fake HCX.
        #[arg(long, env = "BENCH_KEYWORDS_QUESTIONS", default_value_t = 3000)]
        questions: usize,
        /// Leave out the sending comparison (1 vs 10 questions per message).
        #[arg(long, env = "BENCH_KEYWORDS_SKIP_SEND")]
        skip_send: bool,
        /// The longest the original's missing query may run, in seconds (the server stops it;
        /// both missing queries then run again on a smaller copy).
        #[arg(long, env = "BENCH_KEYWORDS_ORIGINAL_CAP_SECS", default_value_t = 300)]
        original_cap_secs: u64,
        /// Chats of that smaller copy.
        #[arg(long, env = "BENCH_KEYWORDS_SAMPLE_CHATS", default_value_t = 50_000)]
        sample_chats: u64,
        /// Questions sent to moto in the sending comparison.
        #[arg(long, env = "BENCH_KEYWORDS_MOTO_QUESTIONS", default_value_t = 1000)]
        moto_questions: u32,
    },
    /// Benchmark the ad-counter worker against per-event upserts and Redis INCR (needs DATABASE_URL).
    BenchAds {
        /// Hit events folded (200 styles, 100,000 visitors, 5 % redelivered, batches of 10,000).
        #[arg(long, env = "BENCH_ADS_EVENTS", default_value_t = 1_000_000)]
        events: usize,
        /// Events through the naive one-upsert-per-event path.
        #[arg(long, env = "BENCH_ADS_NAIVE_EVENTS", default_value_t = 100_000)]
        naive_events: usize,
        /// Events through the seed's Redis INCR path.
        #[arg(long, env = "BENCH_ADS_REDIS_EVENTS", default_value_t = 1_000_000)]
        redis_events: usize,
        #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/")]
        redis_url: String,
    },
    /// Benchmark the CCTV ingest and rollups against the original trigger and events (needs DATABASE_URL).
    BenchCctv {
        /// Counts posted to the ingest (10 cameras, 5-minute intervals, batches of 500).
        #[arg(long, env = "BENCH_CCTV_COUNTS", default_value_t = 200_000)]
        counts: u64,
        /// Time the original's one-INSERT-per-count baseline on the first N counts only
        /// (default: all of them).
        #[arg(long, env = "BENCH_CCTV_BASELINE_COUNTS")]
        baseline_counts: Option<u64>,
    },
    /// Benchmark the sync engine against mysqldump | mysql, LOAD DATA and psql \copy
    /// (needs DATABASE_URL and POSTGRES_URL).
    BenchSync {
        /// Rows of the generated 10-column table.
        #[arg(long, env = "BENCH_SYNC_ROWS", default_value_t = 2_000_000)]
        rows: u64,
        /// The engine's `channel` (ranges copied at once).
        #[arg(long, env = "BENCH_SYNC_CHANNEL", default_value_t = 1)]
        channel: u32,
        /// The writers' `batchSize` (DataX's default is 1024 for mysqlwriter).
        #[arg(long, env = "BENCH_SYNC_BATCH", default_value_t = 1024)]
        batch_size: u32,
        #[arg(
            long,
            env = "POSTGRES_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/postgres"
        )]
        postgres_url: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::GenChats {
            from,
            days,
            per_day,
            seed,
        } => {
            let url = std::env::var("DATABASE_URL")?;
            let runtime = tokio::runtime::Runtime::new()?;
            let inserted = runtime.block_on(async {
                let pool = sqlx::MySqlPool::connect(&url).await?;
                let spec = xtask::chats::ChatSpec::new(from, days, per_day, seed);
                anyhow::Ok(xtask::chats::insert(&pool, xtask::chats::chats(&spec)).await?)
            })?;
            println!("inserted {inserted} chats from {from} over {days} days");
        }
        Task::GenXapi {
            out,
            statements,
            date,
            seed,
            entries,
            users,
            format,
        } => {
            let options = GenerateOptions {
                statements,
                date,
                seed,
                entries,
                users,
                format,
            };
            let written =
                write_zip(&options, &out).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {written} statements to {}", out.display());
        }
        Task::BenchImport {
            statements,
            work_dir,
            import_binary,
        } => {
            let (server, database_url) = server_from_env(2)?;
            let options = BenchOptions {
                statements,
                work_dir,
                import_binary,
                server,
                database_url,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let f = runtime.block_on(xtask::bench::run(&options))?;
            print_figures(&f);
        }
        Task::BenchCourseStats { events } => {
            let (server, _) = server_from_env(2)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let f = runtime.block_on(xtask::bench_course_stats::run(&server, events))?;
            println!();
            println!(
                "course-stats benchmark ({} synthetic events over 6 months; filled in {:.0} s)",
                f.events, f.fill_seconds
            );
            println!(
                "  function, one month (2024-05, {} rows)        {:>8.2} s",
                f.one_month_rows, f.one_month_seconds
            );
            println!(
                "  function, all six months, one by one          {:>8.2} s",
                f.all_months_seconds
            );
            println!(
                "  baseline: the original SQL ({} rows, all months) {:>8.2} s",
                f.original_rows, f.original_seconds
            );
            let ratio = f.original_seconds / f.one_month_seconds;
            println!(
                "  speed-up, one month vs the original           {ratio:>8.1}x (target >= 10x: {})",
                if ratio >= 10.0 { "met" } else { "NOT met" }
            );
        }
        Task::BenchCleanup { events, chunk_rows } => {
            let (server, _) = server_from_env(2)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let f = runtime.block_on(xtask::bench_cleanup::run(&server, events, chunk_rows))?;
            print_cleanup_figures(&f);
        }
        Task::BenchKeywords {
            chats,
            questions,
            skip_send,
            original_cap_secs,
            sample_chats,
            moto_questions,
        } => {
            let (server, _) = server_from_env(8)?;
            let options = xtask::bench_keywords::KeywordsOptions {
                chats,
                questions,
                skip_send,
                sqs_endpoint: std::env::var("AWS_ENDPOINT_URL")
                    .unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned()),
                original_cap: std::time::Duration::from_secs(original_cap_secs),
                sample_chats,
                moto_send_questions: moto_questions,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let f = runtime.block_on(xtask::bench_keywords::run(&server, &options))?;
            xtask::bench_keywords::print(&f);
            anyhow::ensure!(
                f.failures.is_empty(),
                "{} correctness check(s) failed",
                f.failures.len()
            );
        }
        Task::BenchAds {
            events,
            naive_events,
            redis_events,
            redis_url,
        } => {
            let (server, _) = server_from_env(8)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
            let f = runtime.block_on(xtask::bench_ads::run(
                &server,
                events,
                naive_events,
                redis_events,
                &redis_url,
                endpoint.as_deref(),
            ))?;
            xtask::bench_ads::print(&f);
        }
        Task::BenchCctv {
            counts,
            baseline_counts,
        } => {
            let (server, _) = server_from_env(2)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let f = runtime.block_on(xtask::bench_cctv::run(
                &server,
                counts,
                baseline_counts.unwrap_or(counts),
            ))?;
            print_cctv_figures(&f);
        }
        Task::BenchSync {
            rows,
            channel,
            batch_size,
            postgres_url,
        } => {
            let (mysql, url) = server_from_env(2)?;
            let servers = xtask::bench_sync::Servers {
                mysql,
                login: xtask::bench_sync::MysqlLogin::from_url(&url)?,
                postgres_url,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let f =
                runtime.block_on(xtask::bench_sync::run(&servers, rows, channel, batch_size))?;
            xtask::bench_sync::print(&f);
        }
    }
    Ok(())
}

fn print_cctv_figures(f: &xtask::bench_cctv::CctvFigures) {
    let i = &f.ingest;
    println!();
    println!(
        "cctv benchmark: ingest ({} counts, 10 cameras, 5-minute intervals, batches of 500)",
        i.counts
    );
    println!(
        "  function, POST /cctv/counts in process   {:>8.1} s  {:>10.0} counts/s  ({} flagged as outliers)",
        i.seconds,
        i.rate(),
        i.outliers
    );
    println!(
        "  function, re-post (all unchanged)        {:>8.1} s  {:>10.0} counts/s",
        i.repost_seconds,
        i.repost_rate()
    );
    let sample = if i.baseline_counts < i.counts {
        format!(", on a sample of the first {} counts", i.baseline_counts)
    } else {
        String::new()
    };
    println!(
        "  baseline: one INSERT per count + trigger {:>8.1} s  {:>10.0} counts/s  (original `test` table and `detection` trigger{sample})",
        i.baseline_seconds,
        i.baseline_rate()
    );
    println!(
        "            (the trigger looks its reference up on every row but compares with unset @variables: it never flags)"
    );
    println!(
        "  ratio function / baseline                {:>8.1}x",
        i.rate() / i.baseline_rate()
    );
    let r = &f.rollups;
    println!();
    println!(
        "cctv benchmark: rollups (one year, {} counts of 10 cameras; filled in {:.0} s)",
        r.rows, r.fill_seconds
    );
    println!(
        "  function, catch-up run                   {:>8.2} s  ({} days, {} weeks, {} months, {} year(s); {} stats rows)",
        r.seconds, r.answer.days, r.answer.weeks, r.answer.months, r.answer.years, r.answer.rows
    );
    println!(
        "  function, second catch-up (all done)     {:>8.3} s",
        r.second_run_seconds
    );
    println!(
        "  baseline: the original's events          {:>8.2} s  (365 day events {:.2} s, {} week, {} month, 1 year)",
        r.baseline_seconds, r.baseline_day_seconds, r.baseline_weeks, r.baseline_months
    );
    println!("            (same rows in the original `test` table, which has no camera column:");
    println!("             one stats row per day for all cameras together, UTC days)");
    println!(
        "  speed-up, catch-up vs the original       {:>8.1}x",
        r.baseline_seconds / r.seconds
    );
}

fn print_cleanup_figures(f: &xtask::bench_cleanup::CleanupFigures) {
    println!();
    println!(
        "cleanup benchmark ({} synthetic events over 6 months, {} rows in all; Jan-Mar go)",
        f.events, f.rows_before
    );
    println!(
        "  {:<44} {:>12} {:>9} {:>12} {:>14} {:>14}",
        "", "rows deleted", "seconds", "rows/s", "import max ms", "import p99 ms"
    );
    for (name, d) in [
        (
            format!("cleanup function ({} run(s), chunks)", f.chunked_runs),
            &f.chunked,
        ),
        ("baseline: one DELETE per table".to_owned(), &f.unchunked),
    ] {
        println!(
            "  {name:<44} {:>12} {:>9.1} {:>12.0} {:>14.1} {:>14.1}",
            d.rows_deleted,
            d.seconds,
            d.rows_per_second(),
            d.writer_longest_ms,
            d.writer_p99_ms
        );
    }
    println!(
        "  imports alongside (one transaction per file of 2,000 statements): {} during the cleanup, {} during the baseline",
        f.chunked.writer_transactions, f.unchunked.writer_transactions
    );
}

#[allow(clippy::cast_precision_loss)]
fn print_figures(f: &BenchFigures) {
    let import_rows_per_s = f.rows as f64 / f.import_seconds;
    let load_rows_per_s = f.load_rows as f64 / f.load_seconds;
    let ratio = import_rows_per_s / load_rows_per_s;
    let rss_mb = f.peak_rss_bytes as f64 / 1_048_576.0;
    println!();
    println!(
        "import benchmark ({} statements, {} rows in nine tables)",
        f.statements, f.rows
    );
    println!(
        "  import (import-local, one transaction)  {:>8.1} s  {:>10.0} statements/s  {:>10.0} rows/s",
        f.import_seconds,
        f.statements as f64 / f.import_seconds,
        import_rows_per_s
    );
    println!(
        "  baseline LOAD DATA LOCAL INFILE          {:>8.1} s  {:>10} {:>12}  {:>10.0} rows/s",
        f.load_seconds, "", "", load_rows_per_s
    );
    println!(
        "  ratio import / LOAD DATA                 {ratio:>8.2}    (target >= 0.50: {})",
        if ratio >= 0.5 { "met" } else { "NOT met" }
    );
    println!(
        "  peak RSS of the import                   {rss_mb:>8.1} MB (target < 128 MB: {})",
        if rss_mb < 128.0 { "met" } else { "NOT met" }
    );
}
