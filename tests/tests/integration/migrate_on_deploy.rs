//! The migrate function as the deploy's custom resource: it answers CloudFormation's
//! requests by PUTting to the `ResponseURL` (here a local HTTP server standing in for the
//! pre-signed S3 URL), runs the migrations on Create, touches nothing on Delete, and
//! answers FAILED with the reason when they cannot run, so a stack never waits an hour.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use common::{config::DatabaseSettings, db, error::FunctionError, job::Deadline};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::mpsc,
};

use crate::support::{TestDb, database_url};

/// One request the stand-in for S3 received.
#[derive(Debug)]
struct Received {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: Value,
}

/// A local HTTP server answering every request with `status`; returns a pre-signed-looking
/// URL on it and what it receives.
async fn response_url_server(status: u16) -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                reader.read_line(&mut line).await.expect("request line");
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let target = parts.next().unwrap_or_default().to_owned();
                let mut headers = HashMap::new();
                loop {
                    line.clear();
                    reader.read_line(&mut line).await.expect("header line");
                    let header = line.trim_end_matches(['\r', '\n']);
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').expect("name: value");
                    headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
                }
                let length: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().expect("content-length"));
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.expect("body");
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                reader
                    .get_mut()
                    .write_all(reply.as_bytes())
                    .await
                    .expect("reply");
                let _sent = sender.send(Received {
                    method,
                    target,
                    headers,
                    body: serde_json::from_slice(&body).expect("JSON body"),
                });
            });
        }
    });
    (
        format!(
            "http://127.0.0.1:{port}/cloudformation-custom-resource-response/arn%3Aaws%3Acloudformation%7Cstack?X-Amz-Expires=7200&X-Amz-Signature=abc123"
        ),
        receiver,
    )
}

fn request(request_type: &str, response_url: &str) -> Value {
    let mut request = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:platform-migrate:live",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/platform/0b1d2e30-aaaa-11ef-8888-0a1b2c3d4e5f",
        "RequestId": format!("req-{request_type}"),
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "AWS::CloudFormation::CustomResource",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:platform-migrate:live",
            "CodeVersion": "arn:aws:lambda:us-east-1:123456789012:function:platform-migrate:3",
        },
    });
    if request_type != "Create" {
        request["PhysicalResourceId"] = json!("database-migrations");
    }
    request
}

/// A database of its own without any migration (the `TestDb` guard drops it).
async fn empty_db() -> TestDb {
    let server =
        DatabaseSettings::from_url(&secrecy::SecretString::from(database_url()), 4).expect("URL");
    let name = format!("it_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let settings = server.with_database(&name);
    db::create_database_if_missing(&settings)
        .await
        .expect("create database");
    let pool = db::connect(&settings).await.expect("connect");
    TestDb {
        pool,
        settings,
        name,
    }
}

async fn tables(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .fetch_all(&db.pool)
    .await
    .expect("tables")
}

async fn next(receiver: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), receiver.recv())
        .await
        .expect("an answer within 10 s")
        .expect("server running")
}

fn assert_echoes_request(received: &Received, request: &Value) {
    assert_eq!(received.method, "PUT");
    // The pre-signed URL's path and query reach S3 untouched (the signature covers them).
    let url = request["ResponseURL"].as_str().expect("url");
    assert!(
        url.ends_with(&received.target),
        "{} is the URL's path and query",
        received.target
    );
    assert_eq!(
        received.headers.get("content-type").map(String::as_str),
        Some(""),
        "an empty Content-Type, as the URL was signed: {:?}",
        received.headers
    );
    for field in ["StackId", "RequestId", "LogicalResourceId"] {
        assert_eq!(received.body[field], request[field], "{field} echoed");
    }
    assert_eq!(received.body["PhysicalResourceId"], "database-migrations");
}

#[tokio::test]
async fn custom_resource_create_applies_migrations_and_answers_success() {
    let db = empty_db().await;
    assert!(tables(&db).await.is_empty());
    let (url, mut answers) = response_url_server(200).await;
    let responder = migrate::Responder::new().expect("responder");
    let create = request("Create", &url);

    let result = migrate::handle(create.clone(), Deadline::none(), &responder, || {
        migrate::apply(&db.pool)
    })
    .await
    .expect("answered");

    let answer = next(&mut answers).await;
    assert_echoes_request(&answer, &create);
    assert_eq!(answer.body["Status"], "SUCCESS", "{:?}", answer.body);
    let migrations = db::MIGRATOR.iter().count();
    assert_eq!(
        answer.body["Data"]["AppliedMigrations"],
        migrations.to_string()
    );
    assert_eq!(result["Status"], "SUCCESS");
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
            .fetch_one(&db.pool)
            .await
            .expect("ledger");
    assert_eq!(
        usize::try_from(applied).expect("count"),
        migrations,
        "every migration applied"
    );
    let tables = tables(&db).await;
    for table in ["client_event", "import_file", "cctv_count", "api_token"] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }
    assert!(
        answers.try_recv().is_err(),
        "exactly one answer per request"
    );
}

#[tokio::test]
async fn custom_resource_delete_answers_success_and_touches_nothing() {
    let db = empty_db().await;
    let (url, mut answers) = response_url_server(200).await;
    let responder = migrate::Responder::new().expect("responder");
    let delete = request("Delete", &url);
    let ran = Arc::new(AtomicBool::new(false));

    let ran_in_work = Arc::clone(&ran);
    let pool = &db.pool;
    migrate::handle(
        delete.clone(),
        Deadline::none(),
        &responder,
        || async move {
            ran_in_work.store(true, Ordering::SeqCst);
            migrate::apply(pool).await
        },
    )
    .await
    .expect("answered");

    let answer = next(&mut answers).await;
    assert_echoes_request(&answer, &delete);
    assert_eq!(answer.body["Status"], "SUCCESS", "{:?}", answer.body);
    assert!(!ran.load(Ordering::SeqCst), "no migration on Delete");
    assert!(tables(&db).await.is_empty(), "the database is untouched");
}

#[tokio::test]
async fn custom_resource_with_an_unreachable_database_answers_failed_with_the_reason() {
    // Nothing listens on port 1: every connection attempt is refused.
    let unreachable = DatabaseSettings::from_url(
        &secrecy::SecretString::from("mysql://root@127.0.0.1:1/nowhere".to_owned()),
        1,
    )
    .expect("URL");
    let pool = db::lazy_pool(&unreachable);
    let (url, mut answers) = response_url_server(200).await;
    let responder = migrate::Responder::new().expect("responder");
    let update = request("Update", &url);

    // Delivered, so not an error for Lambda (a retry would only answer again).
    let result = migrate::handle(update.clone(), Deadline::none(), &responder, || {
        migrate::apply(&pool)
    })
    .await
    .expect("a FAILED answer was delivered");

    let answer = next(&mut answers).await;
    assert_echoes_request(&answer, &update);
    assert_eq!(answer.body["Status"], "FAILED", "{:?}", answer.body);
    let reason = answer.body["Reason"].as_str().expect("reason");
    assert!(
        reason.contains("timed out") || reason.contains("refused"),
        "the reason says what failed: {reason}"
    );
    assert_eq!(result["Status"], "FAILED");
}

#[tokio::test]
async fn custom_resource_migrations_cut_by_the_deadline_answer_failed_in_time() {
    let (url, mut answers) = response_url_server(200).await;
    let responder = migrate::Responder::new().expect("responder");
    let create = request("Create", &url);

    // Work that never ends (a migration stuck behind a lock) is cut at the deadline, so
    // the answer still goes out before Lambda would kill the function.
    migrate::handle(
        create.clone(),
        Deadline::after(Duration::from_millis(300)),
        &responder,
        std::future::pending::<Result<Value, FunctionError>>,
    )
    .await
    .expect("answered");

    let answer = next(&mut answers).await;
    assert_eq!(answer.body["Status"], "FAILED");
    let reason = answer.body["Reason"].as_str().expect("reason");
    assert!(reason.contains("did not finish"), "{reason}");
}

#[tokio::test]
async fn custom_resource_answer_not_accepted_is_an_error_so_lambda_retries() {
    let (url, mut answers) = response_url_server(403).await;
    let responder = migrate::Responder::new().expect("responder");
    let delete = request("Delete", &url);

    let error = migrate::handle(delete, Deadline::none(), &responder, || async {
        Ok(json!({}))
    })
    .await
    .expect_err("an undelivered answer fails the invocation");
    assert!(matches!(error, FunctionError::Retryable(_)), "{error}");
    assert!(error.to_string().contains("403"), "{error}");
    assert!(
        !error.to_string().contains("X-Amz-Signature"),
        "the pre-signed URL stays out of errors: {error}"
    );
    for _ in 0..3 {
        next(&mut answers).await;
    }
}

#[tokio::test]
async fn plain_invocation_still_applies_migrations_without_answering_anyone() {
    let db = empty_db().await;
    let responder = migrate::Responder::new().expect("responder");
    let result = migrate::handle(json!({}), Deadline::none(), &responder, || {
        migrate::apply(&db.pool)
    })
    .await
    .expect("applied");
    assert_eq!(
        result["applied"].as_array().expect("versions").len(),
        db::MIGRATOR.iter().count()
    );
}
