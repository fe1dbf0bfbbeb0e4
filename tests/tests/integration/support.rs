//! Test fixtures: a throw-away database, S3/SQS clients for moto, generated archives.

use std::io::Write;

use aws_sdk_s3::primitives::ByteStream;
use common::{config::DatabaseSettings, db};
use import::{handler::ImportDeps, settings::ImportSettings};
use sqlx::{Connection, Executor, MySqlConnection, MySqlPool};

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/platform".into())
}

pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// A database of its own, migrated, dropped when the value is dropped.
pub struct TestDb {
    pub pool: MySqlPool,
    pub settings: DatabaseSettings,
    pub name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let server = DatabaseSettings::from_url(&secrecy::SecretString::from(database_url()), 4)
            .expect("DATABASE_URL parses");
        let name = format!("it_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let settings = server.with_database(&name);
        db::create_database_if_missing(&settings)
            .await
            .expect("create test database");
        let pool = db::connect(&settings)
            .await
            .expect("connect to test database");
        db::MIGRATOR.run(&pool).await.expect("migrations apply");
        Self {
            pool,
            settings,
            name,
        }
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let options = self.settings.connect_options().database("");
        let drop_sql = format!("DROP DATABASE IF EXISTS `{}`", self.name);
        let name = self.name.clone();
        // Drop runs outside async code; a short-lived runtime on its own thread does the I/O.
        let _joined = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = MySqlConnection::connect_with(&options).await {
                    // The test's runtime is blocked in this drop, so a pooled connection
                    // whose transaction ended in an error cannot flush its ROLLBACK and
                    // would hold a metadata lock on the database forever: end them first.
                    let open: Vec<u64> = sqlx::query_scalar(
                        "SELECT CAST(id AS UNSIGNED) FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                    )
                    .bind(&name)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
                    for id in open {
                        let _killed = conn
                            .execute(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
                            .await;
                    }
                    let _dropped = conn.execute(sqlx::AssertSqlSafe(drop_sql)).await;
                }
            });
        })
        .join();
    }
}

/// An SDK configuration for moto, with fixed test credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "integration-tests",
        ))
        .endpoint_url(endpoint())
        .load()
        .await
}

pub async fn s3() -> aws_sdk_s3::Client {
    common::aws::s3_client(&sdk_config().await, Some(&endpoint()))
}

pub async fn sqs() -> aws_sdk_sqs::Client {
    common::aws::sqs_client(&sdk_config().await, Some(&endpoint()))
}

/// Everything the queue holds, received and deleted (as a consumer that succeeded would).
pub async fn take_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return all;
        }
        for message in messages {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
            all.push(message);
        }
    }
}

/// A fresh bucket on moto.
pub async fn bucket(s3: &aws_sdk_s3::Client) -> String {
    let name = format!("it-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    s3.create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    name
}

pub async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) -> String {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("put object");
    out.e_tag().expect("etag").trim_matches('"').to_owned()
}

pub async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list");
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

pub async fn get_json(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> serde_json::Value {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get object");
    let bytes = out.body.collect().await.expect("body").into_bytes();
    serde_json::from_slice(&bytes).expect("report is JSON")
}

/// Handler dependencies on the test database and moto.
pub async fn deps(db: &TestDb) -> ImportDeps {
    ImportDeps {
        database: common::db::Database::from_pool(db.pool.clone()),
        s3: s3().await,
        settings: ImportSettings::defaults(chrono_tz::Asia::Taipei),
        spool_dir: std::env::temp_dir(),
    }
}

/// S3's own key encoding in notifications: `+` for spaces, percent-escapes for the rest.
pub fn encode_key(key: &str) -> String {
    key.split(' ')
        .map(|part| {
            percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace("%2F", "/")
                .replace("%2E", ".")
                .replace("%2D", "-")
                .replace("%5F", "_")
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// The sample S3 event of `events/import/`, pointed at `bucket`/`key`.
pub fn s3_event(bucket: &str, key: &str, etag: &str, size: usize) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/import/s3-put.json"))
            .expect("sample event");
    let s3 = &mut event["Records"][0]["s3"];
    s3["bucket"]["name"] = bucket.into();
    s3["bucket"]["arn"] = format!("arn:aws:s3:::{bucket}").into();
    s3["object"]["key"] = encode_key(key).into();
    s3["object"]["eTag"] = etag.into();
    s3["object"]["size"] = size.into();
    event
}

/// The sample SQS event of `events/import/` with these bodies as messages.
pub fn sqs_event(messages: &[(&str, String)]) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/import/sqs-s3-put.json"))
            .expect("sample event");
    let template = event["Records"][0].clone();
    event["Records"] = messages
        .iter()
        .map(|(id, body)| {
            let mut record = template.clone();
            record["messageId"] = (*id).into();
            record["body"] = body.clone().into();
            record
        })
        .collect();
    event
}

/// A generated day of logs as zip bytes.
pub fn generated_zip(statements: u64, seed: u64) -> Vec<u8> {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let date = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
    let mut options = xtask::generate::GenerateOptions::new(statements, date, seed);
    options.format = xtask::generate::EntryFormat::Mixed;
    xtask::generate::write_zip(&options, file.path()).expect("generate");
    std::fs::read(file.path()).expect("read zip")
}

/// A zip of the given entries.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start entry");
        writer.write_all(body).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

pub fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), bytes).expect("write");
    file
}

/// Imports a generated day of `statements` by `users` users from `{date}.zip` (so the
/// object name gives the log date), through the same path as the function after download.
pub async fn import_generated_day(
    pool: &MySqlPool,
    date: chrono::NaiveDate,
    statements: u64,
    users: u32,
    seed: u64,
) -> import::report::ImportReport {
    let settings = ImportSettings::defaults(chrono_tz::Asia::Taipei);
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let mut options = xtask::generate::GenerateOptions::new(statements, date, seed);
    options.users = Some(users);
    xtask::generate::write_zip(&options, file.path()).expect("generate");
    let source = import::ledger::Source {
        bucket: "local".into(),
        key: format!("uploads/{date}.zip"),
        etag: format!("etag-{date}-{seed}"),
        size: None,
    };
    import::pipeline::import_file(pool, &settings, &source, file.path(), chrono::Utc::now())
        .await
        .expect("import")
}
