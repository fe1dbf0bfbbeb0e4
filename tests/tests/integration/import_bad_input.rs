//! Every class of bad input: a clear, located error, and nothing lost (the object is kept
//! in `error/` or `completed/` with a report beside it).

use import::handler::handle;
use serde_json::{Value, json};

use crate::support::{self, TestDb};

struct Outcome {
    answer: Value,
    keys: Vec<String>,
    report: Option<Value>,
}

/// Uploads `zip` as `uploads/2024-05-01.zip`, handles its event, and collects the result.
async fn import_upload(db: &TestDb, deps: &import::handler::ImportDeps, zip: Vec<u8>) -> Outcome {
    let bucket = support::bucket(&deps.s3).await;
    let key = "uploads/2024-05-01.zip";
    let etag = support::put(&deps.s3, &bucket, key, zip.clone()).await;
    let answer = handle(support::s3_event(&bucket, key, &etag, zip.len()), deps)
        .await
        .expect("handled without a retry");
    let answer = answer[0].clone();
    let keys = support::keys(&deps.s3, &bucket).await;
    let report = match answer["report_key"].as_str() {
        Some(report_key) => Some(support::get_json(&deps.s3, &bucket, report_key).await),
        None => None,
    };
    let _ = db;
    Outcome {
        answer,
        keys,
        report,
    }
}

fn statement(n: u32) -> Value {
    json!({"id": uuid::Uuid::from_u128(u128::from(n) + 1).to_string(),
           "actor": {"account": {"homePage": "https://www.coolenglish.edu.tw", "name": format!("u{n}")}},
           "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
           "object": {"id": "https://www.coolenglish.edu.tw/course/view.php?id=770"},
           "timestamp": "2024-05-01T10:00:00+08:00"})
}

fn lines(statements: impl IntoIterator<Item = Value>) -> Vec<u8> {
    statements
        .into_iter()
        .map(|s| s.to_string() + "\n")
        .collect::<String>()
        .into_bytes()
}

#[tokio::test]
async fn what_is_not_a_zip_fails_whole_and_is_kept_in_error_with_a_report() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let outcome = import_upload(&db, &deps, b"name,score\nalice,3\n".to_vec()).await;
    assert_eq!(outcome.answer["status"], "failed");
    assert_eq!(
        outcome.keys,
        ["error/2024-05-01.zip", "error/2024-05-01.zip.report.json"]
    );
    let report = outcome.report.expect("report");
    assert!(
        report["error"]
            .as_str()
            .expect("error")
            .contains("not a readable zip archive"),
        "{report}"
    );
    let (status, error): (String, String) = sqlx::query_as("SELECT status, error FROM import_file")
        .fetch_one(&db.pool)
        .await
        .expect("ledger");
    assert_eq!(status, "failed");
    assert!(error.contains("not a readable zip archive"));
}

#[tokio::test]
async fn a_truncated_zip_fails_whole() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let zip = support::generated_zip(300, 7);
    let outcome = import_upload(&db, &deps, zip[..zip.len() * 2 / 3].to_vec()).await;
    assert_eq!(outcome.answer["status"], "failed");
    assert!(outcome.keys.contains(&"error/2024-05-01.zip".to_owned()));
    assert_eq!(db.count("client_event").await, 0);
}

#[tokio::test]
async fn a_corrupt_entry_fails_the_file_and_keeps_nothing_of_it() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let body = lines((0..2_000).map(statement));
    let mut zip = support::zip_of(&[("a.jsonl", &body)]);
    // Flip bytes in the middle of the compressed data: the checksum no longer matches.
    let middle = zip.len() / 2;
    for byte in &mut zip[middle..middle + 8] {
        *byte ^= 0x5a;
    }
    let outcome = import_upload(&db, &deps, zip).await;
    assert_eq!(outcome.answer["status"], "failed");
    let error = outcome.report.expect("report")["error"]
        .as_str()
        .expect("error")
        .to_owned();
    assert!(error.contains("a.jsonl"), "names the entry: {error}");
    assert_eq!(db.count("client_event").await, 0);
}

#[tokio::test]
async fn invalid_statements_are_rejected_one_by_one_with_their_place_and_the_rest_imports() {
    let db = TestDb::new().await;
    let mut deps = support::deps(&db).await;
    deps.settings.max_reject_share = 0.5;
    let mut bad = Vec::new();
    let mut missing_actor = statement(1_001);
    missing_actor
        .as_object_mut()
        .expect("object")
        .remove("actor");
    bad.push(missing_actor);
    let mut missing_verb = statement(1_002);
    missing_verb.as_object_mut().expect("object").remove("verb");
    bad.push(missing_verb);
    let mut missing_object = statement(1_003);
    missing_object
        .as_object_mut()
        .expect("object")
        .remove("object");
    bad.push(missing_object);
    let mut bad_time = statement(1_004);
    bad_time["timestamp"] = json!("2024-13-45 25:00");
    bad.push(bad_time);
    let mut wrong_type = statement(1_005);
    wrong_type["result"] = json!({"score": {"raw": "lots"}});
    bad.push(wrong_type);
    let mut body = lines((0..20).map(statement));
    body.extend(lines(bad));
    body.extend(b"{this is not json}\n");
    // Incompressible padding, so the long line is not refused as a zip bomb first.
    let pad: String = (0..40_000)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    body.extend(format!("{{\"pad\": \"{pad}\"}}\n").as_bytes());
    body.extend(lines((20..40).map(statement)));
    let zip = support::zip_of(&[
        ("day/2024-05-01.jsonl", &body),
        ("notes.txt", b"hello"),
        // Well-formed as an array, but its second element is not JSON: one reject each.
        ("broken.json", b"[{\"a\": 1}, {\"n\": }]"),
    ]);

    let outcome = import_upload(&db, &deps, zip).await;

    assert_eq!(outcome.answer["status"], "completed", "{}", outcome.answer);
    assert_eq!(outcome.answer["inserted"], 40);
    assert_eq!(outcome.answer["rejected"], 9);
    assert_eq!(db.count("client_event").await, 40);
    assert_eq!(
        outcome.keys,
        [
            "completed/2024-05-01.zip",
            "completed/2024-05-01.zip.report.json"
        ]
    );
    let report = outcome.report.expect("report");
    let rejects: Vec<(String, Value, String)> = report["rejects"]
        .as_array()
        .expect("rejects")
        .iter()
        .map(|r| {
            (
                r["entry"].as_str().expect("entry").to_owned(),
                r["location"].clone(),
                r["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    let day = "day/2024-05-01.jsonl";
    assert_eq!(
        rejects[0],
        (day.into(), json!({"line": 21}), "actor is missing".into())
    );
    assert_eq!(
        rejects[1],
        (day.into(), json!({"line": 22}), "verb is missing".into())
    );
    assert_eq!(
        rejects[2],
        (day.into(), json!({"line": 23}), "object is missing".into())
    );
    assert!(
        rejects[3].2.contains("timestamp") && rejects[3].1 == json!({"line": 24}),
        "{:?}",
        rejects[3]
    );
    assert_eq!(rejects[4].2, "result.score.raw \"lots\" is not a number");
    assert!(
        rejects[5].2.starts_with("not JSON") && rejects[5].1 == json!({"line": 26}),
        "{:?}",
        rejects[5]
    );
    assert_eq!(
        rejects[6],
        (
            day.into(),
            json!({"line": 27}),
            "line longer than 1048576 bytes".into()
        )
    );
    // The .json entry: its first element is read (and rejected: no actor), then the second.
    assert_eq!(
        rejects[7],
        (
            "broken.json".into(),
            json!({"element": 0}),
            "actor is missing".into()
        )
    );
    assert!(
        rejects[8].0 == "broken.json"
            && rejects[8].1 == json!({"element": 1})
            && rejects[8].2.contains("not JSON"),
        "{:?}",
        rejects[8]
    );
    assert_eq!(
        report["skipped_entries"],
        json!([{"entry": "notes.txt", "reason": "not a .json, .jsonl or .ndjson file"}])
    );
}

#[tokio::test]
async fn too_many_rejects_fail_the_whole_file_and_import_nothing() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let mut body = lines((0..90).map(statement));
    body.extend(lines((0..10).map(
        |n| json!({"id": uuid::Uuid::from_u128(5_000 + n).to_string(), "verb": {}}),
    )));
    let outcome = import_upload(&db, &deps, support::zip_of(&[("a.jsonl", &body)])).await;
    assert_eq!(outcome.answer["status"], "failed");
    let report = outcome.report.expect("report");
    assert!(
        report["error"]
            .as_str()
            .expect("error")
            .contains("10 of 100 statements rejected (10.0%), more than the allowed 5.0%"),
        "{report}"
    );
    assert_eq!(report["rejects"].as_array().expect("rejects").len(), 10);
    assert_eq!(db.count("client_event").await, 0);
    assert_eq!(
        outcome.keys,
        ["error/2024-05-01.zip", "error/2024-05-01.zip.report.json"]
    );
}

#[tokio::test]
async fn zip_bombs_are_refused_before_they_inflate() {
    let db = TestDb::new().await;
    let mut deps = support::deps(&db).await;
    let spaces = vec![b' '; 8 << 20];
    let ratio = import_upload(&db, &deps, support::zip_of(&[("a.jsonl", &spaces)])).await;
    assert_eq!(ratio.answer["status"], "failed");
    assert!(
        ratio.answer["error"]
            .as_str()
            .expect("error")
            .contains("possible zip bomb"),
        "{}",
        ratio.answer
    );

    deps.settings.limits.max_entries = 3;
    let names: Vec<String> = (0..4).map(|i| format!("{i}.jsonl")).collect();
    let entries: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), b"{}".as_slice()))
        .collect();
    let many = import_upload(&db, &deps, support::zip_of(&entries)).await;
    assert!(
        many.answer["error"]
            .as_str()
            .expect("error")
            .contains("4 entries, more than the limit of 3"),
        "{}",
        many.answer
    );

    deps.settings.limits.max_entries = 100;
    deps.settings.limits.max_uncompressed_bytes = 1_000;
    let body = lines((0..50).map(statement));
    let big = import_upload(&db, &deps, support::zip_of(&[("a.jsonl", &body)])).await;
    assert!(
        big.answer["error"]
            .as_str()
            .expect("error")
            .contains("more than the limit of 1000"),
        "{}",
        big.answer
    );
    assert_eq!(db.count("client_event").await, 0);
}

#[tokio::test]
async fn an_archive_without_statement_files_fails() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let outcome = import_upload(&db, &deps, support::zip_of(&[("readme.md", b"# nothing")])).await;
    assert_eq!(outcome.answer["status"], "failed");
    assert_eq!(
        outcome.answer["error"],
        "the archive holds no .json, .jsonl or .ndjson entries"
    );
}
