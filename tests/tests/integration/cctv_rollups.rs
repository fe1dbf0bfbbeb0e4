//! cctv-rollups against the real database: the day figures against the original SQL,
//! catch-up after an outage, idempotency, whole-month and per-weekday stats, late data.

use cctv_rollups::{Answer, Plan, run};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sqlx::MySqlPool;

use crate::{
    cctv_support::{Api, at, count, insert_counts, wiggle},
    support::TestDb,
};

const SEOUL: Tz = chrono_tz::Asia::Seoul;

fn d(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

/// Five-minute levels for `days` days: busy by day, quiet by night, with noise.
fn levels(days: u64, seed: u64) -> Vec<(u32, u32)> {
    (0..days * 288)
        .map(|i| {
            let hour = (i % 288) / 12;
            let base = if (8..20).contains(&hour) { 40 } else { 5 };
            (
                base + wiggle(i, seed, 30),
                base / 2 + wiggle(i, seed + 7, 12),
            )
        })
        .collect()
}

type StatsRow = (
    String,
    String,
    NaiveDate,
    u8,
    NaiveDate,
    u32,
    f64,
    f64,
    f64,
    f64,
);

async fn stats(pool: &MySqlPool) -> Vec<StatsRow> {
    sqlx::query_as(
        "SELECT camera_id, CAST(period_kind AS CHAR), period_start, weekday, period_end, samples,
                people_avg, people_ref, vehicles_avg, vehicles_ref
         FROM cctv_stats ORDER BY camera_id, period_kind, period_start, weekday",
    )
    .fetch_all(pool)
    .await
    .expect("stats")
}

async fn computed_at(pool: &MySqlPool) -> Vec<chrono::NaiveDateTime> {
    sqlx::query_scalar(
        "SELECT computed_at FROM cctv_stats ORDER BY camera_id, period_kind, period_start, weekday",
    )
    .fetch_all(pool)
    .await
    .expect("computed_at")
}

async fn stat(pool: &MySqlPool, camera: &str, kind: &str, start: &str, weekday: u8) -> StatsRow {
    stats(pool)
        .await
        .into_iter()
        .find(|r| r.0 == camera && r.1 == kind && r.2 == d(start) && r.3 == weekday)
        .unwrap_or_else(|| panic!("no {kind} row for {camera} at {start}"))
}

async fn catch_up(pool: &MySqlPool, now: DateTime<Utc>) -> Answer {
    run(pool, &Plan::CatchUp, now, SEOUL).await.expect("rollup")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-3 * b.abs().max(1.0)
}

#[tokio::test]
async fn day_figures_match_the_original_sql_formula() {
    let db = TestDb::new().await;
    let data = levels(3, 11);
    let first = at("2024-05-01T00:00:00Z");
    insert_counts(&db.pool, "cam-1", first, 5, &data).await;
    // The original's table, with the same rows.
    sqlx::query(
        "CREATE TABLE test (id INT PRIMARY KEY AUTO_INCREMENT, start_date DATETIME, end_date DATETIME,
             people INT, vehicle INT)",
    )
    .execute(&db.pool)
    .await
    .expect("original table");
    sqlx::query(
        "INSERT INTO test (start_date, end_date, people, vehicle)
         SELECT start_utc, end_utc, people, vehicles FROM cctv_count ORDER BY start_utc",
    )
    .execute(&db.pool)
    .await
    .expect("copy");

    // The original's day event, verbatim but for the date: UTC days.
    let original =
        "SELECT CONVERT(AVG(people), float), CONVERT(AVG(people)+1.5*STDDEV(people), float),
                CONVERT(AVG(vehicle), float), CONVERT(AVG(vehicle)+1.5*STDDEV(vehicle), float)
         FROM test WHERE DATE(start_date) = ?";
    run(
        &db.pool,
        &Plan::Range {
            from: d("2024-05-01"),
            to: d("2024-05-03"),
        },
        at("2024-06-01T00:00:00Z"),
        chrono_tz::UTC,
    )
    .await
    .expect("rollup in UTC");
    for day in ["2024-05-01", "2024-05-02", "2024-05-03"] {
        let (pa, pr, va, vr): (f32, f32, f32, f32) = sqlx::query_as(original)
            .bind(d(day))
            .fetch_one(&db.pool)
            .await
            .expect("original formula");
        let ours = stat(&db.pool, "cam-1", "day", day, 0).await;
        assert_eq!(ours.5, 288, "{day}: every five-minute count of the day");
        for (mine, theirs) in [(ours.6, pa), (ours.7, pr), (ours.8, va), (ours.9, vr)] {
            assert!(
                close(mine, f64::from(theirs)),
                "{day}: {mine} vs original {theirs}"
            );
        }
        assert!(ours.7 > ours.6, "the reference is above the mean");
    }

    // In Seoul the day starts at 15:00 UTC the day before: the original's formula on local
    // dates (what it should have done) gives our figures.
    run(
        &db.pool,
        &Plan::Range {
            from: d("2024-05-02"),
            to: d("2024-05-03"),
        },
        at("2024-06-01T00:00:00Z"),
        SEOUL,
    )
    .await
    .expect("rollup in Seoul");
    let local =
        "SELECT CONVERT(AVG(people), float), CONVERT(AVG(people)+1.5*STDDEV(people), float),
                CONVERT(AVG(vehicle), float), CONVERT(AVG(vehicle)+1.5*STDDEV(vehicle), float)
         FROM test WHERE DATE(start_date + INTERVAL 9 HOUR) = ?";
    for day in ["2024-05-02", "2024-05-03"] {
        let (pa, pr, va, vr): (f32, f32, f32, f32) = sqlx::query_as(local)
            .bind(d(day))
            .fetch_one(&db.pool)
            .await
            .expect("original formula, local days");
        let ours = stat(&db.pool, "cam-1", "day", day, 0).await;
        for (mine, theirs) in [(ours.6, pa), (ours.7, pr), (ours.8, va), (ours.9, vr)] {
            assert!(
                close(mine, f64::from(theirs)),
                "{day} (Seoul): {mine} vs {theirs}"
            );
        }
    }
}

#[tokio::test]
async fn catch_up_fills_missed_periods_and_a_rerun_changes_nothing() {
    let db = TestDb::new().await;
    // Monday 2024-04-29 00:00 in Seoul, ten days of counts for two cameras.
    let monday = at("2024-04-29T00:00:00+09:00");
    insert_counts(&db.pool, "cam-a", monday, 5, &levels(10, 1)).await;
    insert_counts(&db.pool, "cam-b", monday, 5, &levels(10, 2)).await;

    let now = at("2024-05-09T01:00:00+09:00");
    let first = catch_up(&db.pool, now).await;
    assert_eq!(first.through, "2024-05-08");
    // Days 04-29..05-08; the week 04-29..05-05; April (its last two days have data).
    assert_eq!(
        (first.days, first.weeks, first.months, first.years),
        (10, 1, 1, 0)
    );
    let before = stats(&db.pool).await;
    let stamps = computed_at(&db.pool).await;
    let second = catch_up(&db.pool, now).await;
    assert_eq!(
        (
            second.days,
            second.weeks,
            second.months,
            second.years,
            second.rows
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(stats(&db.pool).await, before, "a re-run changes nothing");
    assert_eq!(computed_at(&db.pool).await, stamps, "not even computed_at");

    // An outage: four more days of counts arrive, the next run is a week later.
    insert_counts(
        &db.pool,
        "cam-a",
        at("2024-05-09T00:00:00+09:00"),
        5,
        &levels(4, 3),
    )
    .await;
    let later = at("2024-05-16T01:00:00+09:00");
    let third = catch_up(&db.pool, later).await;
    assert_eq!(third.days, 7, "05-09..05-15, with or without counts");
    assert_eq!(third.weeks, 1, "the week of 05-06");
    let day_rows = stats(&db.pool)
        .await
        .into_iter()
        .filter(|r| r.1 == "day")
        .count();
    assert_eq!(day_rows, 10 * 2 + 4);
    let week = stat(&db.pool, "cam-a", "week", "2024-05-06", 0).await;
    assert_eq!(week.4, d("2024-05-12"));
    assert_eq!(week.5, 7, "seven day rows");

    // A range recomputes the same figures.
    let all = stats(&db.pool).await;
    let range = run(
        &db.pool,
        &Plan::Range {
            from: d("2024-04-29"),
            to: d("2024-05-20"),
        },
        later,
        SEOUL,
    )
    .await
    .expect("range");
    assert_eq!(range.days, 17, "clamped to yesterday, 05-15");
    assert_eq!((range.weeks, range.months), (2, 1));
    assert_eq!(stats(&db.pool).await, all, "recomputing is idempotent");
}

#[tokio::test]
async fn a_month_averages_all_its_days_and_weekdays_are_split() {
    let db = TestDb::new().await;
    // May 2024 in Seoul, one count an hour; every count of day n is (n, 2n).
    let may = at("2024-05-01T00:00:00+09:00");
    let data: Vec<(u32, u32)> = (0..31 * 24)
        .map(|h| (h / 24 + 1, 2 * (h / 24 + 1)))
        .collect();
    insert_counts(&db.pool, "cam-1", may, 60, &data).await;
    let answer = catch_up(&db.pool, at("2024-06-02T00:00:00+09:00")).await;
    assert_eq!((answer.days, answer.months), (32, 1));

    let month = stat(&db.pool, "cam-1", "month", "2024-05-01", 0).await;
    assert_eq!(month.4, d("2024-05-31"));
    assert_eq!(month.5, 31, "every day of the month, not the last week");
    assert!(close(month.6, 16.0), "mean of 1..=31, got {}", month.6);
    assert!(close(month.8, 32.0));
    assert!(
        close(month.7, 16.0),
        "constant days: the reference is the mean"
    );

    // Mondays of May 2024: 6, 13, 20, 27.
    let mondays = stat(&db.pool, "cam-1", "weekday-of-month", "2024-05-01", 1).await;
    assert_eq!(mondays.5, 4);
    assert!(close(mondays.6, 16.5));
    let per_weekday = stats(&db.pool)
        .await
        .into_iter()
        .filter(|r| r.1 == "weekday-of-month")
        .count();
    assert_eq!(per_weekday, 7);
    let week = stat(&db.pool, "cam-1", "week", "2024-05-06", 0).await;
    assert!(close(week.6, 9.0), "6..=12 averaged");
    assert!(
        stats(&db.pool).await.iter().all(|r| r.1 != "year"),
        "2024 is not complete"
    );
}

#[tokio::test]
async fn a_year_and_its_weekdays_come_from_the_day_rows() {
    let db = TestDb::new().await;
    // 2023 in Seoul, one count a day (noon) of 10, and 40 on Sundays.
    let jan1 = at("2023-01-01T12:00:00+09:00");
    let data: Vec<(u32, u32)> = (0..365)
        .map(|i| {
            let sunday = (i % 7) == 0; // 2023-01-01 was a Sunday
            if sunday { (40, 4) } else { (10, 1) }
        })
        .collect();
    insert_counts(&db.pool, "cam-1", jan1, 24 * 60, &data).await;
    let answer = catch_up(&db.pool, at("2024-01-01T09:00:00+09:00")).await;
    assert_eq!((answer.days, answer.months, answer.years), (365, 12, 1));
    let year = stat(&db.pool, "cam-1", "year", "2023-01-01", 0).await;
    assert_eq!((year.4, year.5), (d("2023-12-31"), 365));
    assert!(close(year.6, (53.0 * 40.0 + 312.0 * 10.0) / 365.0));
    let sundays = stat(&db.pool, "cam-1", "weekday-of-year", "2023-01-01", 7).await;
    assert_eq!(sundays.5, 53);
    assert!(close(sundays.6, 40.0));
    let mondays = stat(&db.pool, "cam-1", "weekday-of-year", "2023-01-01", 1).await;
    assert!(close(mondays.6, 10.0));
}

#[tokio::test]
async fn a_late_count_for_a_computed_day_is_rolled_up_at_the_next_run() {
    let api = Api::new().await;
    let monday = at("2024-04-29T00:00:00+09:00");
    insert_counts(api.pool(), "cam-1", monday, 5, &levels(7, 5)).await;
    let now = at("2024-05-07T01:00:00+09:00");
    let first = catch_up(api.pool(), now).await;
    assert_eq!((first.days, first.weeks), (8, 1));
    let before = stat(api.pool(), "cam-1", "day", "2024-05-01", 0).await;

    // The video team re-sends 1 May noon with a corrected count.
    let late = api
        .post_counts(&[count("cam-1", at("2024-05-01T12:00:00+09:00"), 5, 5000, 0)])
        .await;
    assert_eq!(late.body["data"]["updated"], 1, "{}", late.body);
    let cleared: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM cctv_rollup_done WHERE period_kind = 'day' AND period_start = '2024-05-01'",
    )
    .fetch_one(api.pool())
    .await
    .expect("ledger");
    assert_eq!(cleared, 0);

    let second = catch_up(api.pool(), now).await;
    assert_eq!((second.days, second.weeks), (1, 1));
    let after = stat(api.pool(), "cam-1", "day", "2024-05-01", 0).await;
    assert_eq!(after.5, before.5, "same number of counts");
    assert!(after.6 > before.6, "the corrected count is in the day");
    let week = stat(api.pool(), "cam-1", "week", "2024-04-29", 0).await;
    assert!(week.7 > 0.0);
}

#[tokio::test]
async fn payloads_and_sample_events() {
    let db = TestDb::new().await;
    let now = at("2024-06-01T00:00:00Z");
    let empty = cctv_rollups::handle(&db.pool, json!({}), now, SEOUL)
        .await
        .expect("nothing to do");
    assert_eq!(empty["days"], 0);
    let refused = cctv_rollups::handle(&db.pool, json!({"from": "2024-05-01"}), now, SEOUL)
        .await
        .expect_err("half a range");
    assert!(matches!(
        refused,
        common::error::FunctionError::InvalidEvent(_)
    ));
    let scheduled: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/cctv-rollups/scheduled.json"))
            .expect("json");
    assert_eq!(cctv_rollups::plan(&scheduled).expect("plan"), Plan::CatchUp);
    let backfill: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/cctv-rollups/backfill.json"))
            .expect("json");
    assert!(matches!(
        cctv_rollups::plan(&backfill).expect("plan"),
        Plan::Range { .. }
    ));
    let ranged = cctv_rollups::handle(&db.pool, backfill, now, SEOUL)
        .await
        .expect("backfill");
    assert_eq!(ranged["days"], 31);
}
