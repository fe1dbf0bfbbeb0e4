//! The import loses nothing and alters nothing silently: every statement of a generated zip
//! is imported exactly, rejected with its reason and place, or the file fails whole.
//!
//! Most tests compare every learning table against a second database that imported only
//! the statements that should be kept: a rejected statement must leave no trace in any
//! table, and a kept one must be stored exactly as when it travels alone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use import::{
    handler::handle,
    report::{ImportReport, ImportStatus},
    settings::ImportSettings,
};
use serde_json::{Value, json};
use sqlx::MySqlPool;

use crate::support::{self, TestDb};

/// The nine learning tables, with the column that orders their rows.
const TABLES: [(&str, &str); 9] = [
    ("client_event", "statement_id"),
    ("event_info", "statement_id"),
    ("result", "statement_id"),
    ("video_info", "statement_id"),
    ("sentences", "statement_id, seq"),
    ("actor", "id"),
    ("action", "id"),
    ("cookie", "id"),
    ("tanet_info", "id"),
];

/// Every row of every learning table as text (`import_id` left out: it differs between
/// databases by construction).
async fn dump(pool: &MySqlPool) -> BTreeMap<&'static str, Vec<String>> {
    let mut tables = BTreeMap::new();
    for (table, order) in TABLES {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name <> 'import_id'
             ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .expect("columns");
        let parts: Vec<String> = columns
            .iter()
            .map(|c| format!("IFNULL(HEX(`{c}`), 'NULL')"))
            .collect();
        let sql = format!(
            "SELECT CONCAT_WS('|', {}) FROM {table} ORDER BY {order}",
            parts.join(", ")
        );
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .expect("dump");
        tables.insert(table, rows);
    }
    tables
}

fn settings() -> ImportSettings {
    ImportSettings::defaults(chrono_tz::Asia::Taipei)
}

fn received(day: u32) -> DateTime<Utc> {
    format!("2024-06-{day:02}T03:00:00Z")
        .parse()
        .expect("instant")
}

/// Imports `zip` as `key` through the pipeline (what the function does after download).
async fn import_as(
    pool: &MySqlPool,
    settings: &ImportSettings,
    key: &str,
    zip: &[u8],
    received_at: DateTime<Utc>,
) -> ImportReport {
    let file = support::write_temp(zip);
    let source = import::ledger::Source {
        bucket: "local".into(),
        key: key.into(),
        etag: format!("{:x}", md5_like(zip)),
        size: Some(zip.len() as u64),
    };
    let report = import::pipeline::import_file(pool, settings, &source, file.path(), received_at)
        .await
        .expect("import");
    assert!(report.balances(), "counts do not add up: {report:?}");
    report
}

/// A cheap content fingerprint for the ETag (distinct zips get distinct ledger rows).
fn md5_like(bytes: &[u8]) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut a = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    (bytes.len(), bytes.first(), bytes.last()).hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// A valid statement `n` with every table in play (result, video, sentences, cookie, tanet).
fn statement(n: u32) -> Value {
    let base = "https://www.coolenglish.edu.tw/xapi/extensions/";
    json!({
        "id": uuid::Uuid::from_u128(0xabc0_0000 + u128::from(n)).to_string(),
        "actor": {"account": {"homePage": "https://www.coolenglish.edu.tw", "name": format!("u{}", n % 7)}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
        "object": {"id": format!("https://www.coolenglish.edu.tw/course/view.php?id=77{}", n % 3)},
        "timestamp": format!("2024-05-01T10:{:02}:00+08:00", n % 60),
        "result": {"score": {"raw": n % 10, "max": 10}, "success": true,
                   "extensions": {"https://w3id.org/xapi/video/extensions/time": 1.5,
                                  (format!("{base}sentences")): [{"text": "hello", "score": 80}]}},
        "context": {"extensions": {
            (format!("{base}student-level")): "國中",
            (format!("{base}session-id")): format!("s{}", n % 5),
            (format!("{base}client-ip")): "10.0.0.1"}}
    })
}

fn lines(statements: &[Value]) -> Vec<u8> {
    statements
        .iter()
        .map(|s| s.to_string() + "\n")
        .collect::<String>()
        .into_bytes()
}

fn array(statements: &[Value]) -> Vec<u8> {
    Value::Array(statements.to_vec()).to_string().into_bytes()
}

/// Imports `with_bad` into one database and `only_good` into another, under the same entry
/// names, and checks that both hold exactly the same rows in every table.
async fn assert_same_tables_as(
    with_bad: &[(&str, Vec<u8>)],
    only_good: &[(&str, Vec<u8>)],
    settings: &ImportSettings,
) -> ImportReport {
    let zip = |entries: &[(&str, Vec<u8>)]| {
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        support::zip_of(&refs)
    };
    let db = TestDb::new().await;
    let report = import_as(
        &db.pool,
        settings,
        "uploads/2024-05-01.zip",
        &zip(with_bad),
        received(2),
    )
    .await;
    let reference = TestDb::new().await;
    let good = import_as(
        &reference.pool,
        settings,
        "uploads/2024-05-01.zip",
        &zip(only_good),
        received(2),
    )
    .await;
    assert_eq!(good.status, ImportStatus::Completed, "{good:?}");
    assert_eq!(good.rejected, 0, "{:?}", good.rejects);
    let (got, want) = (dump(&db.pool).await, dump(&reference.pool).await);
    for (table, _) in TABLES {
        assert_eq!(got[table], want[table], "table {table} differs");
    }
    assert!(want["client_event"].len() as u64 == good.inserted);
    report
}

fn reasons(report: &ImportReport) -> Vec<String> {
    report
        .rejects
        .iter()
        .map(|r| format!("{} {}: {}", r.entry, location(&r.location), r.reason))
        .collect()
}

fn location(location: &import::archive::Location) -> String {
    location.to_string()
}

#[tokio::test]
async fn an_out_of_range_number_rejects_one_element_and_the_rest_of_the_array_imports() {
    let mut all: Vec<Value> = (0..1_000).map(statement).collect();
    all[0]["result"]["score"]["raw"] = json!("PLACEHOLDER");
    let bad = String::from_utf8(array(&all))
        .expect("utf8")
        .replacen("\"PLACEHOLDER\"", "1e400", 1)
        .into_bytes();
    let good = array(&all[1..]);
    let report = assert_same_tables_as(
        &[("day/2024-05-01.json", bad)],
        &[("day/2024-05-01.json", good)],
        &settings(),
    )
    .await;
    assert_eq!(report.status, ImportStatus::Completed, "{report:?}");
    assert_eq!(
        (report.statements_read, report.inserted, report.rejected),
        (1_000, 999, 1)
    );
    let why = reasons(&report);
    assert!(
        why[0].starts_with("day/2024-05-01.json element 0: ") && why[0].contains("out of range"),
        "{why:?}"
    );
}

#[tokio::test]
async fn an_over_size_element_is_skipped_and_a_byte_order_mark_is_accepted() {
    let mut settings = settings();
    settings.limits.max_statement_bytes = 4_096;
    let mut all: Vec<Value> = (0..300).map(statement).collect();
    all[150]["context"]["platform"] = json!("p".repeat(10_000));
    let mut bad = b"\xEF\xBB\xBF".to_vec();
    bad.extend(array(&all));
    let mut kept = all.clone();
    kept.remove(150);
    let report = assert_same_tables_as(
        &[("2024-05-01.json", bad)],
        &[("2024-05-01.json", array(&kept))],
        &settings,
    )
    .await;
    assert_eq!(report.status, ImportStatus::Completed);
    assert_eq!((report.inserted, report.rejected), (299, 1));
    assert!(
        reasons(&report)[0].starts_with("2024-05-01.json element 150: statement larger than"),
        "{:?}",
        reasons(&report)
    );
}

#[tokio::test]
async fn a_broken_array_fails_the_file_counting_what_was_lost() {
    let db = TestDb::new().await;
    let all: Vec<Value> = (0..50).map(statement).collect();
    let mut broken = array(&all);
    broken.truncate(broken.len() - 200); // cut inside element 49 or 48: no closing bracket
    let zip = support::zip_of(&[("a.jsonl", &lines(&[statement(100)])), ("b.json", &broken)]);
    let report = import_as(&db.pool, &settings(), "uploads/x.zip", &zip, received(2)).await;
    assert_eq!(report.status, ImportStatus::Failed, "{report:?}");
    assert_eq!(report.lost, 1);
    assert_eq!(report.entries, 2);
    assert_eq!(report.inserted, 0);
    assert_eq!(report.already_present, 0, "nothing was stored before");
    assert!(report.discarded >= 48, "{report:?}");
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("could not be split"),
        "{report:?}"
    );
    assert!(
        reasons(&report)
            .iter()
            .any(|r| r.starts_with("b.json element 4"))
    );
    for (table, _) in TABLES {
        assert_eq!(db.count(table).await, 0, "{table} is empty");
    }
}

#[tokio::test]
async fn instants_the_database_cannot_store_are_rejected_with_their_reason() {
    let mut all: Vec<Value> = (0..100).map(statement).collect();
    all[10]["timestamp"] = json!("2024-12-31T23:59:60Z");
    all[20]["timestamp"] = json!("9999-12-31T23:30:00-01:00");
    all[30]["timestamp"] = json!("0001-01-01T00:00:00+01:00");
    all[40]["stored"] = json!("2016-12-31T23:59:60Z");
    let kept: Vec<Value> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| ![10, 20, 30, 40].contains(i))
        .map(|(_, s)| s.clone())
        .collect();
    let report = assert_same_tables_as(
        &[("2024-05-01.jsonl", lines(&all))],
        &[("2024-05-01.jsonl", lines(&kept))],
        &settings(),
    )
    .await;
    let why = reasons(&report);
    assert_eq!(report.rejected, 4, "{why:?}");
    assert!(why[0].starts_with("2024-05-01.jsonl line 11: ") && why[0].contains("leap second"));
    assert!(why[1].contains("line 21") && why[1].contains("9999-12-31T23:30:00-01:00"));
    assert!(why[2].contains("line 31") && why[2].contains("0001-01-01"));
    assert!(
        why[3].contains("line 41") && why[3].contains("stored"),
        "{why:?}"
    );
}

fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!({ "a": inner }))
}

#[tokio::test]
async fn json_deeper_than_the_server_stores_is_rejected_not_dropped_from_event_info() {
    let mut all: Vec<Value> = (0..60).map(statement).collect();
    all[5]["context"]["extensions"]["http://example.org/deep"] = nested(40);
    all[7]["context"]["contextActivities"] = json!({"other": [{"id": "http://x.org/a", "definition": {"extensions": {"http://x.org/e": nested(40)}}}]});
    let kept: Vec<Value> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| ![5, 7].contains(i))
        .map(|(_, s)| s.clone())
        .collect();
    let report = assert_same_tables_as(
        &[("2024-05-01.jsonl", lines(&all))],
        &[("2024-05-01.jsonl", lines(&kept))],
        &settings(),
    )
    .await;
    let why = reasons(&report);
    assert_eq!(report.rejected, 2, "{why:?}");
    assert!(why.iter().all(|r| r.contains("at most 31")), "{why:?}");
}

#[tokio::test]
async fn json_at_the_documented_depth_limit_is_stored_and_one_level_more_is_rejected() {
    // The documented boundary against the real server: an extension nested 29 levels is
    // stored at depth 31 (the extensions object and the column's own level around it) and
    // kept whole; 30 levels would be 32 and are rejected before the write.
    let mut all: Vec<Value> = (0..40).map(statement).collect();
    all[3]["context"]["extensions"]["http://example.org/deep"] = nested(29);
    all[4]["context"]["extensions"]["http://example.org/deep"] = nested(30);
    let db = TestDb::new().await;
    let zip = support::zip_of(&[("2024-05-01.jsonl", lines(&all).as_slice())]);
    let report = import_as(
        &db.pool,
        &settings(),
        "uploads/2024-05-01.zip",
        &zip,
        received(1),
    )
    .await;
    assert_eq!(report.rejected, 1, "{:?}", reasons(&report));
    assert!(
        reasons(&report)[0].contains("at most 31"),
        "{:?}",
        reasons(&report)
    );
    let depth: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(JSON_DEPTH(extensions) AS SIGNED) FROM event_info WHERE statement_id = ?",
    )
    .bind(all[3]["id"].as_str().expect("id"))
    .fetch_optional(&db.pool)
    .await
    .expect("event_info");
    let depth = depth.expect("the 29-level statement's event_info row is stored");
    // JSON_DEPTH counts the innermost scalar as a level too: 31 levels of objects are 32.
    assert_eq!(depth, 32, "stored at the documented depth");
    let kept: String = sqlx::query_scalar(
        "SELECT CAST(extensions AS CHAR) FROM event_info WHERE statement_id = ?",
    )
    .bind(all[3]["id"].as_str().expect("id"))
    .fetch_one(&db.pool)
    .await
    .expect("event_info");
    let kept: Value = serde_json::from_str(&kept).expect("JSON");
    assert!(
        kept.to_string().contains(&nested(29).to_string()),
        "kept whole: {kept}"
    );
    let dropped: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM client_event WHERE statement_id = ?")
            .bind(all[4]["id"].as_str().expect("id"))
            .fetch_one(&db.pool)
            .await
            .expect("client_event");
    assert_eq!(dropped, 0, "the rejected statement is in no table");
}

#[tokio::test]
async fn an_entry_path_longer_than_its_column_rejects_its_statements() {
    let long = format!("{}/2024-05-01.jsonl", "d".repeat(600));
    let good = lines(&(0..20).map(statement).collect::<Vec<_>>());
    let bad = lines(&[statement(500), statement(501)]);
    let mut settings = settings();
    settings.max_reject_share = 0.5;
    let report = assert_same_tables_as(
        &[("2024-05-01.jsonl", good.clone()), (&long, bad)],
        &[("2024-05-01.jsonl", good)],
        &settings,
    )
    .await;
    assert_eq!(report.rejected, 2);
    assert!(
        reasons(&report).iter().all(|r| r.contains("512")),
        "{:?}",
        reasons(&report)
    );
}

#[tokio::test]
async fn a_second_copy_of_an_id_with_different_content_is_a_reported_conflict() {
    let mut settings = settings();
    settings.batch_statements = 7; // copies land in the same batch and in later ones
    let all: Vec<Value> = (0..40).map(statement).collect();
    let mut changed = statement(3);
    changed["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/failed");
    let mut changed_late = statement(30);
    changed_late["result"]["score"]["raw"] = json!(9.5);
    let mut with_copies = all.clone();
    with_copies.insert(5, changed.clone()); // same batch as statement 3
    with_copies.push(statement(3)); // exact repeat, much later
    with_copies.push(changed_late); // conflicting copy in a later batch
    let report = assert_same_tables_as(
        &[("2024-05-01.jsonl", lines(&with_copies))],
        &[("2024-05-01.jsonl", lines(&all))],
        &settings,
    )
    .await;
    assert_eq!(report.status, ImportStatus::Completed);
    assert_eq!(
        (
            report.inserted,
            report.duplicates_in_file,
            report.rejected,
            report.already_present
        ),
        (40, 1, 2, 0)
    );
    let why = reasons(&report);
    let id3 = all[3]["id"].as_str().expect("id");
    assert_eq!(
        why[0],
        format!(
            "2024-05-01.jsonl line 6: id {id3} appears earlier in this file with different content"
        )
    );
    assert!(
        why[1].starts_with("2024-05-01.jsonl line 43: id "),
        "{why:?}"
    );

    // Across files: a later file with the exact statement is "already present", with a
    // changed one a conflict; neither alters what is stored.
    let db = TestDb::new().await;
    let first = support::zip_of(&[("2024-05-01.jsonl", &lines(&all))]);
    import_as(&db.pool, &settings, "uploads/a.zip", &first, received(2)).await;
    let before = dump(&db.pool).await;
    let second = support::zip_of(&[("2024-05-02.jsonl", &lines(&[statement(1), changed]))]);
    let mut lenient = settings.clone();
    lenient.max_reject_share = 0.5;
    let report = import_as(&db.pool, &lenient, "uploads/b.zip", &second, received(3)).await;
    assert_eq!(
        (report.already_present, report.rejected, report.inserted),
        (1, 1, 0)
    );
    assert_eq!(
        reasons(&report)[0],
        format!("2024-05-02.jsonl line 2: id {id3} already stored with different content")
    );
    assert_eq!(dump(&db.pool).await, before);
}

#[tokio::test]
async fn an_undated_statement_uploaded_again_on_another_day_is_not_stored_twice() {
    let db = TestDb::new().await;
    let undated = json!({"actor": {"mbox": "mailto:a@x.org"},
                         "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                         "object": {"id": "https://www.coolenglish.edu.tw/course/view.php?id=770"}});
    let zip = support::zip_of(&[("logs.jsonl", &lines(&[undated]))]);
    let first = import_as(&db.pool, &settings(), "uploads/logs.zip", &zip, received(2)).await;
    assert_eq!(first.inserted, 1);
    let tables = dump(&db.pool).await;
    // Another object name (a new ledger row), two days later.
    let again = import_as(
        &db.pool,
        &settings(),
        "uploads/logs-again.zip",
        &zip,
        received(4),
    )
    .await;
    assert_eq!((again.inserted, again.already_present), (0, 1), "{again:?}");
    assert_eq!(dump(&db.pool).await, tables);
    let log_date: chrono::NaiveDate = sqlx::query_scalar("SELECT log_date FROM client_event")
        .fetch_one(&db.pool)
        .await
        .expect("log date");
    assert_eq!(
        log_date.to_string(),
        "2024-06-02",
        "the first arrival's day (Taipei)"
    );
}

#[tokio::test]
async fn whitespace_entries_are_bounded_by_the_bytes_inflated_and_no_statements_fail() {
    let db = TestDb::new().await;
    // The 3,000 entries of 1 MiB, scaled down: each entry is under the per-entry
    // ratio check's 1 MiB floor, so only the whole archive shows the bomb.
    let spaces = vec![b' '; 512 << 10];
    let names: Vec<String> = (0..40).map(|i| format!("w{i}.jsonl")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &spaces[..])).collect();
    let zip = support::zip_of(&entries);
    let report = import_as(&db.pool, &settings(), "uploads/w.zip", &zip, received(2)).await;
    assert_eq!(report.status, ImportStatus::Failed);
    let error = report.error.clone().unwrap_or_default();
    assert!(error.contains("zip bomb"), "{error}");

    // The byte cap is a setting (IMPORT_MAX_UNCOMPRESSED_BYTES).
    let mut capped = settings();
    capped.limits.max_uncompressed_bytes = 8 << 20;
    capped.limits.max_compression_ratio = 1e9; // only the byte cap is under test here
    let report = import_as(&db.pool, &capped, "uploads/w2.zip", &zip, received(2)).await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert!(report.error.unwrap_or_default().contains("zip bomb"));

    // Under every limit, but no statement at all: the file fails, as documented.
    let small = support::zip_of(&entries[..1]);
    let report = import_as(&db.pool, &settings(), "uploads/s.zip", &small, received(2)).await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert_eq!(
        report.error.as_deref(),
        Some("the archive holds no statements")
    );
}

#[tokio::test]
async fn valid_groups_substatements_and_minute_timestamps_import_and_two_identifiers_do_not() {
    let db = TestDb::new().await;
    let member = |m: &str| json!({"objectType": "Agent", "mbox": format!("mailto:{m}@x.org")});
    let verb = json!({"id": "http://adlnet.gov/expapi/verbs/experienced"});
    let course = json!({"id": "https://www.coolenglish.edu.tw/course/view.php?id=770"});
    let group_actor = json!({"actor": {"objectType": "Group", "member": [member("a"), member("b")]},
                             "verb": verb, "object": course, "timestamp": "2024-05-01T10:00Z"});
    let group_object = json!({"actor": member("c"), "verb": verb,
                              "object": {"objectType": "Group", "member": [member("b"), member("a")]}});
    let sub = json!({"actor": member("d"), "verb": verb,
                     "object": {"objectType": "SubStatement", "actor": member("e"), "verb": verb,
                                "object": {"objectType": "Agent", "mbox": "mailto:f@x.org"}}});
    let two_ids = json!({"actor": {"mbox": "mailto:g@x.org", "openid": "http://g.example.org"},
                         "verb": verb, "object": course});
    let zip = support::zip_of(&[(
        "2024-05-01.jsonl",
        &lines(&[group_actor, group_object, sub, two_ids]),
    )]);
    let mut lenient = settings();
    lenient.max_reject_share = 0.5;
    let report = import_as(&db.pool, &lenient, "uploads/g.zip", &zip, received(2)).await;
    assert_eq!(
        (report.inserted, report.rejected),
        (3, 1),
        "{:?}",
        reasons(&report)
    );
    assert!(
        reasons(&report)[0].contains("line 4"),
        "{:?}",
        reasons(&report)
    );
    let uids: Vec<String> = sqlx::query_scalar("SELECT uid FROM actor WHERE object_type = 'Group'")
        .fetch_all(&db.pool)
        .await
        .expect("group actors");
    assert_eq!(uids.len(), 1);
    assert!(uids[0].starts_with("group:"), "{uids:?}");
    // The same members in another order are the same group, as object too.
    let object_ids: Vec<String> =
        sqlx::query_scalar("SELECT object_id FROM action WHERE object_type = 'Group'")
            .fetch_all(&db.pool)
            .await
            .expect("group objects");
    assert_eq!(object_ids, uids);
    let event_time: String = sqlx::query_scalar(
        "SELECT CAST(event_time AS CHAR) FROM event_info WHERE event_time IS NOT NULL",
    )
    .fetch_one(&db.pool)
    .await
    .expect("timestamp");
    assert_eq!(event_time, "2024-05-01 10:00:00.000");
}

#[tokio::test]
async fn a_data_error_the_validation_missed_fails_the_batch_loudly() {
    // The writer has no INSERT IGNORE left to hide a refused value: feed it a row the
    // validation would have caught (an entry name over its 512 characters).
    let db = TestDb::new().await;
    let rules = settings().rules;
    let origin = import::statement::Origin {
        entry_name: "2024-05-01.jsonl",
        entry_file_name: "2024-05-01.jsonl",
        named_log_date: None,
        received_at: received(2),
    };
    let normalised = import::statement::normalise(statement(1), origin, &rules).expect("valid");
    let mut batcher = import::batch::Batcher::new(10);
    let entry: std::sync::Arc<str> = std::sync::Arc::from("x".repeat(600).as_str());
    batcher.push(normalised, &entry, import::archive::Location::Line(1), 1);
    let batch = batcher.finish().expect("batch");
    let mut conn = db.pool.acquire().await.expect("connection");
    // Even on a server whose default mode is not strict.
    sqlx::query("SET SESSION sql_mode = ''")
        .execute(&mut *conn)
        .await
        .expect("lenient server default");
    import::store::strict_mode(&mut conn).await.expect("strict");
    let mut tx = sqlx::Connection::begin(&mut *conn)
        .await
        .expect("transaction");
    let error = import::store::Writer::new(1)
        .write(&mut tx, &batch)
        .await
        .expect_err("a too-long value is an error, not a warning");
    assert!(error.to_string().contains("entry_name"), "{error}");
    drop(tx);
    assert_eq!(db.count("client_event").await, 0);
}

#[tokio::test]
async fn every_count_means_one_thing_on_failed_and_completed_files() {
    let db = TestDb::new().await;
    let all: Vec<Value> = (0..100).map(statement).collect();
    let mut invalid: Vec<Value> = all.clone();
    for s in invalid.iter_mut().take(10) {
        s.as_object_mut().expect("object").remove("verb");
    }
    invalid.push(all[50].clone()); // an exact repeat in the file
    // Too many rejects: the file fails on an empty database.
    let zip = support::zip_of(&[("2024-05-01.jsonl", &lines(&invalid))]);
    let failed = import_as(&db.pool, &settings(), "uploads/f.zip", &zip, received(2)).await;
    assert_eq!(failed.status, ImportStatus::Failed);
    assert_eq!(
        (
            failed.statements_read,
            failed.inserted,
            failed.already_present,
            failed.duplicates_in_file,
            failed.rejected,
            failed.lost,
            failed.discarded,
        ),
        (101, 0, 0, 1, 10, 0, 90)
    );
    let ledger: (String, u64, u64, u64, u64) = sqlx::query_as(
        "SELECT status, already_present, duplicates_in_file, discarded, lost FROM import_file WHERE object_key = 'uploads/f.zip'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("ledger");
    assert_eq!(ledger, ("failed".to_owned(), 0, 1, 90, 0));

    // A corrupt entry: the entries started are counted.
    let body = lines(&all);
    let mut corrupt = support::zip_of(&[("a.jsonl", &body), ("b.jsonl", &body)]);
    let middle = corrupt.len() * 3 / 4;
    for byte in &mut corrupt[middle..middle + 8] {
        *byte ^= 0x5a;
    }
    let report = import_as(
        &db.pool,
        &settings(),
        "uploads/c.zip",
        &corrupt,
        received(2),
    )
    .await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert!(report.entries >= 1, "{report:?}");
}

#[tokio::test]
async fn a_file_over_the_statement_limit_fails_permanently_with_a_report() {
    let db = TestDb::new().await;
    let mut small = settings();
    small.max_statements = 50;
    let zip = support::zip_of(&[(
        "2024-05-01.jsonl",
        &lines(&(0..60).map(statement).collect::<Vec<_>>()),
    )]);
    let report = import_as(&db.pool, &small, "uploads/big.zip", &zip, received(2)).await;
    assert_eq!(report.status, ImportStatus::Failed);
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("IMPORT_MAX_STATEMENTS"),
        "{report:?}"
    );
    assert_eq!(db.count("client_event").await, 0);
}

#[tokio::test]
async fn an_upload_over_the_size_limit_goes_to_error_with_a_report_and_is_not_retried() {
    let db = TestDb::new().await;
    let mut deps = support::deps(&db).await;
    deps.settings.max_object_bytes = 1_000;
    let bucket = support::bucket(&deps.s3).await;
    let key = "uploads/2024-05-01.zip";
    let zip = support::generated_zip(200, 3);
    let etag = support::put(&deps.s3, &bucket, key, zip.clone()).await;
    let answer = handle(support::s3_event(&bucket, key, &etag, zip.len()), &deps)
        .await
        .expect("a permanent failure is an answer, not an error to retry");
    assert_eq!(answer[0]["status"], "failed");
    assert!(
        answer[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("IMPORT_MAX_OBJECT_BYTES"),
        "{answer}"
    );
    assert_eq!(
        support::keys(&deps.s3, &bucket).await,
        ["error/2024-05-01.zip", "error/2024-05-01.zip.report.json"]
    );

    // The event arrives again after the move: the ledger answers, nothing is "missing".
    let again = handle(support::s3_event(&bucket, key, &etag, zip.len()), &deps)
        .await
        .expect("redelivery");
    assert_eq!(again[0]["status"], "failed", "{again}");
    assert_eq!(again[0]["moved_to"], "error/2024-05-01.zip");
    assert_eq!(again[0]["report_key"], "error/2024-05-01.zip.report.json");
}

#[tokio::test]
async fn a_redelivered_event_of_a_failed_file_answers_from_the_ledger() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let bucket = support::bucket(&deps.s3).await;
    let key = "uploads/2024-05-02.zip";
    let body = b"not a zip at all".to_vec();
    let etag = support::put(&deps.s3, &bucket, key, body.clone()).await;
    let event = support::s3_event(&bucket, key, &etag, body.len());
    let first = handle(event.clone(), &deps).await.expect("first");
    assert_eq!(first[0]["status"], "failed");
    let again = handle(event, &deps).await.expect("again");
    assert_eq!(again[0]["status"], "failed", "{again}");
    assert_eq!(again[0]["moved_to"], "error/2024-05-02.zip");
    assert!(
        again[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("zip")
    );
    let deliveries: u32 = sqlx::query_scalar("SELECT deliveries FROM import_file")
        .fetch_one(&db.pool)
        .await
        .expect("ledger");
    assert_eq!(
        deliveries, 1,
        "the second event never reached the ledger's import path"
    );
}
