//! cctv-rollups against the real database: the day figures against the original SQL,
//! catch-up after an outage, idempotency, whole-month and per-weekday stats, late data.

use cctv_rollups::{Answer, Plan, run};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use common::job::{Deadline, JobRun};
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

/// A run without a deadline.
fn unlimited() -> JobRun {
    JobRun::start("test", Deadline::none())
}

async fn catch_up(pool: &MySqlPool, now: DateTime<Utc>) -> Answer {
    run(pool, &Plan::CatchUp, now, SEOUL, &mut unlimited())
        .await
        .expect("rollup")
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
        &mut unlimited(),
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
        &mut unlimited(),
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
        &mut unlimited(),
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
        "SELECT COUNT(*) FROM rollup_done WHERE system_name = 'cctv' AND period_kind = 'day' AND period_start = '2024-05-01'",
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
    let empty = cctv_rollups::handle(&db.pool, json!({}), now, SEOUL, Deadline::none())
        .await
        .expect("nothing to do");
    assert_eq!(empty["days"], 0);
    let refused = cctv_rollups::handle(
        &db.pool,
        json!({"from": "2024-05-01"}),
        now,
        SEOUL,
        Deadline::none(),
    )
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
    let ranged = cctv_rollups::handle(&db.pool, backfill.clone(), now, SEOUL, Deadline::none())
        .await
        .expect("backfill");
    assert_eq!(ranged["days"], 31);
}

#[tokio::test]
async fn a_run_stopped_by_its_deadline_says_how_to_resume_and_the_rerun_finishes() {
    let api = Api::new().await;
    let now = at("2024-05-10T03:00:00Z");
    insert_counts(
        api.pool(),
        "cam-1",
        at("2024-05-01T00:00:00+09:00"),
        5,
        &levels(5, 3),
    )
    .await;
    // A deadline already passed: one day is computed, then the run stops.
    let payload = json!({"from": "2024-05-01", "to": "2024-05-05"});
    let first = cctv_rollups::handle(
        api.pool(),
        payload,
        now,
        SEOUL,
        Deadline::after(std::time::Duration::ZERO),
    )
    .await
    .expect("partial run");
    assert_eq!(first["days"], 1, "{first}");
    assert_eq!(first["complete"], false);
    assert_eq!(first["stopped_by_deadline"], true);
    assert_eq!(first["remaining"]["days"], 4);
    let resume = first["remaining"]["next_payload"].clone();
    assert_eq!(resume, json!({"from": "2024-05-02", "to": "2024-05-05"}));
    let second = cctv_rollups::handle(api.pool(), resume, now, SEOUL, Deadline::none())
        .await
        .expect("the rest");
    assert_eq!(second["days"], 4);
    assert_eq!(second["complete"], true);
    for day in ["2024-05-01", "2024-05-05"] {
        assert!(stat(api.pool(), "cam-1", "day", day, 0).await.5 > 0);
    }
}

// --- Issue 9: a bad payload is permanent, a bad stored row stalls nothing, one ledger.

#[tokio::test]
async fn a_payload_outside_the_date_window_is_a_permanent_error() {
    let db = TestDb::new().await;
    let now = at("2024-06-01T00:00:00Z");
    for payload in [
        json!({"from": "0000-01-01", "to": "0000-01-02"}),
        json!({"from": "1999-12-31", "to": "2000-01-02"}),
        json!({"from": "2099-12-31", "to": "2100-01-01"}),
    ] {
        let refused = cctv_rollups::handle(&db.pool, payload.clone(), now, SEOUL, Deadline::none())
            .await
            .expect_err("refused");
        assert!(
            matches!(&refused, common::error::FunctionError::InvalidEvent(m) if m.contains("window")),
            "{payload}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn a_stored_row_with_an_impossible_instant_does_not_stall_the_catch_up() {
    let db = TestDb::new().await;
    insert_counts(
        &db.pool,
        "cam-1",
        at("2024-05-01T00:00:00+09:00"),
        5,
        &levels(3, 9),
    )
    .await;
    // Rows written before the API checked instants: a year-1001 typo (storable, implausible)
    // and, where the server allows it, the zero date MariaDB stored for a leap second.
    sqlx::query(
        "INSERT INTO cctv_count (camera_id, start_utc, end_utc, people, vehicles, received_at)
         VALUES ('cam-1', '1001-01-01 00:00:00', '1001-01-01 00:05:00', 1, 1, NOW())",
    )
    .execute(&db.pool)
    .await
    .expect("an implausible row");
    let zero = sqlx::query(
        "INSERT INTO cctv_count (camera_id, start_utc, end_utc, people, vehicles, received_at)
         VALUES ('cam-1', '0000-00-00 00:00:00', '0000-00-00 00:00:00', 1, 1, NOW())",
    )
    .execute(&db.pool)
    .await;
    eprintln!("zero date stored: {}", zero.is_ok());
    // Before the fix the run started at the first row's day: it failed to decode the zero
    // date, or walked from 1001 until this deadline.
    let mut job = JobRun::start("test", Deadline::after(std::time::Duration::from_secs(20)));
    let answer = run(
        &db.pool,
        &Plan::CatchUp,
        at("2024-05-04T01:00:00+09:00"),
        SEOUL,
        &mut job,
    )
    .await
    .expect("the catch-up runs");
    assert_eq!(answer.days, 3, "05-01..05-03 only");
    assert!(answer.left.is_none(), "complete");
    assert_eq!(stat(&db.pool, "cam-1", "day", "2024-05-01", 0).await.5, 288);
    let again = catch_up(&db.pool, at("2024-05-04T01:00:00+09:00")).await;
    assert_eq!(again.days, 0, "and the next run finds nothing to do");
}

#[tokio::test]
async fn the_ledger_is_one_table_kept_apart_per_system() {
    use common::period::{Ledger, PeriodKind};
    let db = TestDb::new().await;
    let other = Ledger::new("test-system");
    let mut tx = db.pool.begin().await.expect("tx");
    Ledger::CCTV
        .mark_done(&mut tx, PeriodKind::Day, d("2024-05-01"))
        .await
        .expect("mark");
    other
        .mark_done(&mut tx, PeriodKind::Month, d("2024-05-01"))
        .await
        .expect("mark");
    tx.commit().await.expect("commit");
    // Marking inside a transaction that rolls back leaves nothing.
    let mut tx = db.pool.begin().await.expect("tx");
    Ledger::CCTV
        .mark_done(&mut tx, PeriodKind::Week, d("2024-04-29"))
        .await
        .expect("mark");
    tx.rollback().await.expect("rollback");
    let mut conn = db.pool.acquire().await.expect("connection");
    let cctv = Ledger::CCTV.done(&mut conn).await.expect("done");
    assert_eq!(
        cctv.into_iter().collect::<Vec<_>>(),
        [(PeriodKind::Day, d("2024-05-01"))]
    );
    assert_eq!(other.done(&mut conn).await.expect("done").len(), 1);
    // Clearing the periods around a day touches only that system's rows.
    let cleared = other
        .clear_around(
            &mut conn,
            d("2024-05-17"),
            &[PeriodKind::Week, PeriodKind::Month],
        )
        .await
        .expect("clear");
    assert_eq!(cleared, 1);
    assert!(other.done(&mut conn).await.expect("done").is_empty());
    assert_eq!(Ledger::CCTV.done(&mut conn).await.expect("done").len(), 1);
}

#[tokio::test]
async fn the_migration_keeps_cctv_data_and_carries_the_old_ledger_over() {
    use common::{
        config::DatabaseSettings,
        db,
        period::{Ledger, PeriodKind},
    };
    // A database at the schema before issue 9, with data in it.
    let server = DatabaseSettings::from_url(
        &secrecy::SecretString::from(crate::support::database_url()),
        2,
    )
    .expect("DATABASE_URL parses");
    let name = format!("it_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let settings = server.with_database(&name);
    db::create_database_if_missing(&settings)
        .await
        .expect("database");
    let pool = db::connect(&settings).await.expect("connect");
    let old = TestDb {
        pool: pool.clone(),
        settings,
        name,
    };
    db::MIGRATOR
        .run_to(20_261_123_000_005, &pool)
        .await
        .expect("the schema before issue 9");
    sqlx::raw_sql(
        "INSERT INTO cctv_camera (camera_id, registered_at) VALUES ('cam-1', NOW());
         INSERT INTO cctv_count (camera_id, start_utc, end_utc, people, vehicles, received_at)
             VALUES ('cam-1', '2024-05-01 00:00:00', '2024-05-01 00:05:00', 7, 1, NOW());
         INSERT INTO cctv_rollup_done (period_kind, period_start, computed_at)
             VALUES ('day', '2024-05-01', NOW()), ('week', '2024-04-29', NOW());",
    )
    .execute(&pool)
    .await
    .expect("old data");
    db::MIGRATOR.run(&pool).await.expect("the rest applies");
    let mut conn = pool.acquire().await.expect("connection");
    let done = Ledger::CCTV.done(&mut conn).await.expect("ledger");
    assert!(done.contains(&(PeriodKind::Day, d("2024-05-01"))));
    assert!(done.contains(&(PeriodKind::Week, d("2024-04-29"))));
    assert_eq!(old.count("cctv_count").await, 1);
    // A Korean camera id fits every table now.
    sqlx::query("INSERT INTO cctv_camera (camera_id, registered_at) VALUES ('정문', NOW())")
        .execute(&pool)
        .await
        .expect("a Korean camera id");
    let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cctv_count WHERE camera_id = ?")
        .bind("카")
        .fetch_one(&pool)
        .await
        .expect("comparing with a Korean id is no collation error");
    assert_eq!(found, 0);
}
