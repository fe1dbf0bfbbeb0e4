//! The import end to end through S3 (and SQS): upload, event, import, move, ledger;
//! redelivery; a failure midway.

use import::handler::handle;
use serde_json::{Value, json};

use crate::support::{self, TestDb};

#[tokio::test]
async fn an_upload_is_imported_moved_and_recorded_in_the_ledger() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let bucket = support::bucket(&deps.s3).await;
    let zip = support::generated_zip(1_000, 1);
    let key = "uploads/comLog/2024-05-01 day.zip";
    let etag = support::put(&deps.s3, &bucket, key, zip.clone()).await;

    let answer = handle(support::s3_event(&bucket, key, &etag, zip.len()), &deps)
        .await
        .expect("import succeeds");

    assert_eq!(answer[0]["status"], "completed", "{answer}");
    assert_eq!(answer[0]["inserted"], 1_000);
    assert_eq!(
        support::keys(&deps.s3, &bucket).await,
        ["completed/comLog/2024-05-01 day.zip"]
    );
    assert_eq!(db.count("client_event").await, 1_000);
    for table in [
        "actor",
        "action",
        "result",
        "event_info",
        "video_info",
        "cookie",
        "tanet_info",
        "sentences",
    ] {
        assert!(db.count(table).await > 0, "{table} has rows");
    }
    let (status, read, inserted, moved_to, log_date): (String, u64, u64, Option<String>, Option<chrono::NaiveDate>) = sqlx::query_as(
        "SELECT status, statements_read, inserted, moved_to, log_date FROM import_file WHERE bucket = ? AND object_key = ? AND etag = ?",
    )
    .bind(&bucket)
    .bind(key)
    .bind(&etag)
    .fetch_one(&db.pool)
    .await
    .expect("ledger row");
    assert_eq!(
        (status.as_str(), read, inserted),
        ("completed", 1_000, 1_000)
    );
    assert_eq!(
        moved_to.as_deref(),
        Some("completed/comLog/2024-05-01 day.zip")
    );
    assert_eq!(log_date, chrono::NaiveDate::from_ymd_opt(2024, 5, 1));
    let log_dates: Vec<chrono::NaiveDate> =
        sqlx::query_scalar("SELECT DISTINCT log_date FROM client_event")
            .fetch_all(&db.pool)
            .await
            .expect("dates");
    assert_eq!(
        log_dates,
        [chrono::NaiveDate::from_ymd_opt(2024, 5, 1).expect("date")]
    );
}

#[tokio::test]
async fn every_kind_of_redelivery_adds_nothing() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let bucket = support::bucket(&deps.s3).await;
    let zip = support::generated_zip(500, 2);
    let key = "uploads/2024-05-01.zip";
    let etag = support::put(&deps.s3, &bucket, key, zip.clone()).await;
    let event = support::s3_event(&bucket, key, &etag, zip.len());
    handle(event.clone(), &deps).await.expect("first import");
    let rows_after_first = total_rows(&db).await;

    // The same event again: the object has moved on and the ledger says it is done.
    let again = handle(event.clone(), &deps).await.expect("redelivery");
    assert_eq!(again[0]["status"], "already_imported");

    // The same object uploaded again (same ETag): the ledger says it is done.
    support::put(&deps.s3, &bucket, key, zip.clone()).await;
    let reupload = handle(event, &deps).await.expect("re-upload");
    assert_eq!(reupload[0]["status"], "already_imported");
    assert_eq!(
        support::keys(&deps.s3, &bucket).await,
        ["completed/2024-05-01.zip"]
    );

    // The same content under another name: a new ledger row that inserted nothing.
    let other_key = "uploads/copy-of-2024-05-01.zip";
    let other_etag = support::put(&deps.s3, &bucket, other_key, zip.clone()).await;
    let copy = handle(
        support::s3_event(&bucket, other_key, &other_etag, zip.len()),
        &deps,
    )
    .await
    .expect("copy");
    assert_eq!(copy[0]["status"], "completed");
    assert_eq!(copy[0]["inserted"], 0);
    assert_eq!(copy[0]["already_present"], 500);

    assert_eq!(total_rows(&db).await, rows_after_first);
    let deliveries: u32 =
        sqlx::query_scalar("SELECT deliveries FROM import_file WHERE object_key = ?")
            .bind(key)
            .fetch_one(&db.pool)
            .await
            .expect("ledger");
    assert_eq!(
        deliveries, 2,
        "the re-upload is recorded as a second delivery"
    );
}

async fn total_rows(db: &TestDb) -> i64 {
    let mut total = 0;
    for table in [
        "client_event",
        "actor",
        "action",
        "result",
        "event_info",
        "video_info",
        "cookie",
        "tanet_info",
        "sentences",
    ] {
        total += db.count(table).await;
    }
    total
}

#[tokio::test]
async fn sqs_batches_report_only_the_bad_message() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let bucket = support::bucket(&deps.s3).await;
    let zip = support::generated_zip(200, 3);
    let key = "uploads/2024-05-01.zip";
    let etag = support::put(&deps.s3, &bucket, key, zip.clone()).await;

    // Through the real SQS protocol: S3 events sent to a queue and received back.
    let sqs = support::sqs().await;
    let queue = sqs
        .create_queue()
        .queue_name(format!(
            "it-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url");
    let good = support::s3_event(&bucket, key, &etag, zip.len()).to_string();
    let test_event = include_str!("../../../events/import/s3-test-event.json").to_owned();
    for body in [good, "this is not an S3 event".to_owned(), test_event] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
    let mut received = Vec::new();
    while received.len() < 3 {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for message in out.messages() {
            received.push((
                message.message_id().expect("id").to_owned(),
                message.body().expect("body").to_owned(),
            ));
        }
    }
    let bad_id = received
        .iter()
        .find(|(_, body)| body.starts_with("this is not"))
        .expect("bad message")
        .0
        .clone();
    let messages: Vec<(&str, String)> = received
        .iter()
        .map(|(id, body)| (id.as_str(), body.clone()))
        .collect();

    let answer = handle(support::sqs_event(&messages), &deps)
        .await
        .expect("batch handled");

    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": bad_id}]})
    );
    assert_eq!(db.count("client_event").await, 200);
    assert_eq!(
        support::keys(&deps.s3, &bucket).await,
        ["completed/2024-05-01.zip"]
    );
}

#[tokio::test]
async fn objects_outside_uploads_and_test_events_are_ignored() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let bucket = support::bucket(&deps.s3).await;
    let etag = support::put(&deps.s3, &bucket, "reports/x.zip", b"zip?".to_vec()).await;
    let answer = handle(support::s3_event(&bucket, "reports/x.zip", &etag, 4), &deps)
        .await
        .expect("handled");
    assert_eq!(answer[0]["status"], "ignored");
    let test_event: Value =
        serde_json::from_str(include_str!("../../../events/import/s3-test-event.json"))
            .expect("json");
    assert_eq!(
        handle(test_event, &deps).await.expect("handled"),
        json!({"ignored": "s3:TestEvent"})
    );
    let not_an_event = handle(json!({"hello": "world"}), &deps)
        .await
        .expect_err("refused");
    assert!(
        not_an_event
            .to_string()
            .contains("expected an S3 or SQS event")
    );
    assert_eq!(support::keys(&deps.s3, &bucket).await, ["reports/x.zip"]);
}

#[tokio::test]
async fn a_database_failure_midway_leaves_nothing_and_the_retry_completes() {
    let db = TestDb::new().await;
    let mut deps = support::deps(&db).await;
    deps.settings.batch_statements = 100;
    let bucket = support::bucket(&deps.s3).await;
    let zip = support::generated_zip(1_000, 4);
    let key = "uploads/2024-05-01.zip";
    let etag = support::put(&deps.s3, &bucket, key, zip.clone()).await;
    // The database fails on the last entry, after several batches went in.
    sqlx::raw_sql(
        "CREATE TRIGGER fail_midway BEFORE INSERT ON client_event FOR EACH ROW
         BEGIN IF NEW.entry_name LIKE '%part-0004%' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'disk full'; END IF; END",
    )
    .execute(&db.pool)
    .await
    .expect("trigger");
    let event = support::s3_event(&bucket, key, &etag, zip.len());

    let error = handle(event.clone(), &deps)
        .await
        .expect_err("the import fails");

    assert!(error.to_string().contains("database error"), "{error}");
    assert_eq!(
        db.count("client_event").await,
        0,
        "no half-imported file is visible"
    );
    assert_eq!(db.count("actor").await, 0);
    assert_eq!(
        support::keys(&deps.s3, &bucket).await,
        [key],
        "the object waits in uploads/ for the retry"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM import_file")
        .fetch_one(&db.pool)
        .await
        .expect("ledger");
    assert_eq!(status, "processing");

    sqlx::raw_sql("DROP TRIGGER fail_midway")
        .execute(&db.pool)
        .await
        .expect("drop trigger");
    let retry = handle(event, &deps).await.expect("the retry succeeds");
    assert_eq!(retry[0]["status"], "completed");
    assert_eq!(db.count("client_event").await, 1_000);
    let attempts: u32 = sqlx::query_scalar("SELECT attempts FROM import_file")
        .fetch_one(&db.pool)
        .await
        .expect("ledger");
    assert_eq!(attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_connection_dies_midway_is_invisible_and_the_retry_completes() {
    let db = TestDb::new().await;
    let mut deps = support::deps(&db).await;
    deps.settings.batch_statements = 200;
    let zip = support::write_temp(&support::generated_zip(20_000, 5));
    let source = import::ledger::Source {
        bucket: "local".into(),
        key: "2024-05-01.zip".into(),
        etag: "e1".into(),
        size: None,
    };
    // The import gets a pool of one connection, so we know which server thread to cut.
    let mut one = db.settings.clone();
    one.max_connections = 1;
    let import_pool = common::db::connect(&one).await.expect("import pool");
    let import_thread: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&import_pool)
        .await
        .expect("thread id");
    let settings = deps.settings.clone();
    let path = zip.path().to_owned();
    let (task_source, task_path) = (source.clone(), path.clone());
    let running = tokio::spawn(async move {
        import::pipeline::import_file(
            &import_pool,
            &settings,
            &task_source,
            &task_path,
            chrono::Utc::now(),
        )
        .await
    });
    // A probe that can see uncommitted rows tells when the import is well under way.
    // Detached, so its isolation level never leaks back into the pool.
    let mut probe = db.pool.acquire().await.expect("probe connection").detach();
    sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
        .execute(&mut probe)
        .await
        .expect("isolation");
    let mut killed = false;
    for _ in 0..2_000 {
        let uncommitted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_event")
            .fetch_one(&mut probe)
            .await
            .expect("probe");
        if uncommitted > 1_000 {
            assert_eq!(
                db.count("client_event").await,
                0,
                "rows of an unfinished import are not visible to readers"
            );
            // Cut the connection, as a killed Lambda or a failed-over database would.
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "KILL CONNECTION {import_thread}"
            )))
            .execute(&mut probe)
            .await
            .expect("kill");
            killed = true;
            break;
        }
        assert!(
            !running.is_finished(),
            "the import ended before it could be cut"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(probe);
    assert!(killed, "the import was caught mid-way");
    let outcome = running.await.expect("task finished");
    assert!(
        matches!(outcome, Err(import::pipeline::ImportError::Database(_))),
        "{outcome:?}"
    );
    assert_eq!(db.count("client_event").await, 0);
    assert_eq!(db.count("event_info").await, 0);

    let report = import::pipeline::import_file(
        deps.database.pool(),
        &deps.settings,
        &source,
        &path,
        chrono::Utc::now(),
    )
    .await
    .expect("retry");
    assert_eq!(
        (report.status.as_str(), report.inserted),
        ("completed", 20_000)
    );
    assert_eq!(db.count("client_event").await, 20_000);
}

#[tokio::test]
async fn an_import_that_loses_a_lock_conflict_reads_its_file_again() {
    let db = TestDb::new().await;
    let day = chrono::NaiveDate::from_ymd_opt(2024, 6, 18).expect("date");
    // A first day creates the actions and actors the second day shares.
    let first = support::import_generated_day(&db.pool, day, 300, 20, 1).await;
    assert_eq!(first.status, import::report::ImportStatus::Completed);

    // Another session holds every action row for longer than the import may wait (1 s),
    // so the import's first transaction gives up with a lock wait time-out.
    let mut holder = db.pool.begin().await.expect("holder");
    let held: Vec<u64> = sqlx::query_scalar("SELECT id FROM action FOR UPDATE")
        .fetch_all(&mut *holder)
        .await
        .expect("lock the actions");
    assert!(!held.is_empty());
    let limited = db.settings.clone().with_lock_wait_timeout(Some(1));
    let import_pool = common::db::connect(&limited).await.expect("import pool");
    let next = day.succ_opt().expect("date");
    let importing =
        tokio::spawn(
            async move { support::import_generated_day(&import_pool, next, 300, 20, 2).await },
        );
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    holder.rollback().await.expect("release");

    let report = importing.await.expect("import task");
    assert_eq!(
        report.status,
        import::report::ImportStatus::Completed,
        "{:?}",
        report.error
    );
    assert_eq!(report.inserted, 300);
    let attempts: u32 = sqlx::query_scalar("SELECT attempts FROM import_file WHERE id = ?")
        .bind(report.import_id)
        .fetch_one(&db.pool)
        .await
        .expect("ledger");
    assert!(
        attempts >= 2,
        "the file was read again: {attempts} attempt(s)"
    );
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM client_event WHERE import_id = ?")
        .bind(report.import_id)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(
        stored, 300,
        "each statement once, though the file was read twice"
    );
}
