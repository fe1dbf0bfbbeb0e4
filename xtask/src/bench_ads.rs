//! The ad-counter benchmark (issue: at least 50,000 events/s folded on this machine with
//! zero lost and zero doubled, and at least five times the naive path in the same run).
//!
//! - Worker: 1,000,000 hit events (200 styles, 100,000 visitors, 10 % clicks, within the
//!   last two hours) delivered in batches of 10,000 with 5 % of each batch redelivered
//!   (copies of events from earlier batches or the same one), folded through
//!   `ad_counter_worker::fold` one batch after another; then every (style, hour) count is
//!   checked against the events' own tally.
//! - Four workers at once over the same batches (same hot styles and hours), combined rate,
//!   with InnoDB's row-lock waits and deadlocks over the run and the transactions retried.
//! - Naive path: one autocommitted upsert per event on 8 connections (no duplicate
//!   ledger: it would count redeliveries twice), on the first `--naive-events`.
//! - The seed's path: Redis `INCR <code>_show` / `<code>_click` per event on 50
//!   connections, not pipelined, on the first `--redis-events` (it keeps no hours, no
//!   visitors and no exactly-once either).
//! - Unique visitors: the HLL estimate of 1,000,000 distinct visitors, and of the 100,000
//!   of the folded events read back from the database.
//! - The public hit handler in process (`GET /v1/oper/show` through the axum router, its
//!   event sent to the local moto SQS): p50 / p99 per hit, next to a bare SendMessageBatch
//!   to moto, which is most of it.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use ad_counter_worker::{FoldSettings, fold};
use anyhow::Context;
use chrono::{NaiveDateTime, TimeDelta, Utc};
use common::{
    ads::{HitEvent, HitKind, VisitorId, VisitorSketch},
    config::DatabaseSettings,
};
use rand::{Rng, SeedableRng};
use sqlx::MySqlPool;

const DATABASE: &str = "bench_ads";
const STYLES: u64 = 200;
const VISITORS: u64 = 100_000;
const BATCH: usize = 10_000;
const REDELIVERED_SHARE: f64 = 0.05;

/// What the benchmark measured.
#[derive(Debug, Default)]
pub struct AdsFigures {
    pub events: usize,
    pub deliveries: usize,
    pub worker_seconds: f64,
    pub exact: bool,
    pub parallel_seconds: f64,
    pub parallel_exact: bool,
    pub parallel_retries: u64,
    pub lock_waits: u64,
    pub deadlocks: u64,
    pub naive_events: usize,
    pub naive_seconds: f64,
    pub redis_events: usize,
    pub redis_seconds: f64,
    pub hll_error_1m: f64,
    pub hll_error_db: f64,
    pub hit_p50_ms: f64,
    pub hit_p99_ms: f64,
    pub moto_p50_ms: f64,
    pub hits: usize,
}

impl AdsFigures {
    pub fn worker_rate(&self) -> f64 {
        self.deliveries as f64 / self.worker_seconds
    }
    pub fn parallel_rate(&self) -> f64 {
        self.deliveries as f64 / self.parallel_seconds
    }
    pub fn naive_rate(&self) -> f64 {
        self.naive_events as f64 / self.naive_seconds
    }
    pub fn redis_rate(&self) -> f64 {
        self.redis_events as f64 / self.redis_seconds
    }
}

/// Runs every part.
///
/// # Errors
/// Any step that fails, with what was being done.
pub async fn run(
    server: &DatabaseSettings,
    events: usize,
    naive_events: usize,
    redis_events: usize,
    redis_url: &str,
    sqs_endpoint: Option<&str>,
) -> anyhow::Result<AdsFigures> {
    let pool = crate::bench_db::fresh_migrated(server, DATABASE, 8).await?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_201);
    let now = Utc::now();
    let generated: Vec<HitEvent> = (0..events)
        .map(|_| {
            let kind = if rng.random_bool(0.1) {
                HitKind::Click
            } else {
                HitKind::Show
            };
            let mut e = HitEvent::new(
                kind,
                rng.random_range(1..=STYLES),
                VisitorId(
                    rng.random_range(0..VISITORS)
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ),
            );
            e.at =
                (now - TimeDelta::milliseconds(rng.random_range(0..7_200_000))).timestamp_millis();
            e
        })
        .collect();
    let mut batches: Vec<Vec<HitEvent>> = Vec::new();
    for (index, chunk) in generated.chunks(BATCH).enumerate() {
        let mut batch = chunk.to_vec();
        let copies = (chunk.len() as f64 * REDELIVERED_SHARE) as usize;
        let seen = (index * BATCH + chunk.len()).min(generated.len());
        for _ in 0..copies {
            batch.push(generated[rng.random_range(0..seen)].clone());
        }
        batches.push(batch);
    }
    let mut expected: BTreeMap<(u64, NaiveDateTime), (u64, u64)> = BTreeMap::new();
    for e in &generated {
        let cell = expected
            .entry((e.style, e.hour_utc().context("hour")?))
            .or_default();
        match e.kind {
            HitKind::Show => cell.0 += 1,
            HitKind::Click => cell.1 += 1,
        }
    }
    let deliveries: usize = batches.iter().map(Vec::len).sum();
    let settings = FoldSettings {
        shards: 4,
        zone: chrono_tz::Asia::Shanghai,
        ledger_days: 15,
        click_block_ms: 0,
    };
    let mut figures = AdsFigures {
        events,
        deliveries,
        ..AdsFigures::default()
    };

    eprintln!("folding {deliveries} deliveries ({events} events) with one worker");
    let started = Instant::now();
    for batch in &batches {
        fold(&pool, batch.clone(), &settings).await?;
    }
    figures.worker_seconds = started.elapsed().as_secs_f64();
    figures.exact = stored(&pool).await? == expected;
    figures.hll_error_db = {
        let day = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
        let mut conn = pool.acquire().await?;
        let mut union = common::ads::VisitorUnion::default();
        for d in [day.pred_opt().unwrap_or(day), day] {
            let (from, to) = common::ads::day_bounds(d, chrono_tz::Asia::Shanghai);
            let hours = common::ads::hour_figures(
                &mut conn,
                from,
                to,
                &common::ads::StyleFilter::All,
                false,
            )
            .await?;
            for (_, (_, _, v)) in hours {
                union.add_sketch(&v.sketch());
            }
        }
        let distinct: std::collections::HashSet<VisitorId> =
            generated.iter().map(|e| e.visitor).collect();
        (union.count() as f64 - distinct.len() as f64).abs() / distinct.len() as f64
    };

    eprintln!("folding the same deliveries with four workers at once");
    sqlx::raw_sql(
        "DELETE FROM ad_event_seen; DELETE FROM ad_hour_count; DELETE FROM ad_hour_visitors",
    )
    .execute(&pool)
    .await?;
    let (waits_before, deadlocks_before) = lock_status(&pool).await?;
    let batches = Arc::new(batches);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let pool = pool.clone();
        let batches = batches.clone();
        let settings = settings.clone();
        workers.spawn(async move {
            let mut retries = 0;
            for batch in batches.iter().skip(worker).step_by(4) {
                let outcome = fold(&pool, batch.clone(), &settings).await?;
                retries += u64::from(outcome.attempts - 1);
            }
            Ok::<u64, ad_counter_worker::FoldError>(retries)
        });
    }
    while let Some(done) = workers.join_next().await {
        figures.parallel_retries += done??;
    }
    figures.parallel_seconds = started.elapsed().as_secs_f64();
    let (waits_after, deadlocks_after) = lock_status(&pool).await?;
    figures.lock_waits = waits_after.saturating_sub(waits_before);
    figures.deadlocks = deadlocks_after.saturating_sub(deadlocks_before);
    figures.parallel_exact = stored(&pool).await? == expected;

    eprintln!("naive path: one upsert per event on 8 connections");
    sqlx::raw_sql("DELETE FROM ad_hour_count")
        .execute(&pool)
        .await?;
    figures.naive_events = naive_events.min(generated.len());
    let naive: Arc<Vec<HitEvent>> = Arc::new(generated[..figures.naive_events].to_vec());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let pool = pool.clone();
        let naive = naive.clone();
        tasks.spawn(async move {
            for e in naive.iter().skip(worker).step_by(8) {
                let (shows, clicks) = match e.kind {
                    HitKind::Show => (1, 0),
                    HitKind::Click => (0, 1),
                };
                sqlx::query(
                    "INSERT INTO ad_hour_count (style_id, hour_utc, shard, shows, clicks, updated_at)
                     VALUES (?, ?, 0, ?, ?, ?)
                     ON DUPLICATE KEY UPDATE shows = shows + VALUES(shows), clicks = clicks + VALUES(clicks), updated_at = VALUES(updated_at)",
                )
                .bind(e.style)
                .bind(e.hour_utc())
                .bind(shows)
                .bind(clicks)
                .bind(Utc::now().naive_utc())
                .execute(&pool)
                .await?;
            }
            Ok::<(), sqlx::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    figures.naive_seconds = started.elapsed().as_secs_f64();

    eprintln!("the seed's path: Redis INCR per event on 50 connections");
    figures.redis_events = redis_events.min(generated.len());
    figures.redis_seconds = redis_incr(redis_url, &generated[..figures.redis_events]).await?;

    let mut sketch = VisitorSketch::new();
    for v in 0..1_000_000_u64 {
        sketch.add(VisitorId(v.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555));
    }
    figures.hll_error_1m = (sketch.estimate() - 1_000_000.0).abs() / 1_000_000.0;

    if let Some(endpoint) = sqs_endpoint {
        eprintln!("the public hit handler in process, its event sent to moto");
        hits(&pool, endpoint, &mut figures).await?;
    }
    Ok(figures)
}

async fn stored(pool: &MySqlPool) -> anyhow::Result<BTreeMap<(u64, NaiveDateTime), (u64, u64)>> {
    let rows: Vec<(u64, NaiveDateTime, i64, i64)> = sqlx::query_as(
        "SELECT style_id, hour_utc, CAST(SUM(shows) AS SIGNED), CAST(SUM(clicks) AS SIGNED)
         FROM ad_hour_count GROUP BY style_id, hour_utc",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(s, h, shows, clicks)| {
            (
                (s, h),
                (
                    u64::try_from(shows).unwrap_or(0),
                    u64::try_from(clicks).unwrap_or(0),
                ),
            )
        })
        .collect())
}

async fn lock_status(pool: &MySqlPool) -> anyhow::Result<(u64, u64)> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_deadlocks')",
    )
    .fetch_all(pool)
    .await?;
    let get = |name: &str| {
        rows.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((get("Innodb_row_lock_waits"), get("Innodb_deadlocks")))
}

async fn redis_incr(url: &str, events: &[HitEvent]) -> anyhow::Result<f64> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    let events = Arc::new(events.to_vec());
    let mut connections = Vec::new();
    for _ in 0..50 {
        connections.push(
            client
                .get_multiplexed_async_connection()
                .await
                .context("connecting to Redis (127.0.0.1:6379)")?,
        );
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (worker, mut conn) in connections.into_iter().enumerate() {
        let events = events.clone();
        tasks.spawn(async move {
            for e in events.iter().skip(worker).step_by(50) {
                let key = match e.kind {
                    HitKind::Show => format!("bench_ads:{}_show", e.style),
                    HitKind::Click => format!("bench_ads:{}_click", e.style),
                };
                let _: i64 = redis::cmd("INCR").arg(key).query_async(&mut conn).await?;
            }
            Ok::<(), redis::RedisError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn hits(pool: &MySqlPool, endpoint: &str, figures: &mut AdsFigures) -> anyhow::Result<()> {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;
    let sdk = crate::bench_db::moto_sdk_config().await;
    let sqs = common::aws::sqs_client(&sdk, Some(endpoint));
    // Fresh queues per run: moto's sends slow down as a queue fills, so the bare sends are
    // timed first, on a queue of their own.
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let new_queue = |name: String| {
        let sqs = sqs.clone();
        async move {
            sqs.create_queue()
                .queue_name(name)
                .send()
                .await?
                .queue_url
                .context("queue url")
        }
    };
    let moto_queue = new_queue(format!("bench-ads-moto-{run_id}")).await?;
    let producer = common::sqs::Producer::new(sqs.clone(), moto_queue);
    let mut moto = Vec::new();
    for i in 0..500 {
        let started = Instant::now();
        producer
            .send_all(vec![common::sqs::OutgoingMessage::new(format!(
                "{{\"id\":\"{i}\",\"kind\":\"show\",\"style\":1,\"visitor\":\"0000000000000001\",\"at\":0}}"
            ))])
            .await?;
        moto.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let queue = new_queue(format!("bench-ads-hits-{run_id}")).await?;
    let now = Utc::now().naive_utc();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO ad_group (`group`, note, create_time, update_time) VALUES ('bench', '', '{now}', '{now}');
         INSERT INTO ad_image (image_name, image_url, note, group_id, create_time, update_time)
           VALUES ('b', 'https://x.org/b.png', '', LAST_INSERT_ID(), '{now}', '{now}');
         INSERT INTO ad_style (`system`, image_id, link_url, weight, device, enabled, show_code, click_code, note, create_time, update_time)
           VALUES ('bench', LAST_INSERT_ID(), 'https://x.org', 1, 'all', 1, 'benchshowcode000000000', 'benchclickcode00000000', '', '{now}', '{now}')"
    )))
    .execute(pool)
    .await?;
    let settings = ad_api::AdSettings::new(
        queue.clone(),
        secrecy::SecretString::from("bench-salt-0123456789abcdef"),
    );
    let state = ad_api::AppState::new(pool.clone(), settings, sqs.clone());
    let router = ad_api::router(
        state,
        common::http::auth::Tokens::new(pool.clone(), Duration::ZERO),
    );
    let mut times = Vec::new();
    figures.hits = 2000;
    for i in 0..figures.hits {
        let request = Request::get(format!(
            "/v1/oper/show?code=benchshowcode000000000&uid=u{i}"
        ))
        .body(Body::empty())?;
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            response.status().is_success(),
            "hit answered {}",
            response.status()
        );
    }
    figures.hit_p50_ms = percentile(&mut times, 0.5);
    figures.hit_p99_ms = percentile(&mut times, 0.99);
    figures.moto_p50_ms = percentile(&mut moto, 0.5);
    Ok(())
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values.get(index).copied().unwrap_or(0.0)
}

/// Prints the figures as the other benchmarks do.
pub fn print(f: &AdsFigures) {
    println!();
    println!(
        "ad counter benchmark ({} events, {} deliveries with 5 % redelivered, {STYLES} styles, {VISITORS} visitors, batches of {BATCH})",
        f.events, f.deliveries
    );
    println!(
        "  worker fold, one worker                  {:>7.1} s  {:>9.0} events/s   exact: {}",
        f.worker_seconds,
        f.worker_rate(),
        if f.exact {
            "yes (0 lost, 0 doubled)"
        } else {
            "NO"
        }
    );
    println!(
        "  worker fold, four workers at once        {:>7.1} s  {:>9.0} events/s   exact: {}; {} row-lock waits, {} deadlocks, {} transactions retried",
        f.parallel_seconds,
        f.parallel_rate(),
        if f.parallel_exact { "yes" } else { "NO" },
        f.lock_waits,
        f.deadlocks,
        f.parallel_retries
    );
    println!(
        "  naive: one upsert per event, 8 conns     {:>7.1} s  {:>9.0} events/s   (first {} events; counts redeliveries twice)",
        f.naive_seconds,
        f.naive_rate(),
        f.naive_events
    );
    println!(
        "  seed: Redis INCR per event, 50 conns     {:>7.1} s  {:>9.0} events/s   (first {} events; no hours, visitors or exactly-once)",
        f.redis_seconds,
        f.redis_rate(),
        f.redis_events
    );
    println!(
        "  worker / naive                           {:>7.1}x   (target >= 5x: {})",
        f.worker_rate() / f.naive_rate(),
        if f.worker_rate() >= 5.0 * f.naive_rate() {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  worker rate target >= 50000 events/s      {}",
        if f.worker_rate() >= 50_000.0 && f.exact {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  unique visitors, HLL lg_k 14             error {:.2} % on 1,000,000 distinct; {:.2} % on the folded events' visitors read back",
        f.hll_error_1m * 100.0,
        f.hll_error_db * 100.0
    );
    if f.hits > 0 {
        println!(
            "  public hit handler in process ({} hits)  p50 {:.2} ms, p99 {:.2} ms; of which moto's SendMessageBatch alone p50 {:.2} ms",
            f.hits, f.hit_p50_ms, f.hit_p99_ms, f.moto_p50_ms
        );
    }
}
