//! The retention cleanup on imported data spread over six months.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use cleanup::{CleanupSettings, Outcome, Request};
use common::{db, job::Deadline};
use sqlx::MySqlPool;

use crate::support::{TestDb, import_generated_day};

const ZONE: chrono_tz::Tz = chrono_tz::Asia::Taipei;

/// Days of logs, two before the cut-off month range and four after it.
const DAYS: [(i32, u32, u32); 6] = [
    (2024, 1, 15),
    (2024, 2, 10),
    (2024, 3, 5),
    (2024, 4, 20),
    (2024, 5, 2),
    (2024, 6, 11),
];

/// 2024-06-20 in Taipei: with three months kept the cut-off is 2024-03-01.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 20, 2, 0, 0)
        .single()
        .expect("valid instant")
}

fn cutoff() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 1).expect("date")
}

async fn seeded() -> TestDb {
    let db = TestDb::new().await;
    for (n, (y, m, d)) in DAYS.iter().enumerate() {
        let date = NaiveDate::from_ymd_opt(*y, *m, *d).expect("date");
        // A shared pool of users and the generator's course list: actions repeat across
        // months, so some dimension rows are shared by old and recent events.
        let report = import_generated_day(&db.pool, date, 400, 40, 7 + n as u64).await;
        assert_eq!(report.status, import::report::ImportStatus::Completed);
    }
    db
}

async fn run(pool: &MySqlPool, request: Request, settings: &CleanupSettings) -> Outcome {
    cleanup::run(pool, request, now(), ZONE, settings, Deadline::none())
        .await
        .expect("cleanup runs")
}

/// Every table's keys, sorted: two databases in the same state give equal snapshots.
async fn snapshot(pool: &MySqlPool) -> BTreeMap<&'static str, Vec<String>> {
    let mut tables = BTreeMap::new();
    for (table, key) in [
        ("client_event", "statement_id"),
        ("event_info", "statement_id"),
        ("result", "statement_id"),
        ("video_info", "statement_id"),
        ("sentences", "CONCAT(statement_id, '#', seq)"),
        ("actor", "CAST(id AS CHAR)"),
        ("action", "CAST(id AS CHAR)"),
        ("cookie", "CAST(id AS CHAR)"),
        ("tanet_info", "CAST(id AS CHAR)"),
        ("cleanup_candidate", "CONCAT(dimension, '#', id)"),
        (
            "import_file",
            "CONCAT(object_key, '#', IF(purged_at IS NULL, 'kept', 'purged'))",
        ),
    ] {
        let mut keys: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {key} FROM {table}")))
                .fetch_all(pool)
                .await
                .expect("snapshot");
        keys.sort();
        tables.insert(table, keys);
    }
    tables
}

type Snapshot = BTreeMap<&'static str, Vec<String>>;

/// Table by table, so a failure names the table and a few differing keys.
fn assert_same_state(left: &Snapshot, right: &Snapshot) {
    for (table, keys) in left {
        let other = &right[table];
        let only_left: Vec<&String> = keys.iter().filter(|k| !other.contains(k)).take(5).collect();
        let only_right: Vec<&String> = other.iter().filter(|k| !keys.contains(k)).take(5).collect();
        assert!(
            keys == other,
            "{table}: {} rows vs {}; only left {only_left:?}; only right {only_right:?}",
            keys.len(),
            other.len()
        );
    }
}

/// What must be left: recent events, their details and the dimension rows they use.
async fn expected_after_cleanup(pool: &MySqlPool) -> BTreeMap<&'static str, Vec<String>> {
    let mut expected = BTreeMap::new();
    for (table, sql) in [
        (
            "client_event",
            "SELECT statement_id FROM client_event WHERE log_date >= ?",
        ),
        (
            "event_info",
            "SELECT d.statement_id FROM event_info d JOIN client_event e USING (statement_id) WHERE e.log_date >= ?",
        ),
        (
            "actor",
            "SELECT DISTINCT CAST(actor_id AS CHAR) FROM client_event WHERE log_date >= ?",
        ),
        (
            "action",
            "SELECT DISTINCT CAST(action_id AS CHAR) FROM client_event WHERE log_date >= ?",
        ),
        (
            "sentences",
            "SELECT CONCAT(d.statement_id, '#', d.seq) FROM sentences d JOIN client_event e USING (statement_id) WHERE e.log_date >= ?",
        ),
    ] {
        let mut keys: Vec<String> = sqlx::query_scalar(sql)
            .bind(cutoff())
            .fetch_all(pool)
            .await
            .expect("expected rows");
        keys.sort();
        expected.insert(table, keys);
    }
    expected
}

/// Events whose dimension rows are gone, and dimension rows no event uses.
async fn dangling_and_orphans(pool: &MySqlPool) -> (i64, i64) {
    let mut dangling = 0;
    let mut orphans = 0;
    for (table, column) in [
        ("actor", "actor_id"),
        ("action", "action_id"),
        ("cookie", "cookie_id"),
        ("tanet_info", "tanet_info_id"),
    ] {
        dangling += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM client_event e LEFT JOIN {table} t ON t.id = e.{column}
             WHERE e.{column} IS NOT NULL AND t.id IS NULL"
        )))
        .fetch_one(pool)
        .await
        .expect("dangling");
        orphans += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} t
             WHERE NOT EXISTS (SELECT 1 FROM client_event e WHERE e.{column} = t.id)"
        )))
        .fetch_one(pool)
        .await
        .expect("orphans");
    }
    for table in ["event_info", "result", "video_info", "sentences"] {
        orphans += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} d
             WHERE NOT EXISTS (SELECT 1 FROM client_event e WHERE e.statement_id = d.statement_id)"
        )))
        .fetch_one(pool)
        .await
        .expect("detail orphans");
    }
    (dangling, orphans)
}

#[tokio::test]
async fn old_events_and_unused_rows_go_recent_data_and_stats_stay() {
    let db = seeded().await;
    sqlx::query(
        "INSERT INTO ai_course_monthly_users (ai_course_name, student_level, month, user_count, computed_at)
         VALUES ('Linggle Write', '國中', '2024-01', 12, NOW())",
    )
    .execute(&db.pool)
    .await
    .expect("a stats row");
    let before = snapshot(&db.pool).await;
    let expected = expected_after_cleanup(&db.pool).await;
    let (_, orphans_before) = dangling_and_orphans(&db.pool).await;
    assert_eq!(orphans_before, 0, "the import leaves no orphans");
    let old_events = before["client_event"].len() - expected["client_event"].len();
    assert!(old_events > 500, "two days of old events: {old_events}");

    let settings = CleanupSettings {
        chunk_rows: 150,
        ..CleanupSettings::defaults()
    };
    let outcome = run(&db.pool, Request::default(), &settings).await;

    assert_eq!(outcome.cutoff, cutoff());
    assert!(outcome.complete && !outcome.stopped_by_time_budget);
    assert!(outcome.chunks > 5, "small chunks: {}", outcome.chunks);
    let after = snapshot(&db.pool).await;
    for (table, keys) in &expected {
        assert_eq!(&after[table], keys, "{table} keeps exactly the recent rows");
    }
    for (table, rows) in &outcome.deleted {
        let gone = before[table].len() - after[table].len();
        assert_eq!(*rows as usize, gone, "{table}: reported = deleted");
    }
    assert!(outcome.deleted["actor"] > 0 && outcome.deleted["sentences"] > 0);
    assert!(after["cleanup_candidate"].is_empty());
    assert_eq!(dangling_and_orphans(&db.pool).await, (0, 0));
    assert_eq!(outcome.import_files_purged, 2);
    let purged: Vec<&String> = after["import_file"]
        .iter()
        .filter(|k| k.ends_with("#purged"))
        .collect();
    assert_eq!(
        purged,
        [
            "uploads/2024-01-15.zip#purged",
            "uploads/2024-02-10.zip#purged"
        ]
    );
    assert_eq!(
        db.count("ai_course_monthly_users").await,
        1,
        "stats untouched"
    );

    // Delivered twice: the second run finds nothing to do.
    let again = run(&db.pool, Request::default(), &settings).await;
    assert!(again.complete);
    assert!(
        again.deleted.values().all(|n| *n == 0),
        "{:?}",
        again.deleted
    );
    assert_eq!(again.import_files_purged, 0);
    assert_eq!(snapshot(&db.pool).await, after);
}

#[tokio::test]
async fn a_dry_run_deletes_nothing_and_counts_what_a_run_deletes() {
    let db = seeded().await;
    let before = snapshot(&db.pool).await;
    let settings = CleanupSettings::defaults();

    let dry = run(
        &db.pool,
        Request {
            dry_run: true,
            retention_months: None,
        },
        &settings,
    )
    .await;
    assert!(dry.dry_run);
    assert_eq!(
        snapshot(&db.pool).await,
        before,
        "a dry run changes nothing"
    );
    assert!(!dry.complete, "the dry run reports the work left");
    assert!(dry.remaining.client_event > 0);

    let real = run(&db.pool, Request::default(), &settings).await;
    assert_eq!(dry.deleted, real.deleted);
    assert_eq!(dry.import_files_purged, real.import_files_purged);
    assert_eq!(dry.remaining.client_event, real.deleted["client_event"]);
}

#[tokio::test]
async fn a_payload_can_keep_more_months() {
    let db = seeded().await;
    let before = db.count("client_event").await;
    let outcome = cleanup::handle(
        &db.pool,
        serde_json::json!({"retention_months": 6}),
        now(),
        ZONE,
        &CleanupSettings::defaults(),
        Deadline::none(),
    )
    .await
    .expect("cleanup runs");
    assert_eq!(outcome["cutoff"], "2023-12-01");
    assert_eq!(outcome["deleted"]["client_event"], 0);
    assert_eq!(db.count("client_event").await, before);
}

#[tokio::test]
async fn runs_stopped_by_the_time_budget_end_where_one_run_ends() {
    let whole = seeded().await;
    let resumed = seeded().await;
    let settings = CleanupSettings {
        chunk_rows: 100,
        ..CleanupSettings::defaults()
    };
    let uninterrupted = run(&whole.pool, Request::default(), &settings).await;
    assert!(uninterrupted.complete);

    // No budget at all: every run does one chunk, then stops and says what is left.
    let stingy = CleanupSettings {
        time_budget: Duration::ZERO,
        ..settings
    };
    let mut runs = 0;
    let mut deleted: BTreeMap<&str, u64> = BTreeMap::new();
    loop {
        runs += 1;
        assert!(runs < 500, "the resumed runs make progress");
        let outcome = run(&resumed.pool, Request::default(), &stingy).await;
        for (table, rows) in &outcome.deleted {
            *deleted.entry(table).or_insert(0) += rows;
        }
        if outcome.complete {
            break;
        }
        assert!(outcome.stopped_by_time_budget);
        // Even mid-way, nothing dangles and no detail row is orphaned.
        let (dangling, _) = dangling_and_orphans(&resumed.pool).await;
        assert_eq!(dangling, 0, "after run {runs}");
    }
    assert!(runs > 10, "the work took many runs: {runs}");
    assert_eq!(deleted, uninterrupted.deleted);
    assert_same_state(&snapshot(&resumed.pool).await, &snapshot(&whole.pool).await);
}

#[tokio::test]
async fn an_import_running_alongside_neither_fails_nor_waits_past_the_lock_limit() {
    let db = seeded().await;
    // Both sides wait at most 3 s for a row lock; a longer wait would fail them.
    let limited = db.settings.clone().with_lock_wait_timeout(Some(3));
    let import_pool = db::connect(&limited).await.expect("import pool");
    let cleanup_pool = db::connect(&limited).await.expect("cleanup pool");
    let limit: u64 = sqlx::query_scalar("SELECT @@SESSION.innodb_lock_wait_timeout")
        .fetch_one(&import_pool)
        .await
        .expect("session variable");
    assert_eq!(limit, 3, "the pool applies DB_LOCK_WAIT_TIMEOUT_SECS");

    let settings = CleanupSettings {
        chunk_rows: 50,
        ..CleanupSettings::defaults()
    };
    let today = NaiveDate::from_ymd_opt(2024, 6, 19).expect("date");
    let importing = tokio::spawn(async move {
        // Same users and courses as the old days: the import takes locks on actions
        // that the cleanup is checking.
        import_generated_day(&import_pool, today, 3_000, 40, 99).await
    });
    // Start the cleanup once the import's transaction is under way.
    let mut waited = 0;
    while sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM import_file WHERE status = 'processing'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("ledger")
        == 0
    {
        waited += 1;
        assert!(waited < 2_000, "the import starts");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cleaning = run(&cleanup_pool, Request::default(), &settings).await;
    let import_was_running = !importing.is_finished();
    let report = importing.await.expect("import task");
    eprintln!(
        "cleanup {} ms, {} chunks, {} skipped; import {} ms; import still running at the end of the cleanup: {import_was_running}",
        cleaning.duration_ms, cleaning.chunks, cleaning.skipped_locked, report.duration_ms
    );

    assert_eq!(
        report.status,
        import::report::ImportStatus::Completed,
        "{:?}",
        report.error
    );
    assert_eq!(
        cleaning.lock_retries, 0,
        "no cleanup chunk waited past the limit"
    );
    let imported: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_event WHERE import_id = ?")
        .bind(report.import_id)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(
        imported as u64, report.inserted,
        "the import's rows are all there"
    );
    assert_eq!(
        dangling_and_orphans(&db.pool).await.0,
        0,
        "no event lost a dimension row"
    );

    // Whatever the import held is finished by the next run.
    let settle = run(&cleanup_pool, Request::default(), &settings).await;
    assert!(settle.complete);
    assert_eq!(dangling_and_orphans(&db.pool).await, (0, 0));
}
