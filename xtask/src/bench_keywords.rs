//! The keyword batch benchmark (source system 002), on the local MariaDB and moto.
//!
//! # Part 1: the queries (database `bench_keywords`)
//! `--chats` generated chats (default 1,000,000; [`crate::chats`], about 30 % repeats) over
//! the 7 days 2025-06-11..17; keyword rows (made with SQL, SHA-256 of the raw text, i.e.
//! the question hash with normalisation off) for every question of the first 3 days and
//! for half the questions of the 4th, so about half the questions are processed; then
//! `ANALYZE TABLE`. Each side runs 3 times; the figure is the median (the data is in the
//! buffer pool after the first run, so these are warm figures for both sides).
//! - Unique questions of the 7 days: the function's survey (`survey::count_questions` per
//!   date, 2 dates at once as its default KEYWORD_DATE_CONCURRENCY) with normalisation off
//!   (like for like: the original groups by the column's collation too) and on; next to the
//!   original's window query over the 7-day range, fetched whole as the original does, and
//!   run day by day (2 at once). The per-day counts of the function (off) and of the
//!   original run day by day must agree, chats and unique questions, or the run fails.
//! - Missing questions of the 7 days: the function's `check` (`keyword_batch::handle`, its
//!   survey plus the keyword rows and the ledger of each date) next to the original's
//!   missing query; with normalisation off the function's missing count must equal the
//!   original's rows, date by date. The original's query compares every chat of a date with
//!   every keyword row of that date (MariaDB keys its derived table on the date only: a TEXT
//!   column cannot be a key), so its time grows with the square of a day's size; the server
//!   stops it after `--original-cap-secs` (MariaDB's max_statement_time, default 300 s),
//!   and then both sides run again, with the agreement check, on a smaller copy made the
//!   same way (`--sample-chats`, default 50,000).

//! # Part 2: `complete` end to end (database `bench_keywords_e2e`)
//! `--questions` unique questions (default 3,000, normalised) over 2 days, asked with
//! repeats and variants; no question on both days, so every question takes exactly one
//! successful HCX answer (a question of both days may legitimately be asked twice when two
//! environments miss the cross-day cache at once, which would blur the duplicate check).
//! `complete` puts them on a moto work queue (VisibilityTimeout 60 s, RedrivePolicy to a
//! dead-letter queue with maxReceiveCount 5); then two simulated worker environments, each a
//! `keyword_worker::Worker` with its own HCX client (account limit 600 requests a minute
//! shared by 2 environments: 300 a minute each; base backoff 200 ms), loop
//! ReceiveMessage (10, wait 1 s, with ApproximateReceiveCount) → `Worker::handle` →
//! DeleteMessageBatch of the messages not reported failed, until the queue is empty (each
//! `handle` with the deadline of a 600 s invocation less its 30 s margin). HCX
//! is the fake server ([`crate::fake_hcx`]) answering every 10th request with a 429 and
//! each after 100 ms. Wall time runs from the first receive to the last delete; the run
//! fails past a time bound (15 min, or 3 s per 10 questions if more).
//!
//! The visibility timeout is 60 s, not a few seconds: one receive of 10 messages of 10
//! questions is 100 requests at 5 a second, 20 s of work, and a shorter timeout would hand
//! messages still being worked on to the other environment. A failed message comes back
//! after it.
//!
//! Checks (the run fails otherwise): nothing in the dead-letter queue; one keyword row per
//! question; exactly one successful HCX answer per question (none for anything else); every
//! ledger row `done`, sent once; a final `check` with nothing missing.
//!
//! # Part 3: sending (on part 1's data)
//! One date without keyword rows (2025-06-15, about 80,000 unique questions with the
//! default chats), 4 SendMessageBatch requests in flight, 1 question per message and then
//! 10 (KEYWORD_QUESTIONS_PER_MESSAGE), the date's ledger emptied before each run:
//! - `basic` for the whole date to a modelled SQS: a `BatchSender` that takes 20 ms per
//!   SendMessageBatch call (an in-region round trip; an assumption) and counts the calls;
//! - `missing` with a limit (`--moto-questions`, default 1,000, the most asked first: the
//!   same sending path) to a fresh moto queue. Not the whole date: moto computes the
//!   queue's attributes over every message it holds for each message sent, so its cost per
//!   message grows with the queue and 80,000 messages would take hours.
//!
//! `--skip-send` leaves part 3 out.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use chrono::{NaiveDate, TimeDelta, Utc};
use common::{
    chat::{Normalization, QuestionHash, normalize},
    config::DatabaseSettings,
    error::BoxError,
    job::Deadline,
    sqs::{BatchOutcome, BatchSender, OutgoingMessage, Producer},
};
use futures_util::{StreamExt, TryStreamExt, stream};
use keyword_batch::{BatchSettings, survey};
use keyword_worker::{
    Classifier, Worker, WorkerSettings,
    hcx::{HcxClient, HcxSettings},
};
use serde_json::{Value, json};
use sqlx::{MySqlPool, Row};

use crate::{
    chats::{self, Chat, ChatSpec},
    fake_hcx::{FakeHcx, Reply, Script},
};

const DATABASE: &str = "bench_keywords";
const E2E_DATABASE: &str = "bench_keywords_e2e";
const DAYS: u32 = 7;
/// Days whose every question has its keyword row; the next day has half of them.
const PROCESSED_DAYS: u32 = 3;
/// Timed runs of each query; the median is reported.
const RUNS: usize = 3;
/// The function's default KEYWORD_DATE_CONCURRENCY.
const DATE_CONCURRENCY: usize = 2;
const E2E_DAYS: u32 = 2;
/// The account's HCX limit and the environments sharing it.
const REQUESTS_PER_MINUTE: u32 = 600;
const ENVIRONMENTS: u32 = 2;
const HCX_LATENCY: Duration = Duration::from_millis(100);
const EVERY_NTH_429: usize = 10;
const VISIBILITY_TIMEOUT_SECS: u32 = 60;
const MAX_RECEIVES: u32 = 5;
/// The modelled SQS's round trip per SendMessageBatch in part 3.
const MODELLED_SQS_LATENCY: Duration = Duration::from_millis(20);
const SAMPLE_DATABASE: &str = "bench_keywords_sample";
/// KeywordWorkerFunction's time-out (600 s) less the 30 s margin its `main` keeps.
const INVOCATION_BUDGET: Duration = Duration::from_secs(570);

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 11).unwrap_or_default()
}

/// What to run.
#[derive(Debug, Clone)]
pub struct KeywordsOptions {
    /// Chats of part 1 (over 7 days).
    pub chats: u64,
    /// Unique questions of part 2.
    pub questions: usize,
    /// Leave part 3 out.
    pub skip_send: bool,
    /// moto's endpoint.
    pub sqs_endpoint: String,
    /// The longest the original's missing query may run (the server stops it).
    pub original_cap: Duration,
    /// Chats of the smaller copy on which both missing queries run when the original's was
    /// stopped at full size.
    pub sample_chats: u64,
    /// Questions sent to moto in part 3 (moto's cost per message grows with the queue).
    pub moto_send_questions: u32,
}

/// Three timed runs of one side.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    pub runs: Vec<f64>,
}

impl Timing {
    /// The median run (the middle one of three).
    pub fn median(&self) -> f64 {
        let mut runs = self.runs.clone();
        runs.sort_by(f64::total_cmp);
        runs.get(runs.len() / 2).copied().unwrap_or(f64::NAN)
    }

    fn runs_text(&self) -> String {
        self.runs
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// A generated data set.
#[derive(Debug, Default)]
pub struct Prepared {
    pub chats: u64,
    pub insert_seconds: f64,
    pub keyword_rows: u64,
    pub hashes_checked: usize,
    /// A keyword row whose SHA2 is not the question hash of its text, if any.
    pub hash_mismatch: Option<String>,
}

/// The function's check (normalisation off) next to the original's missing query.
#[derive(Debug, Default)]
pub struct MissingComparison {
    /// Chats of the data set (the smaller copy's; 0 for the full one).
    pub chats: u64,
    pub check_off: Timing,
    pub missing_off: u64,
    pub original: Timing,
    /// The server stopped the original's query at the cap (its one run is the cap).
    pub original_stopped: bool,
    pub original_rows: u64,
    /// Whether the two agree date by date (`None` when the original was stopped).
    pub agree: Option<bool>,
    pub disagreement: String,
}

/// Part 1's figures.
#[derive(Debug, Default)]
pub struct QueryFigures {
    pub prepared: Prepared,
    pub unique_off: Timing,
    pub unique_on: Timing,
    pub original_range: Timing,
    pub original_days: Timing,
    /// Sums over the days.
    pub unique_off_total: u64,
    pub unique_on_total: u64,
    /// Rows of the window query over the whole range (one per text over the 7 days).
    pub original_range_rows: u64,
    pub original_days_total: u64,
    pub unique_agree: bool,
    pub missing: MissingComparison,
    pub check_on: Timing,
    pub missing_on: u64,
    /// Both missing queries on a smaller copy, when the original's was stopped.
    pub sample: Option<MissingComparison>,
}

/// Part 2's figures.
#[derive(Debug, Default)]
pub struct E2eFigures {
    pub questions: u64,
    pub chats: u64,
    pub complete_seconds: f64,
    pub complete_sent: u64,
    pub messages: u64,
    pub wall_seconds: f64,
    pub receives: u64,
    pub failed_messages: u64,
    pub requests: u64,
    pub answered_429: u64,
    pub other_errors: u64,
    pub request_span_seconds: f64,
    pub max_requests_in_60s: u64,
    pub dlq_messages: u64,
    pub keyword_rows: u64,
    pub cached_rows: u64,
    pub answered_twice: u64,
    pub answered_never: u64,
    pub answered_unasked: u64,
    pub ledger_not_done: u64,
    pub resent: u64,
    pub final_missing: u64,
    pub final_unique: u64,
}

impl E2eFigures {
    pub fn questions_per_second(&self) -> f64 {
        self.questions as f64 / self.wall_seconds
    }
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.request_span_seconds
    }
}

/// Part 3's figures for one setting.
#[derive(Debug, Default, Clone)]
pub struct SendRun {
    /// "modelled SQS" or "moto".
    pub target: &'static str,
    pub questions_per_message: usize,
    /// SendMessageBatch calls (counted by the modelled SQS; the producer's 10 a call for moto).
    pub calls: u64,
    pub seconds: f64,
    pub sent: u64,
    pub messages: u64,
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct KeywordsFigures {
    pub queries: QueryFigures,
    pub e2e: E2eFigures,
    pub send: Vec<SendRun>,
    /// What failed a correctness check.
    pub failures: Vec<String>,
}

/// Runs every part.
///
/// # Errors
/// Any step that fails, with what was being done. Failed correctness checks are not errors
/// here: they are in [`KeywordsFigures::failures`], so the figures are printed first.
pub async fn run(
    server: &DatabaseSettings,
    options: &KeywordsOptions,
) -> anyhow::Result<KeywordsFigures> {
    let sqs = sqs_client(&options.sqs_endpoint).await;
    let mut figures = KeywordsFigures::default();
    let pool = queries(server, options, &mut figures).await?;
    if !options.skip_send {
        let date = first_day() + TimeDelta::days(i64::from(PROCESSED_DAYS) + 1);
        for per_message in [1, 10] {
            eprintln!(
                "part 3: basic for {date} to the modelled SQS, {per_message} question(s) per message"
            );
            figures
                .send
                .push(send_modelled(&pool, date, per_message).await?);
        }
        for per_message in [1, 10] {
            eprintln!(
                "part 3: {} questions of {date} to moto, {per_message} question(s) per message",
                options.moto_send_questions
            );
            figures.send.push(
                send_moto(&pool, &sqs, date, per_message, options.moto_send_questions).await?,
            );
        }
        if figures.send.iter().any(|r| r.sent == 0) {
            figures
                .failures
                .push("part 3: a sending run sent nothing".into());
        }
    }
    pool.close().await;
    let pool = crate::bench_db::fresh_migrated(server, E2E_DATABASE, 16).await?;
    end_to_end(&pool, &sqs, options.questions, &mut figures).await?;
    pool.close().await;
    Ok(figures)
}

async fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let sdk = crate::bench_db::moto_sdk_config().await;
    common::aws::sqs_client(&sdk, Some(endpoint))
}

async fn timed<T, F, Fut>(mut f: F) -> anyhow::Result<(Timing, T)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut timing = Timing::default();
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let value = f().await?;
        timing.runs.push(started.elapsed().as_secs_f64());
        last = Some(value);
    }
    Ok((timing, last.context("no run")?))
}

/// (unique questions, chats) per date.
type PerDay = BTreeMap<NaiveDate, (u64, u64)>;

async fn function_unique(
    pool: &MySqlPool,
    dates: &[NaiveDate],
    normalization: Normalization,
) -> anyhow::Result<PerDay> {
    Ok(stream::iter(dates.iter().copied())
        .map(|date| async move {
            let day = survey::count_questions(pool, date, normalization).await?;
            Ok::<_, sqlx::Error>((date, (day.counts.len() as u64, day.chats)))
        })
        .buffer_unordered(DATE_CONCURRENCY)
        .try_collect()
        .await?)
}

async fn original_by_day(pool: &MySqlPool, dates: &[NaiveDate]) -> anyhow::Result<PerDay> {
    Ok(stream::iter(dates.iter().copied())
        .map(|date| async move {
            let rows = chats::original_unique(pool, date, date).await?;
            let chats: i64 = rows.iter().map(|(_, n)| n).sum();
            Ok::<_, sqlx::Error>((date, (rows.len() as u64, u64::try_from(chats).unwrap_or(0))))
        })
        .buffer_unordered(DATE_CONCURRENCY)
        .try_collect()
        .await?)
}

async fn batch<S: BatchSender>(
    pool: &MySqlPool,
    producer: &Producer<S>,
    settings: &BatchSettings,
    payload: Value,
) -> anyhow::Result<Value> {
    keyword_batch::handle(
        pool,
        producer,
        settings,
        payload,
        Utc::now(),
        Deadline::none(),
    )
    .await
    .map_err(|e| anyhow!("keyword-batch: {e}"))
}

fn u64_at(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// Missing questions per date from a check answer.
fn missing_by_date(answer: &Value) -> BTreeMap<NaiveDate, u64> {
    answer
        .pointer("/check/dates")
        .and_then(Value::as_array)
        .map(|dates| {
            dates
                .iter()
                .filter_map(|d| {
                    let date = d.get("date")?.as_str()?.parse().ok()?;
                    Some((date, d.get("missing")?.as_u64()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Generates `chats` chats over the 7 days and the keyword rows; answers what was made.
async fn prepare(pool: &MySqlPool, chats: u64) -> anyhow::Result<Prepared> {
    let from = first_day();
    let dates: Vec<NaiveDate> = from.iter_days().take(DAYS as usize).collect();
    let per_day = u32::try_from(chats.div_ceil(u64::from(DAYS))).context("chats per day")?;
    let mut prepared = Prepared::default();
    let started = Instant::now();
    prepared.chats = chats::insert(
        pool,
        chats::chats(&ChatSpec::new(from, DAYS, per_day, 20_250_611)),
    )
    .await?;
    prepared.insert_seconds = started.elapsed().as_secs_f64();

    // Keyword rows as the function would key them with normalisation off: grouped as its
    // survey groups (the day's range, GROUP BY the text), hashed with SHA-256 of the text.
    for (index, date) in dates.iter().enumerate().take(PROCESSED_DAYS as usize + 1) {
        let (start, end) = survey::day_bounds(*date);
        let half = if index == PROCESSED_DAYS as usize {
            " HAVING CRC32(input_text) % 2 = 0"
        } else {
            ""
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO admin_chat_keywords (query_text, query_hash, category, keywords, total_count, status, provider, model, prompt_version, created_at, classified_at) \
             SELECT input_text, UNHEX(SHA2(input_text, 256)), 'other', '[]', COUNT(*), 'ok', 'bench', 'bench', 'bench', ?, NOW(3) \
             FROM chattings WHERE created_at >= ? AND created_at < ? GROUP BY input_text{half}"
        )))
        .bind(date)
        .bind(start)
        .bind(end)
        .execute(pool)
        .await
        .context("keyword rows")?;
    }
    sqlx::raw_sql("ANALYZE TABLE chattings, admin_chat_keywords")
        .execute(pool)
        .await?;
    prepared.keyword_rows =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM admin_chat_keywords")
            .fetch_one(pool)
            .await?
            .try_into()
            .unwrap_or(0);
    let sample: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "(SELECT query_text, query_hash FROM admin_chat_keywords ORDER BY id LIMIT 500) \
         UNION ALL (SELECT query_text, query_hash FROM admin_chat_keywords ORDER BY RAND() LIMIT 500)",
    )
    .fetch_all(pool)
    .await?;
    prepared.hashes_checked = sample.len();
    prepared.hash_mismatch = sample
        .iter()
        .find(|(text, hash)| {
            let question = Normalization::Off.question(text).unwrap_or_default();
            QuestionHash::of(&question).0.as_slice() != hash.as_slice()
        })
        .map(|(text, _)| text.clone());
    Ok(prepared)
}

/// The original's missing query on one connection whose statements the server stops after
/// `cap` (MariaDB's max_statement_time); `None` when it was stopped.
async fn original_missing_capped(
    pool: &MySqlPool,
    from: NaiveDate,
    to: NaiveDate,
    cap: Duration,
) -> anyhow::Result<Option<Vec<(NaiveDate, String, i64)>>> {
    let mut conn = pool.acquire().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SET SESSION max_statement_time = {}",
        cap.as_secs()
    )))
    .execute(&mut *conn)
    .await?;
    // The original's query as `chats::original_missing` runs it: the same text, the range's
    // bounds bound the same way.
    let result = sqlx::query(chats::ORIGINAL_MISSING_SQL)
        .bind(from)
        .bind(to)
        .bind(from.and_hms_opt(0, 0, 0).unwrap_or_default())
        .bind(to.and_hms_opt(23, 59, 59).unwrap_or_default())
        .fetch_all(&mut *conn)
        .await;
    sqlx::query("SET SESSION max_statement_time = 0")
        .execute(&mut *conn)
        .await?;
    match result {
        Ok(rows) => Ok(Some(
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?,
        )),
        Err(sqlx::Error::Database(e)) if e.message().contains("max_statement_time") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The function's check (normalisation off) next to the original's missing query over the
/// 7 days, and whether they agree date by date.
async fn compare_missing(
    pool: &MySqlPool,
    cap: Duration,
) -> anyhow::Result<(MissingComparison, Value)> {
    let from = first_day();
    let to = from + TimeDelta::days(i64::from(DAYS) - 1);
    let producer = Producer::new(Unused, "http://unused.invalid/queue");
    let payload = json!({"mode": "check", "from": from.to_string(), "to": to.to_string()});
    let settings = BatchSettings {
        normalization: Normalization::Off,
        ..BatchSettings::default()
    };
    let mut m = MissingComparison::default();
    let (timing, check) = timed(|| batch(pool, &producer, &settings, payload.clone())).await?;
    m.check_off = timing;
    m.missing_off = u64_at(&check, "/check/missing");

    let mut rows = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let answer = original_missing_capped(pool, from, to, cap).await?;
        m.original.runs.push(started.elapsed().as_secs_f64());
        match answer {
            Some(answer) => rows = Some(answer),
            None => {
                m.original_stopped = true;
                break;
            }
        }
    }
    if let Some(rows) = rows.filter(|_| !m.original_stopped) {
        m.original_rows = rows.len() as u64;
        let mut original_by_date: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        for (date, _, _) in &rows {
            *original_by_date.entry(*date).or_default() += 1;
        }
        let function_by_date: BTreeMap<NaiveDate, u64> = missing_by_date(&check)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        let agree = m.missing_off == m.original_rows && function_by_date == original_by_date;
        m.agree = Some(agree);
        if !agree {
            m.disagreement =
                format!("function (off) {function_by_date:?}, original {original_by_date:?}");
        }
    }
    Ok((m, check))
}

async fn queries(
    server: &DatabaseSettings,
    options: &KeywordsOptions,
    figures: &mut KeywordsFigures,
) -> anyhow::Result<MySqlPool> {
    let from = first_day();
    let to = from + TimeDelta::days(i64::from(DAYS) - 1);
    let dates: Vec<NaiveDate> = from.iter_days().take(DAYS as usize).collect();
    let KeywordsFigures {
        queries: q,
        failures,
        ..
    } = figures;
    let pool = crate::bench_db::fresh_migrated(server, DATABASE, 8).await?;
    eprintln!("part 1: inserting {} chats over {DAYS} days", options.chats);
    q.prepared = prepare(&pool, options.chats).await?;
    if let Some(text) = &q.prepared.hash_mismatch {
        failures.push(format!(
            "SHA2(input_text, 256) is not the question hash (normalisation off) of {text:?}"
        ));
    }
    let pool = &pool;

    eprintln!("part 1: unique questions, the function (normalisation off, then on)");
    let (timing, off) = timed(|| function_unique(pool, &dates, Normalization::Off)).await?;
    q.unique_off = timing;
    q.unique_off_total = off.values().map(|(u, _)| u).sum();
    let (timing, on) = timed(|| function_unique(pool, &dates, Normalization::On)).await?;
    q.unique_on = timing;
    q.unique_on_total = on.values().map(|(u, _)| u).sum();

    eprintln!("part 1: unique questions, the original's window query over the range");
    let (timing, rows) =
        timed(|| async { Ok(chats::original_unique(pool, from, to).await?.len() as u64) }).await?;
    q.original_range = timing;
    q.original_range_rows = rows;
    eprintln!("part 1: unique questions, the original's window query day by day");
    let (timing, original) = timed(|| original_by_day(pool, &dates)).await?;
    q.original_days = timing;
    q.original_days_total = original.values().map(|(u, _)| u).sum();
    q.unique_agree = original == off;
    if !q.unique_agree {
        failures.push(format!(
            "unique questions per day (questions, chats): function {off:?}, original {original:?}"
        ));
    }

    eprintln!(
        "part 1: missing questions, the function's check (off), then the original's query (stopped after {} s)",
        options.original_cap.as_secs()
    );
    let (missing, _) = compare_missing(pool, options.original_cap).await?;
    q.missing = missing;
    eprintln!("part 1: missing questions, the function's check (on)");
    let producer = Producer::new(Unused, "http://unused.invalid/queue");
    let payload = json!({"mode": "check", "from": from.to_string(), "to": to.to_string()});
    let on_settings = BatchSettings::default();
    let (timing, on_check) =
        timed(|| batch(pool, &producer, &on_settings, payload.clone())).await?;
    q.check_on = timing;
    q.missing_on = u64_at(&on_check, "/check/missing");

    if q.missing.original_stopped {
        eprintln!(
            "part 1: the original's missing query was stopped; both sides again on {} chats",
            options.sample_chats
        );
        let sample_pool = crate::bench_db::fresh_migrated(server, SAMPLE_DATABASE, 8).await?;
        let prepared = prepare(&sample_pool, options.sample_chats).await?;
        let (mut missing, _) = compare_missing(&sample_pool, Duration::from_secs(3600)).await?;
        missing.chats = prepared.chats;
        q.sample = Some(missing);
        sample_pool.close().await;
    }
    for (scale, m) in
        std::iter::once(("", &q.missing)).chain(q.sample.iter().map(|m| (" (smaller copy)", m)))
    {
        if m.agree == Some(false) {
            failures.push(format!(
                "missing questions per day{scale}: {}",
                m.disagreement
            ));
        }
    }
    if q.missing.agree.is_none() && q.sample.as_ref().and_then(|m| m.agree).is_none() {
        failures.push("the original's missing query never finished: no agreement checked".into());
    }
    Ok(pool.clone())
}

/// A sender for the runs that send nothing (`check`).
struct Unused;

impl BatchSender for Unused {
    async fn send_batch(
        &self,
        _queue_url: &str,
        _entries: Vec<(String, OutgoingMessage)>,
    ) -> Result<BatchOutcome, BoxError> {
        Err("a check sends nothing".into())
    }
}

/// SQS as a fixed round trip per `SendMessageBatch` (see the module docs), counting calls.
#[derive(Clone)]
struct ModelledSqs {
    latency: Duration,
    calls: Arc<AtomicU64>,
    messages: Arc<AtomicU64>,
}

impl BatchSender for ModelledSqs {
    async fn send_batch(
        &self,
        _queue_url: &str,
        entries: Vec<(String, OutgoingMessage)>,
    ) -> Result<BatchOutcome, BoxError> {
        tokio::time::sleep(self.latency).await;
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.messages
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        Ok(BatchOutcome::default())
    }
}

async fn new_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> anyhow::Result<String> {
    let mut create = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        create = create.attributes(key.clone(), value.clone());
    }
    create
        .send()
        .await
        .with_context(|| format!("creating the queue {name}"))?
        .queue_url
        .context("queue url")
}

async fn queue_counts(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> anyhow::Result<(u64, u64, u64)> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .context("queue attributes")?;
    let attributes = out.attributes.unwrap_or_default();
    let get = |name: QueueAttributeName| {
        attributes
            .get(&name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    ))
}

async fn send_modelled(
    pool: &MySqlPool,
    date: NaiveDate,
    questions_per_message: usize,
) -> anyhow::Result<SendRun> {
    sqlx::query("DELETE FROM keyword_work WHERE chat_date = ?")
        .bind(date)
        .execute(pool)
        .await?;
    let sqs = ModelledSqs {
        latency: MODELLED_SQS_LATENCY,
        calls: Arc::new(AtomicU64::new(0)),
        messages: Arc::new(AtomicU64::new(0)),
    };
    let settings = BatchSettings {
        questions_per_message,
        send_in_flight: 4,
        ..BatchSettings::default()
    };
    let mut producer = Producer::new(sqs.clone(), "https://sqs.modelled.invalid/queue");
    producer.in_flight = settings.send_in_flight;
    let payload = json!({"mode": "basic", "from": date.to_string(), "to": date.to_string()});
    let started = Instant::now();
    let answer = batch(pool, &producer, &settings, payload).await?;
    Ok(SendRun {
        target: "modelled SQS",
        questions_per_message,
        calls: sqs.calls.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        sent: u64_at(&answer, "/basic/sent"),
        messages: sqs.messages.load(Ordering::Relaxed),
    })
}

async fn send_moto(
    pool: &MySqlPool,
    sqs: &aws_sdk_sqs::Client,
    date: NaiveDate,
    questions_per_message: usize,
    questions: u32,
) -> anyhow::Result<SendRun> {
    sqlx::query("DELETE FROM keyword_work WHERE chat_date = ?")
        .bind(date)
        .execute(pool)
        .await?;
    let name = format!(
        "bench-keywords-send-{questions_per_message}-{}",
        uuid::Uuid::new_v4().simple()
    );
    let queue_url = new_queue(sqs, &name, &[]).await?;
    let settings = BatchSettings {
        questions_per_message,
        send_in_flight: 4,
        ..BatchSettings::default()
    };
    let mut producer = Producer::new(sqs.clone(), queue_url.clone());
    producer.in_flight = settings.send_in_flight;
    // `missing` with a limit: the same sending path as `basic`, the most asked first.
    let payload = json!({"mode": "missing", "from": date.to_string(), "to": date.to_string(), "limit": questions});
    let started = Instant::now();
    let answer = batch(pool, &producer, &settings, payload).await?;
    let seconds = started.elapsed().as_secs_f64();
    let (visible, not_visible, delayed) = queue_counts(sqs, &queue_url).await?;
    sqs.delete_queue().queue_url(&queue_url).send().await?;
    let messages = visible + not_visible + delayed;
    Ok(SendRun {
        target: "moto",
        questions_per_message,
        calls: messages.div_ceil(10),
        seconds,
        sent: u64_at(&answer, "/missing/sent"),
        messages,
    })
}

/// Chats of `days` days with `target` unique (normalised) questions in all, none on two
/// days; answers the chats and each question with its date.
fn e2e_chats(target: usize) -> (Vec<Chat>, HashMap<String, NaiveDate>) {
    let days = E2E_DAYS as usize;
    let per_day = u32::try_from(target.div_ceil(days) * 2).unwrap_or(u32::MAX);
    let spec = ChatSpec::new(first_day(), E2E_DAYS, per_day, 20_250_701);
    let mut asked: HashMap<String, NaiveDate> = HashMap::new();
    let mut of_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    for chat in chats::chats(&spec) {
        let date = chat.created_at.date();
        let day_index = usize::try_from((date - first_day()).num_days()).unwrap_or(0);
        let day_target = target / days + usize::from(day_index < target % days);
        let question = normalize(&chat.text);
        match asked.get(&question) {
            Some(d) if *d == date => kept.push(chat),
            Some(_) => {}
            None => {
                let n = of_day.entry(date).or_default();
                if *n < day_target {
                    *n += 1;
                    asked.insert(question, date);
                    kept.push(chat);
                }
            }
        }
    }
    (kept, asked)
}

#[derive(Default)]
struct Clock {
    first_receive: OnceLock<Instant>,
    last_delete: Mutex<Option<Instant>>,
}

#[derive(Debug, Default)]
struct EnvironmentCounts {
    receives: u64,
    messages: u64,
    failed: u64,
}

/// One simulated execution environment: receive, handle, delete, until the queue is empty.
async fn environment(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    worker: Worker,
    clock: Arc<Clock>,
    until: Instant,
) -> anyhow::Result<EnvironmentCounts> {
    let mut counts = EnvironmentCounts::default();
    loop {
        anyhow::ensure!(
            Instant::now() < until,
            "the worker environments did not empty the queue within the time bound"
        );
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .context("receiving")?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            let (visible, not_visible, delayed) = queue_counts(&sqs, &queue_url).await?;
            if visible + not_visible + delayed == 0 {
                return Ok(counts);
            }
            continue;
        }
        clock.first_receive.get_or_init(Instant::now);
        counts.receives += 1;
        counts.messages += messages.len() as u64;
        let mut receipts: HashMap<String, String> = HashMap::new();
        let mut event = SqsEvent::default();
        for m in &messages {
            let id = m.message_id.clone().unwrap_or_default();
            receipts.insert(id.clone(), m.receipt_handle.clone().unwrap_or_default());
            let mut message = SqsMessage::default();
            message.message_id = Some(id);
            message.body = m.body.clone();
            let receive_count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .cloned()
                .unwrap_or_else(|| "1".into());
            message
                .attributes
                .insert("ApproximateReceiveCount".into(), receive_count);
            event.records.push(message);
        }
        // An invocation's deadline as the function computes it: its 600 s time-out less
        // its 30 s margin.
        let response = worker
            .handle(event, Deadline::after(INVOCATION_BUDGET))
            .await;
        let failed: HashSet<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        counts.failed += failed.len() as u64;
        let entries = receipts
            .iter()
            .filter(|(id, _)| !failed.contains(*id))
            .enumerate()
            .map(|(index, (_, receipt))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(receipt)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !entries.is_empty() {
            let out = sqs
                .delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("deleting")?;
            anyhow::ensure!(
                out.failed.is_empty(),
                "DeleteMessageBatch refused {:?}",
                out.failed
            );
            *clock
                .last_delete
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        }
    }
}

async fn end_to_end(
    pool: &MySqlPool,
    sqs: &aws_sdk_sqs::Client,
    questions: usize,
    figures: &mut KeywordsFigures,
) -> anyhow::Result<()> {
    let from = first_day();
    let to = from + TimeDelta::days(i64::from(E2E_DAYS) - 1);
    let KeywordsFigures {
        e2e: e, failures, ..
    } = figures;
    let (chats, asked) = e2e_chats(questions);
    e.questions = asked.len() as u64;
    e.chats = chats::insert(pool, chats.into_iter()).await?;

    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let dlq_url = new_queue(sqs, &format!("bench-keywords-dlq-{run_id}"), &[]).await?;
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .context("the dead-letter queue's ARN")?;
    let queue_url = new_queue(
        sqs,
        &format!("bench-keywords-work-{run_id}"),
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_TIMEOUT_SECS.to_string(),
            ),
            (
                QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES.to_string()})
                    .to_string(),
            ),
        ],
    )
    .await?;

    let settings = BatchSettings::default();
    let mut producer = Producer::new(sqs.clone(), queue_url.clone());
    producer.in_flight = settings.send_in_flight;
    let payload = json!({"mode": "complete", "from": from.to_string(), "to": to.to_string()});
    eprintln!(
        "part 2: complete for {from}..{to} ({} questions, {} chats)",
        e.questions, e.chats
    );
    let started = Instant::now();
    let answer = batch(pool, &producer, &settings, payload).await?;
    e.complete_seconds = started.elapsed().as_secs_f64();
    e.complete_sent = u64_at(&answer, "/basic/sent") + u64_at(&answer, "/missing/sent");
    let (visible, _, _) = queue_counts(sqs, &queue_url).await?;
    e.messages = visible;

    let fake = FakeHcx::start(
        Script::new()
            .every_nth_429(EVERY_NTH_429)
            .latency(HCX_LATENCY),
    )
    .await?;
    let categories: Vec<String> = keyword_worker::settings::DEFAULT_CATEGORIES
        .split(',')
        .map(str::to_owned)
        .collect();
    let bound = Duration::from_secs(900.max(questions as u64 * 3 / 10));
    let clock = Arc::new(Clock::default());
    let until = Instant::now() + bound;
    eprintln!(
        "part 2: {ENVIRONMENTS} worker environments against the fake HCX ({REQUESTS_PER_MINUTE} requests a minute, every {EVERY_NTH_429}th a 429, {} ms each)",
        HCX_LATENCY.as_millis()
    );
    let mut environments = tokio::task::JoinSet::new();
    for _ in 0..ENVIRONMENTS {
        let mut hcx = HcxSettings::new(
            fake.base_url.clone(),
            "HCX-005",
            secrecy::SecretString::from(fake.api_key.clone()),
            categories.clone(),
            REQUESTS_PER_MINUTE,
            ENVIRONMENTS,
        );
        hcx.base_backoff = Duration::from_millis(200);
        let worker = Worker {
            pool: pool.clone(),
            classifier: Classifier::Hcx(HcxClient::new(hcx)?),
            settings: WorkerSettings {
                max_receives: MAX_RECEIVES,
                ..WorkerSettings::default()
            },
        };
        environments.spawn(environment(
            sqs.clone(),
            queue_url.clone(),
            worker,
            clock.clone(),
            until,
        ));
    }
    while let Some(done) = environments.join_next().await {
        let counts = done??;
        e.receives += counts.receives;
        e.failed_messages += counts.failed;
    }
    let first = clock.first_receive.get().copied();
    let last = *clock
        .last_delete
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    e.wall_seconds = match (first, last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => f64::NAN,
    };

    let requests = fake.requests();
    fake.stop().await;
    e.requests = requests.len() as u64;
    e.answered_429 = requests
        .iter()
        .filter(|r| r.reply == Reply::Status429)
        .count() as u64;
    e.other_errors = requests
        .iter()
        .filter(|r| !matches!(r.reply, Reply::Status429 | Reply::Normal))
        .count() as u64;
    if let (Some(first), Some(last)) = (requests.first(), requests.last()) {
        e.request_span_seconds = (last.at - first.at).as_secs_f64();
    }
    let mut window_start = 0;
    for (index, r) in requests.iter().enumerate() {
        while r.at - requests[window_start].at >= Duration::from_secs(60) {
            window_start += 1;
        }
        e.max_requests_in_60s = e.max_requests_in_60s.max((index - window_start + 1) as u64);
    }
    let mut answers: HashMap<&str, u64> = HashMap::new();
    for r in requests.iter().filter(|r| r.reply == Reply::Normal) {
        *answers.entry(r.question.as_str()).or_default() += 1;
    }
    e.answered_twice = answers.values().filter(|n| **n > 1).count() as u64;
    e.answered_unasked = answers.keys().filter(|q| !asked.contains_key(**q)).count() as u64;
    e.answered_never = asked
        .keys()
        .filter(|q| !answers.contains_key(q.as_str()))
        .count() as u64;

    let (visible, not_visible, delayed) = queue_counts(sqs, &dlq_url).await?;
    e.dlq_messages = visible + not_visible + delayed;
    let scalar = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
    };
    e.keyword_rows = scalar("SELECT COUNT(*) FROM admin_chat_keywords").await?;
    e.cached_rows =
        scalar("SELECT COUNT(*) FROM admin_chat_keywords WHERE cached_from IS NOT NULL").await?;
    e.ledger_not_done = scalar("SELECT COUNT(*) FROM keyword_work WHERE status <> 'done'").await?;
    e.resent = scalar("SELECT COUNT(*) FROM keyword_work WHERE sends <> 1").await?;
    let check = batch(
        pool,
        &producer,
        &settings,
        json!({"mode": "check", "from": from.to_string(), "to": to.to_string()}),
    )
    .await?;
    e.final_missing = u64_at(&check, "/check/missing");
    e.final_unique = u64_at(&check, "/check/total_unique");
    for queue in [&queue_url, &dlq_url] {
        sqs.delete_queue().queue_url(queue).send().await?;
    }

    let checks = [
        (e.dlq_messages == 0, "messages in the dead-letter queue"),
        (
            e.complete_sent == e.questions,
            "complete did not send every question once",
        ),
        (
            e.keyword_rows == e.questions,
            "keyword rows are not one per question",
        ),
        (
            e.answered_twice == 0 && e.answered_never == 0 && e.answered_unasked == 0,
            "successful HCX answers are not exactly one per question",
        ),
        (
            e.ledger_not_done == 0 && e.resent == 0,
            "the ledger has questions not done, or sent twice",
        ),
        (
            e.final_missing == 0 && e.final_unique == e.questions,
            "the final check finds questions missing",
        ),
    ];
    for (ok, what) in checks {
        if !ok {
            failures.push(format!("part 2: {what}"));
        }
    }
    Ok(())
}

fn print_missing(m: &MissingComparison) {
    println!(
        "    {:<56} {:>9.2} {:>10}   {}",
        "function check, normalisation off",
        m.check_off.median(),
        m.missing_off,
        m.check_off.runs_text()
    );
    if m.original_stopped {
        println!(
            "    {:<56} {:>9} {:>10}   stopped by the server (max_statement_time) after {:.0} s",
            "baseline: original missing query (with its GROUP BY)",
            format!("> {:.0}", m.original.runs.last().copied().unwrap_or(0.0)),
            "-",
            m.original.runs.last().copied().unwrap_or(0.0)
        );
        println!(
            "    ratio original / function (off)                          {:>8}x",
            format!(
                "> {:.0}",
                m.original.runs.last().copied().unwrap_or(0.0) / m.check_off.median()
            )
        );
    } else {
        println!(
            "    {:<56} {:>9.2} {:>10}   {}   (= function off, per day: {})",
            "baseline: original missing query (with its GROUP BY)",
            m.original.median(),
            m.original_rows,
            m.original.runs_text(),
            yes(m.agree == Some(true))
        );
        println!(
            "    ratio original / function (off)                          {:>8.1}x",
            m.original.median() / m.check_off.median()
        );
    }
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

/// Prints the figures as the other benchmarks do.
pub fn print(f: &KeywordsFigures) {
    let q = &f.queries;
    let p = &q.prepared;
    println!();
    println!(
        "keyword batch benchmark, part 1: queries ({} chats over {DAYS} days from {}, about 30 % repeats; inserted in {:.1} s)",
        p.chats,
        first_day(),
        p.insert_seconds
    );
    println!(
        "  keyword rows: every question of the first {PROCESSED_DAYS} days and half of the next ({} rows); SHA2(text) = question hash with normalisation off: {} of {} sampled",
        p.keyword_rows,
        if p.hash_mismatch.is_some() {
            "NOT all"
        } else {
            "all"
        },
        p.hashes_checked
    );
    println!(
        "  {:<58} {:>9} {:>10}   runs (s)",
        "median of 3 runs, warm", "seconds", "rows"
    );
    println!("  unique questions, 7 days");
    let line = |name: &str, t: &Timing, rows: u64, note: &str| {
        println!(
            "    {name:<56} {:>9.2} {rows:>10}   {}{note}",
            t.median(),
            t.runs_text()
        );
    };
    line(
        "function, day by day (2 at once), normalisation off",
        &q.unique_off,
        q.unique_off_total,
        "",
    );
    line(
        "function, day by day (2 at once), normalisation on",
        &q.unique_on,
        q.unique_on_total,
        "",
    );
    line(
        "baseline: original window query over the range, fetched",
        &q.original_range,
        q.original_range_rows,
        "   (one row per text over the 7 days)",
    );
    line(
        "original window query day by day (2 at once)",
        &q.original_days,
        q.original_days_total,
        &format!("   (= function off, per day: {})", yes(q.unique_agree)),
    );
    println!(
        "    ratio original (range) / function (off)                  {:>8.1}x",
        q.original_range.median() / q.unique_off.median()
    );
    println!(
        "    ratio original (day by day) / function (off)             {:>8.1}x",
        q.original_days.median() / q.unique_off.median()
    );
    println!("  missing questions, 7 days");
    print_missing(&q.missing);
    line(
        "function check, normalisation on",
        &q.check_on,
        q.missing_on,
        "",
    );
    if let Some(sample) = &q.sample {
        println!(
            "  missing questions, 7 days, on a smaller copy ({} chats, made the same way) where the original's query finishes",
            sample.chats
        );
        print_missing(sample);
    }

    let e = &f.e2e;
    let limit = f64::from(REQUESTS_PER_MINUTE) / 60.0;
    println!();
    println!(
        "keyword batch benchmark, part 2: complete end to end ({} unique questions in {} chats over {E2E_DAYS} days)",
        e.questions, e.chats
    );
    println!(
        "  fake HCX: every {EVERY_NTH_429}th request a 429, {} ms per answer; limit {REQUESTS_PER_MINUTE} requests/min shared by {ENVIRONMENTS} environments ({}/min each), base backoff 200 ms",
        HCX_LATENCY.as_millis(),
        REQUESTS_PER_MINUTE / ENVIRONMENTS
    );
    println!(
        "  complete: {} questions sent in {} messages, {:.1} s",
        e.complete_sent, e.messages, e.complete_seconds
    );
    println!(
        "  workers: first receive to last delete   {:>8.1} s   {} receives, {} messages reported failed",
        e.wall_seconds, e.receives, e.failed_messages
    );
    println!(
        "  questions/s                             {:>8.2}     limit {limit:.2} requests/s; {:.0} % of it ({:.0} % with 1 request in {EVERY_NTH_429} a 429)",
        e.questions_per_second(),
        e.questions_per_second() / limit * 100.0,
        100.0 * (1.0 - 1.0 / EVERY_NTH_429 as f64)
    );
    println!(
        "  HCX requests                            {:>8}     {} answered 429, {} other errors; {:.2} requests/s over {:.1} s ({:.0} % of the limit); at most {} in any 60 s",
        e.requests,
        e.answered_429,
        e.other_errors,
        e.requests_per_second(),
        e.request_span_seconds,
        e.requests_per_second() / limit * 100.0,
        e.max_requests_in_60s
    );
    println!(
        "  dead-letter queue                       {:>8}     (must be 0)",
        e.dlq_messages
    );
    println!(
        "  keyword rows                            {:>8}     = questions: {} ({} answered from another day's row)",
        e.keyword_rows,
        yes(e.keyword_rows == e.questions),
        e.cached_rows
    );
    println!(
        "  successful HCX answers per question     exactly 1: {} ({} twice, {} never, {} not asked)",
        yes(e.answered_twice == 0 && e.answered_never == 0 && e.answered_unasked == 0),
        e.answered_twice,
        e.answered_never,
        e.answered_unasked
    );
    println!(
        "  ledger                                  all done, each sent once: {}",
        yes(e.ledger_not_done == 0 && e.resent == 0)
    );
    println!(
        "  final check                             {} unique, {} missing",
        e.final_unique, e.final_missing
    );
    if !f.send.is_empty() {
        println!();
        println!(
            "keyword batch benchmark, part 3: sending one date's questions (4 SendMessageBatch requests in flight)"
        );
        println!(
            "  modelled SQS: {} ms a SendMessageBatch call; moto: its cost per message grows with the queue's length, so a small count only",
            MODELLED_SQS_LATENCY.as_millis()
        );
        for r in &f.send {
            println!(
                "  {:<13} {:>2} question(s) per message  {:>7} questions  {:>7} messages  {:>6} calls  {:>7.1} s  {:>8.0} questions/s",
                r.target,
                r.questions_per_message,
                r.sent,
                r.messages,
                r.calls,
                r.seconds,
                r.sent as f64 / r.seconds
            );
        }
        for target in ["modelled SQS", "moto"] {
            let runs: Vec<&SendRun> = f.send.iter().filter(|r| r.target == target).collect();
            if let [one, ten] = runs.as_slice() {
                println!(
                    "  {target:<13} ratio 10 / 1 per message  {:>8.1}x",
                    (ten.sent as f64 / ten.seconds) / (one.sent as f64 / one.seconds)
                );
            }
        }
    }
    if !f.failures.is_empty() {
        println!();
        println!("FAILED checks:");
        for failure in &f.failures {
            println!("  - {failure}");
        }
    }
}
