//! The CCTV benchmark: the `cctv-api` ingest and the `cctv-rollups` catch-up next to the
//! original system's way of doing the same work (source system 001), measured in the same
//! run on the same server.
//!
//! # Ingest
//! Counts accepted per second by `POST /cctv/counts`, driven in process through the axum
//! router (authentication, JSON parsing, validation, upsert, outlier check, one transaction
//! per batch), in batches of 500 counts: 10 cameras, 5-minute intervals. Then the same
//! batches again: every count unchanged, the idempotent re-post path.
//!
//! Baseline: the original's path. One `INSERT` per count, autocommitted, into the original
//! `test` table carrying the original `detection` trigger over its four stats tables and
//! `backup`. The trigger runs as written: it looks up the reference in the stats tables
//! on every row but then compares against session variables (`@people_ref_val`) that
//! nothing sets, so it never writes `backup`; its cost is the lookups. Both sides start
//! with a year of stats (a reference to check against), as a system running for a year
//! would. The baseline takes every count by default (about a minute for 200,000 here);
//! `--baseline-counts` times it on the first N only, and the figure is a rate either way.
//!
//! # Rollups
//! One catch-up run of `cctv_rollups::run` over one year (2023, local days in Asia/Seoul)
//! of 5-minute counts for 10 cameras (1,051,200 rows), then a second run that finds
//! everything done. Baseline: the original's MySQL events replayed for the same year over
//! the same rows loaded into its `test` table (which has no camera column, so it computes
//! one row per day where the function computes one per camera): 365 day events (`... FROM
//! test WHERE DATE(start_date) = ?`, which no index can serve), then the week, month and
//! year events on the dates they would have fired.
//!
//! The data is made with set-based SQL (a digits table cross-joined with itself), as in
//! the other benchmarks; people and vehicles follow a day/night shape plus a hash of the
//! row, so every day has a non-zero standard deviation.

use std::time::Instant;

use anyhow::Context;
use axum::{
    Router,
    body::{Body, Bytes, to_bytes},
    http::{
        Request, StatusCode,
        header::{AUTHORIZATION, CONTENT_TYPE},
    },
};
use cctv_api::{AppState, CctvSettings};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use common::{business_time::local_day_start, config::DatabaseSettings};
use serde_json::{Value, json};
use sqlx::MySqlPool;
use tower::ServiceExt;

const DATABASE: &str = "bench_cctv";
const CAMERAS: u64 = 10;
const INTERVAL_MINUTES: i64 = 5;
/// Counts per POST.
const BATCH: usize = 500;
/// The rolled-up year: 365 days.
const YEAR: i32 = 2023;
const DAYS: u64 = 365;
const INTERVALS_PER_DAY: u64 = 288;

/// Figures of the ingest.
#[derive(Debug, Clone)]
pub struct IngestFigures {
    pub counts: u64,
    pub seconds: f64,
    /// Counts the function flagged as above their camera's reference.
    pub outliers: u64,
    pub repost_seconds: f64,
    /// Counts the baseline inserted (a sample when smaller than `counts`).
    pub baseline_counts: u64,
    pub baseline_seconds: f64,
}

impl IngestFigures {
    #[allow(clippy::cast_precision_loss)]
    pub fn rate(&self) -> f64 {
        self.counts as f64 / self.seconds
    }

    #[allow(clippy::cast_precision_loss)]
    pub fn repost_rate(&self) -> f64 {
        self.counts as f64 / self.repost_seconds
    }

    #[allow(clippy::cast_precision_loss)]
    pub fn baseline_rate(&self) -> f64 {
        self.baseline_counts as f64 / self.baseline_seconds
    }
}

/// Figures of the rollups.
#[derive(Debug, Clone)]
pub struct RollupFigures {
    pub rows: u64,
    pub fill_seconds: f64,
    pub answer: cctv_rollups::Answer,
    pub seconds: f64,
    pub second_run_seconds: f64,
    /// The original's 365 day events alone.
    pub baseline_day_seconds: f64,
    /// Day, week, month and year events.
    pub baseline_seconds: f64,
    pub baseline_weeks: u32,
    pub baseline_months: u32,
}

/// Figures of the run.
#[derive(Debug, Clone)]
pub struct CctvFigures {
    pub ingest: IngestFigures,
    pub rollups: RollupFigures,
}

/// Runs the benchmark on database `bench_cctv` of `server` (dropped and recreated).
///
/// # Errors
/// Any failing step, with what was being done.
pub async fn run(
    server: &DatabaseSettings,
    counts: u64,
    baseline_counts: u64,
) -> anyhow::Result<CctvFigures> {
    let pool = crate::bench_db::fresh_migrated(server, DATABASE, server.max_connections).await?;
    create_original(&pool)
        .await
        .context("creating the original tables")?;

    let ingest = ingest(&pool, counts, baseline_counts.min(counts)).await?;
    let rollups = rollups(&pool).await?;
    Ok(CctvFigures { ingest, rollups })
}

/// The original's tables as in the source (day/week/month/year stats, `test`, `backup`)
/// and its `detection` trigger. The source does not show `test` and `backup`; their
/// columns follow the trigger's `INSERT INTO backup VALUES (NEW.id, ...)` and the API.
async fn create_original(pool: &MySqlPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE test (
             id INT PRIMARY KEY AUTO_INCREMENT,
             start_date DATETIME,
             end_date DATETIME,
             people INT,
             vehicle INT
         );
         CREATE TABLE backup (
             id INT,
             start_date DATETIME,
             end_date DATETIME,
             people INT,
             vehicle INT,
             outlier VARCHAR(32)
         );
         CREATE TABLE day_stats (
             _id INT PRIMARY KEY AUTO_INCREMENT,
             _date date,
             avg_people float,
             std_people float,
             avg_vehicle float,
             std_vehicle float
         );
         CREATE TABLE week_stats (
             _id INT PRIMARY KEY AUTO_INCREMENT,
             start_date date,
             end_date date,
             avg_people float,
             std_people float,
             avg_vehicle float,
             std_vehicle float
         );
         CREATE TABLE month_stats (
             _id INT PRIMARY KEY AUTO_INCREMENT,
             start_date date,
             avg_people float,
             std_people float,
             avg_vehicle float,
             std_vehicle float
         );
         CREATE TABLE year_stats (
             _id INT PRIMARY KEY AUTO_INCREMENT,
             _year year,
             avg_people float,
             std_people float,
             avg_vehicle float,
             std_vehicle float
         );",
    )
    .execute(pool)
    .await?;
    // One statement: DELIMITER is a client-side device; the server parses BEGIN ... END.
    sqlx::raw_sql(ORIGINAL_TRIGGER).execute(pool).await?;
    Ok(())
}

/// The source's `detection` trigger, unchanged but for comments in English.
const ORIGINAL_TRIGGER: &str = "
CREATE TRIGGER detection
    AFTER INSERT
    ON test
    FOR EACH ROW
BEGIN
    # reference value
    DECLARE people_ref_val, vehicle_ref_val FLOAT DEFAULT NULL;

    IF (SELECT COUNT(_id) FROM year_stats) >=1 THEN
        SET people_ref_val = (SELECT AVG(std_people) FROM year_stats);
        SET vehicle_ref_val = (SELECT AVG(std_vehicle) FROM year_stats);

    ELSE IF (SELECT COUNT(_id) FROM month_stats) >=1 THEN
        SET people_ref_val = (SELECT AVG(std_people) FROM month_stats);
        SET vehicle_ref_val = (SELECT AVG(std_vehicle) FROM month_stats);

    ELSE IF (SELECT COUNT(_id) FROM week_stats) >=1 THEN
        SET people_ref_val = (SELECT AVG(std_people) FROM week_stats);
        SET vehicle_ref_val = (SELECT AVG(std_vehicle) FROM week_stats);

    ELSE IF (SELECT COUNT(_id) FROM day_stats) >=1 THEN
        SET people_ref_val = (SELECT AVG(std_people) FROM day_stats);
        SET vehicle_ref_val = (SELECT AVG(std_vehicle) FROM day_stats);
                END IF;
            END IF;
        END IF;
    END IF;

    # outliers against the reference
    IF  NEW.people > (SELECT @people_ref_val) THEN
        IF  NEW.vehicle > (SELECT @vehicle_ref_val) THEN
            INSERT INTO backup VALUES(NEW.id, NEW.start_date ,NEW.end_date, NEW.people, NEW.vehicle, 'Outlier People & Vehicle');
        ELSE
            INSERT INTO backup VALUES(NEW.id, NEW.start_date ,NEW.end_date, NEW.people, NEW.vehicle, 'Outlier People');
        END IF;
    ELSEIF NEW.vehicle > (SELECT @vehicle_ref_val) THEN
        INSERT INTO backup VALUES(NEW.id, NEW.start_date ,NEW.end_date, NEW.people, NEW.vehicle, 'Outlier Vehicle');
    END IF;
END";

/// One generated count.
struct Count {
    camera_id: String,
    start: DateTime<FixedOffset>,
    people: u32,
    vehicles: u32,
}

impl Count {
    fn end(&self) -> DateTime<FixedOffset> {
        self.start + Duration::minutes(INTERVAL_MINUTES)
    }
}

/// A deterministic pseudo-random level in 0..=max for count `i`.
fn level(i: u64, seed: u64, max: u64) -> u32 {
    let x = i
        .wrapping_add(seed)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    u32::try_from((x >> 33) % (max + 1)).unwrap_or(0)
}

/// `n` counts from 2024-01-01 00:00 in Seoul, interval by interval, every camera each time
/// (as the video team would post them).
fn generate(n: u64) -> anyhow::Result<Vec<Count>> {
    let seoul = FixedOffset::east_opt(9 * 3600).context("a valid offset")?;
    let first = seoul
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .context("a valid instant")?;
    (0..n)
        .map(|i| {
            let interval = i64::try_from(i / CAMERAS)?;
            Ok(Count {
                camera_id: format!("cam-{:02}", i % CAMERAS + 1),
                start: first + Duration::minutes(interval * INTERVAL_MINUTES),
                people: level(i, 1, 40),
                vehicles: level(i, 2, 15),
            })
        })
        .collect()
}

async fn ingest(
    pool: &MySqlPool,
    counts: u64,
    baseline_counts: u64,
) -> anyhow::Result<IngestFigures> {
    // A year of stats on both sides, so each count is checked against a reference (the
    // function flags some of the generated counts; the original's trigger finds its
    // reference in year_stats).
    sqlx::raw_sql(
        "INSERT INTO year_stats (_year, avg_people, std_people, avg_vehicle, std_vehicle)
           VALUES (2023, 20, 35, 7.5, 13);
         INSERT INTO cctv_stats (camera_id, period_kind, period_start, weekday, period_end, samples,
             people_avg, people_ref, vehicles_avg, vehicles_ref, computed_at)
           SELECT CONCAT('cam-', LPAD(d, 2, '0')), 'year', '2023-01-01', 0, '2023-12-31', 365,
                  20, 35, 7.5, 13, NOW(3)
           FROM (SELECT 1 AS d UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5
                 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9 UNION ALL SELECT 10) cameras",
    )
    .execute(pool)
    .await
    .context("seeding a year of stats")?;

    let generated = generate(counts)?;
    // The bodies are built before the clock starts: serializing is the client's work.
    let bodies: Vec<Bytes> = generated
        .chunks(BATCH)
        .map(|batch| {
            let counts: Vec<Value> = batch
                .iter()
                .map(|c| {
                    json!({
                        "camera_id": c.camera_id,
                        "start": c.start.to_rfc3339(),
                        "end": c.end().to_rfc3339(),
                        "people": c.people,
                        "vehicles": c.vehicles,
                    })
                })
                .collect();
            Bytes::from(json!({ "counts": counts }).to_string())
        })
        .collect();
    let token = common::http::auth::mint(pool, "bench", &["cctv:write".to_string()])
        .await
        .context("minting a token")?
        .token;
    let router = cctv_api::router(AppState {
        pool: pool.clone(),
        settings: CctvSettings::default(),
    });

    let started = Instant::now();
    let mut first = Posted::default();
    for body in &bodies {
        first.add(&post(&router, &token, body.clone()).await?)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        first.inserted == counts,
        "the first post inserted {} of {counts} counts",
        first.inserted
    );

    let started = Instant::now();
    let mut again = Posted::default();
    for body in &bodies {
        again.add(&post(&router, &token, body.clone()).await?)?;
    }
    let repost_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        again.unchanged == counts,
        "the re-post found {} of {counts} counts unchanged",
        again.unchanged
    );
    eprintln!(
        "  ingest: function {seconds:.1} s, re-post {repost_seconds:.1} s; baseline on {baseline_counts} counts..."
    );

    // The original's path: one autocommitted INSERT per count, the trigger on each.
    let mut conn = pool.acquire().await.context("a connection")?;
    let started = Instant::now();
    for c in generated.iter().take(usize::try_from(baseline_counts)?) {
        sqlx::query("INSERT INTO test (start_date, end_date, people, vehicle) VALUES (?, ?, ?, ?)")
            .bind(c.start.naive_utc())
            .bind(c.end().naive_utc())
            .bind(c.people)
            .bind(c.vehicles)
            .execute(&mut *conn)
            .await
            .context("the original's INSERT")?;
    }
    let baseline_seconds = started.elapsed().as_secs_f64();
    Ok(IngestFigures {
        counts,
        seconds,
        outliers: first.outliers,
        repost_seconds,
        baseline_counts,
        baseline_seconds,
    })
}

/// Totals of the POST answers.
#[derive(Debug, Default)]
struct Posted {
    inserted: u64,
    unchanged: u64,
    outliers: u64,
}

impl Posted {
    fn add(&mut self, envelope: &Value) -> anyhow::Result<()> {
        let data = &envelope["data"];
        let number = |field: &str| {
            data[field]
                .as_u64()
                .with_context(|| format!("no {field} in {envelope}"))
        };
        self.inserted += number("inserted")?;
        self.unchanged += number("unchanged")?;
        self.outliers += data["outliers"].as_array().map_or(0, |a| a.len() as u64);
        Ok(())
    }
}

/// One POST through the router, as Lambda would send it; the answer's envelope.
async fn post(router: &Router, token: &str, body: Bytes) -> anyhow::Result<Value> {
    let request = Request::builder()
        .method("POST")
        .uri("/cctv/counts")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .context("building the request")?;
    let response = router
        .clone()
        .oneshot(request)
        .await
        .context("the router")?;
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .context("reading the answer")?;
    let envelope: Value = serde_json::from_slice(&bytes).context("the answer's envelope")?;
    anyhow::ensure!(
        status == StatusCode::OK,
        "POST /cctv/counts answered {status}: {envelope}"
    );
    Ok(envelope)
}

async fn rollups(pool: &MySqlPool) -> anyhow::Result<RollupFigures> {
    let zone: Tz = CctvSettings::default().time_zone;
    // Start over: no trigger (the rows are loaded, not ingested), no stats, no counts.
    sqlx::raw_sql(
        "DROP TRIGGER detection;
         TRUNCATE TABLE test; TRUNCATE TABLE backup; TRUNCATE TABLE day_stats;
         TRUNCATE TABLE week_stats; TRUNCATE TABLE month_stats; TRUNCATE TABLE year_stats;
         TRUNCATE TABLE cctv_count; TRUNCATE TABLE cctv_stats; TRUNCATE TABLE cctv_outlier;
         DELETE FROM rollup_done WHERE system_name = 'cctv'",
    )
    .execute(pool)
    .await
    .context("emptying the tables after the ingest")?;

    let started = Instant::now();
    let first = NaiveDate::from_ymd_opt(YEAR, 1, 1).context("a valid date")?;
    fill_year(pool, local_day_start(first, zone))
        .await
        .context("filling a year of counts")?;
    let fill_seconds = started.elapsed().as_secs_f64();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cctv_count")
        .fetch_one(pool)
        .await
        .context("counting the rows")?;
    eprintln!("  rollups: {rows} counts filled in {fill_seconds:.0} s; the function...");

    // The day after the year, noon in Seoul: every day of the year is complete.
    let now = local_day_start(
        NaiveDate::from_ymd_opt(YEAR + 1, 1, 1).context("a valid date")?,
        zone,
    )
    .and_utc()
        + Duration::hours(12);
    let catch_up = || async move {
        let mut run = common::job::JobRun::start("bench", common::job::Deadline::none());
        cctv_rollups::run(pool, &cctv_rollups::Plan::CatchUp, now, zone, &mut run).await
    };
    let started = Instant::now();
    let answer = catch_up().await.context("the catch-up run")?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        answer.days == 365 && answer.months == 12 && answer.years == 1,
        "the catch-up computed {answer:?}"
    );
    let started = Instant::now();
    let second = catch_up().await.context("the second catch-up run")?;
    let second_run_seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        second.days + second.weeks + second.months + second.years == 0,
        "the second catch-up computed {second:?}"
    );

    eprintln!("  rollups: function {seconds:.1} s; the original's events...");
    let (baseline_day_seconds, baseline_seconds, baseline_weeks, baseline_months) =
        original_events(pool).await?;
    Ok(RollupFigures {
        rows: u64::try_from(rows).unwrap_or(0),
        fill_seconds,
        answer,
        seconds,
        second_run_seconds,
        baseline_day_seconds,
        baseline_seconds,
        baseline_weeks,
        baseline_months,
    })
}

/// Fills `cctv_count` with a year of 5-minute counts for every camera from `first_utc`
/// (local midnight of 1 January), and `test` with the same rows in arrival order.
async fn fill_year(pool: &MySqlPool, first_utc: NaiveDateTime) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE digits (d INT NOT NULL PRIMARY KEY);
         INSERT INTO digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);
         INSERT INTO cctv_camera (camera_id, registered_at)
           SELECT CONCAT('cam-', LPAD(d + 1, 2, '0')), NOW(3) FROM digits
           ON DUPLICATE KEY UPDATE registered_at = registered_at",
    )
    .execute(pool)
    .await?;
    let intervals = DAYS * INTERVALS_PER_DAY;
    let first = first_utc.format("%Y-%m-%d %H:%M:%S");
    // A camera per statement (105,120 rows): one transaction per camera. Busier between
    // 08:00 and 19:00 local (intervals 96..228 of the day), plus per-row noise.
    for camera in 1..=CAMERAS {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO cctv_count (camera_id, start_utc, end_utc, people, vehicles, received_at)
             SELECT CONCAT('cam-', LPAD({camera}, 2, '0')),
                    DATE_ADD('{first}', INTERVAL n * {INTERVAL_MINUTES} MINUTE),
                    DATE_ADD('{first}', INTERVAL (n + 1) * {INTERVAL_MINUTES} MINUTE),
                    CRC32(CONCAT('p', {camera}, ':', n)) % 30 + IF(n % {INTERVALS_PER_DAY} BETWEEN 96 AND 228, 25, 0),
                    CRC32(CONCAT('v', {camera}, ':', n)) % 12 + IF(n % {INTERVALS_PER_DAY} BETWEEN 96 AND 228, 8, 0),
                    NOW(3)
             FROM (SELECT a.d * 100000 + b.d * 10000 + c.d * 1000 + e.d * 100 + f.d * 10 + g.d AS n
                   FROM digits a, digits b, digits c, digits e, digits f, digits g) numbers
             WHERE n < {intervals}"
        )))
        .execute(pool)
        .await?;
    }
    // The original kept UTC instants and no camera; rows arrived in time order.
    sqlx::raw_sql(
        "INSERT INTO test (start_date, end_date, people, vehicle)
           SELECT start_utc, end_utc, people, vehicles FROM cctv_count ORDER BY start_utc, camera_id;
         DROP TABLE digits;
         ANALYZE TABLE cctv_count, test",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Replays the original's events for the year, in the order they fire at each UTC
/// midnight (day, then week on Mondays, month on the 1st, year on 1 January), with the
/// firing time bound where the source has `CURDATE()` / `NOW()`. Returns the seconds of
/// the day events, of all events, and the week and month events run.
async fn original_events(pool: &MySqlPool) -> anyhow::Result<(f64, f64, u32, u32)> {
    let mut conn = pool.acquire().await.context("a connection")?;
    let mut day_seconds = 0.0;
    let (mut weeks, mut months) = (0, 0);
    let started = Instant::now();
    let first = NaiveDate::from_ymd_opt(YEAR, 1, 1).context("a valid date")?;
    for yesterday in first.iter_days().take(usize::try_from(DAYS)?) {
        let today = yesterday.succ_opt().context("a next day")?;
        let midnight = today.and_hms_opt(0, 0, 0).context("a valid time")?;
        let t = Instant::now();
        sqlx::query(ORIGINAL_DAY_EVENT)
            .bind(yesterday)
            .bind(yesterday)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("the original's day event for {yesterday}"))?;
        day_seconds += t.elapsed().as_secs_f64();
        if today.weekday() == chrono::Weekday::Mon {
            sqlx::query(ORIGINAL_WEEK_EVENT)
                .bind(today)
                .bind(today)
                .bind(today)
                .bind(today)
                .bind(midnight)
                .bind(midnight)
                .execute(&mut *conn)
                .await
                .with_context(|| format!("the original's week event of {today}"))?;
            weeks += 1;
        }
        if today.day() == 1 {
            sqlx::query(ORIGINAL_MONTH_EVENT)
                .bind(midnight)
                .bind(midnight)
                .bind(midnight)
                .execute(&mut *conn)
                .await
                .with_context(|| format!("the original's month event of {today}"))?;
            months += 1;
        }
        if today.ordinal() == 1 {
            sqlx::query(ORIGINAL_YEAR_EVENT)
                .bind(today)
                .bind(midnight)
                .bind(midnight)
                .execute(&mut *conn)
                .await
                .with_context(|| format!("the original's year event of {today}"))?;
        }
    }
    Ok((day_seconds, started.elapsed().as_secs_f64(), weeks, months))
}

/// The source's `day_stats` event body; binds: yesterday, yesterday.
const ORIGINAL_DAY_EVENT: &str = "
INSERT INTO day_stats(_date, avg_people, std_people, avg_vehicle, std_vehicle)
    SELECT ?, CONVERT(AVG(people), float), CONVERT(AVG(people)+1.5*STDDEV(people), float),
           CONVERT(AVG(vehicle), float), CONVERT(AVG(vehicle)+1.5*STDDEV(vehicle), float)
    FROM test WHERE DATE(start_date) = ?";

/// The source's `week_stats` event body; binds: today x 4, now x 2.
const ORIGINAL_WEEK_EVENT: &str = "
INSERT INTO week_stats(start_date, end_date, avg_people, std_people, avg_vehicle, std_vehicle)
    SELECT ? + INTERVAL -7- WEEKDAY(?) DAY,
           ? + INTERVAL -1 - WEEKDAY(?) DAY,
           CONVERT(AVG(avg_people), float), CONVERT(AVG(std_people), float),
           CONVERT(AVG(avg_vehicle), float), CONVERT(AVG(std_vehicle), float)
    FROM day_stats WHERE _date BETWEEN DATE_ADD(?, INTERVAL -1 WEEK) AND ?";

/// The source's `month_stats` event body (it averages the last week only); binds: now x 3.
const ORIGINAL_MONTH_EVENT: &str = "
INSERT INTO month_stats(start_date, avg_people, std_people, avg_vehicle, std_vehicle)
    SELECT LAST_DAY(? - interval 2 month) + interval 1 DAY,
           CONVERT(AVG(avg_people), float), CONVERT(AVG(std_people), float),
           CONVERT(AVG(avg_vehicle), float), CONVERT(AVG(std_vehicle), float)
    FROM day_stats WHERE _date BETWEEN DATE_ADD(?, INTERVAL -1 WEEK) AND ?";

/// The source's `year_stats` event body; binds: today, now x 2.
const ORIGINAL_YEAR_EVENT: &str = "
INSERT INTO year_stats(_year, avg_people, std_people, avg_vehicle, std_vehicle)
    SELECT YEAR(? - interval 1 DAY),
           CONVERT(AVG(avg_people), float), CONVERT(AVG(std_people), float),
           CONVERT(AVG(avg_vehicle), float), CONVERT(AVG(std_vehicle), float)
    FROM month_stats where start_date BETWEEN DATE_ADD(?, INTERVAL -1 YEAR) AND ?";
