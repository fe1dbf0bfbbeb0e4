//! The sync engine against the local MariaDB and PostgreSQL as sources and targets: every
//! common column type row for row (compared as text the servers render themselves, not
//! through the engine's own decoding), the original's three job JSONs, write modes, dirty
//! records within and beyond `errorLimit`, and a run stopped at an injected deadline.

use std::time::Duration;

use serde_json::{Value as Json, json};
use sqlx::{Connection, Executor, MySqlPool, PgConnection, PgPool};
use sync_engine::{
    endpoint::{AllowList, DbKind, Endpoint},
    job::{Job, Side},
    log::{DEFAULT_LOG_CAP_BYTES, RunLog},
    run::{Datasources, RunOptions, RunReport, RunStatus, run},
};

use crate::support::TestDb;

/// A PostgreSQL database of its own on the local server, dropped afterwards.
pub struct PgTestDb {
    pub pool: PgPool,
    pub name: String,
}

pub fn postgres_server_url() -> String {
    std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl PgTestDb {
    pub async fn new() -> Self {
        let name = format!("it_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let mut admin = PgConnection::connect(&postgres_server_url())
            .await
            .expect("PostgreSQL answers");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        let url = format!(
            "{}/{name}",
            postgres_server_url().rsplit_once('/').expect("a url").0
        );
        let pool = PgPool::connect(&url).await.expect("connect");
        Self { pool, name }
    }

    pub fn jdbc_url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        // psql rather than a connection of a runtime of its own: the test's runtime is blocked
        // in this drop, and FORCE ends the pool's sessions.
        let _dropped = std::process::Command::new("psql")
            .arg(postgres_server_url())
            .args([
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .status();
    }
}

pub fn mysql_endpoint(db: &TestDb) -> Endpoint {
    Endpoint {
        kind: DbKind::Mysql,
        host: "127.0.0.1".into(),
        port: 3306,
        database: db.name.clone(),
        username: "root".into(),
        password: secrecy::SecretString::from(String::new()),
    }
}

fn mysql_jdbc(db: &TestDb) -> String {
    format!("jdbc:mysql://127.0.0.1:3306/{}", db.name)
}

pub async fn run_job(
    doc: &Json,
    datasources: &Datasources,
    configure: impl FnOnce(&mut RunOptions),
) -> (RunReport, String) {
    let job = Job::parse(doc).unwrap_or_else(|p| panic!("valid job: {p}"));
    let mut options = RunOptions::new(AllowList::loopback());
    configure(&mut options);
    let log = RunLog::new("job-test", chrono_tz::Asia::Shanghai, DEFAULT_LOG_CAP_BYTES);
    let report = run(&job, datasources, &options, &log).await;
    (report, log.text())
}

async fn exec_mysql(pool: &MySqlPool, sql: &str) {
    pool.execute(sqlx::AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn exec_pg(pool: &PgPool, sql: &str) {
    pool.execute(sqlx::AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn texts_mysql(pool: &MySqlPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn texts_pg(pool: &PgPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

const MYSQL_TYPES: &str = "id BIGINT NOT NULL PRIMARY KEY, i TINYINT NULL, si SMALLINT NULL, u INT UNSIGNED NULL, \
     big BIGINT UNSIGNED NULL, amount DECIMAL(30,10) NULL, ratio DOUBLE NULL, txt VARCHAR(100) NULL, body TEXT NULL, \
     day DATE NULL, at DATETIME(6) NULL, tm TIME NULL, yr YEAR NULL, flag BIT(1) NULL, bin VARBINARY(16) NULL, doc BLOB NULL";

/// 300 generated rows plus edge rows: extremes, emoji, NULL in every column.
async fn fill_mysql_source(pool: &MySqlPool, table: &str) {
    exec_mysql(
        pool,
        &format!("CREATE TABLE {table} ({MYSQL_TYPES}) DEFAULT CHARSET=utf8mb4"),
    )
    .await;
    exec_mysql(pool, &format!(
        "INSERT INTO {table} WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 300) \
         SELECT k, k % 128, k * 7, k * 1000, k * 1000000007, k * 1.0000000001 + 0.5, k / 4, \
                CONCAT('row-', k, ' 한국어 😀'), REPEAT('x', k), DATE_ADD('2026-01-01', INTERVAL k DAY), \
                TIMESTAMPADD(MICROSECOND, k * 1234567, '2026-03-01 00:00:00'), SEC_TO_TIME(k * 61), 1901 + k % 200, \
                k % 2, UNHEX(LPAD(HEX(k), 8, '0')), REPEAT(CHAR(0, 255, k % 256 USING binary), 3) FROM n"
    ))
    .await;
    exec_mysql(pool, &format!(
        "INSERT INTO {table} VALUES \
         (1000, -128, -32768, 4294967295, 18446744073709551615, 12345678901234567890.0123456789, -1.5e300, '', '', '1000-01-01', '9999-12-31 23:59:59.999999', '-838:59:59', 2155, 0, '', ''), \
         (1001, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
    ))
    .await;
}

/// Every column rendered by MySQL itself, NULL as a marker.
fn mysql_rendering(table: &str) -> String {
    let columns = [
        "i", "si", "u", "big", "amount", "ratio", "txt", "body", "day", "at", "tm", "yr",
        "flag + 0", "HEX(bin)", "HEX(doc)",
    ];
    let parts: Vec<String> = columns
        .iter()
        .map(|c| format!("IFNULL(CAST({c} AS CHAR), '∅')"))
        .collect();
    format!(
        "SELECT CONCAT_WS('|', id, {}) FROM {table} ORDER BY id",
        parts.join(", ")
    )
}

fn mysql_to_mysql_job(
    source: &TestDb,
    target: &TestDb,
    extra_reader: Json,
    writer_table: &str,
    channel: u32,
) -> Json {
    let mut reader = json!({"username": "root", "password": "",
        "column": ["id", "i", "si", "u", "big", "amount", "ratio", "txt", "body", "day", "at", "tm", "yr", "flag", "bin", "doc"],
        "connection": [{"table": ["src"], "jdbcUrl": [mysql_jdbc(source)]}]});
    for (k, v) in extra_reader.as_object().expect("object") {
        reader[k] = v.clone();
    }
    json!({"job": {"setting": {"speed": {"channel": channel}, "errorLimit": {"record": 0}}, "content": [{
        "reader": {"name": "mysqlreader", "parameter": reader},
        "writer": {"name": "mysqlwriter", "parameter": {"username": "root", "password": "",
            "column": ["id", "i", "si", "u", "big", "amount", "ratio", "txt", "body", "day", "at", "tm", "yr", "flag", "bin", "doc"],
            "batchSize": 64, "preSql": ["DELETE FROM @table"],
            "connection": [{"table": [writer_table], "jdbcUrl": mysql_jdbc(target)}]}}
    }]}})
}

#[tokio::test]
async fn mysql_to_mysql_copies_every_common_type_row_for_row_with_split_ranges() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    fill_mysql_source(&source.pool, "src").await;
    exec_mysql(
        &target.pool,
        &format!("CREATE TABLE dst ({MYSQL_TYPES}) DEFAULT CHARSET=utf8mb4"),
    )
    .await;
    exec_mysql(&target.pool, "INSERT INTO dst (id) VALUES (424242)").await;
    let doc = mysql_to_mysql_job(&source, &target, json!({"splitPk": "id"}), "dst", 3);
    let (report, log) = run_job(&doc, &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    // 3 channels × 5 = 15 ranges, plus the NULL slice.
    assert_eq!(report.tasks, 16, "{log}");
    assert_eq!(report.summary.read_records, 302);
    assert_eq!(report.summary.written_records, 302);
    assert_eq!(report.summary.failed_records, 0);
    let expected = texts_mysql(&source.pool, &mysql_rendering("src")).await;
    let copied = texts_mysql(&target.pool, &mysql_rendering("dst")).await;
    assert_eq!(copied.len(), 302, "preSql emptied the target first");
    assert_eq!(copied, expected);
    for label in [
        "任务启动时刻",
        "任务结束时刻",
        "任务总计耗时",
        "任务平均流量",
        "记录写入速度",
        "读出记录总数",
        "读写失败总数",
    ] {
        assert!(log.contains(label), "{label} missing from the log:\n{log}");
    }
    assert!(
        log.contains(&format!("{:<26}: {:>19}", "读出记录总数", 302)),
        "{log}"
    );
}

#[tokio::test]
async fn write_modes_replace_and_update_overwrite_existing_keys() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    exec_mysql(
        &source.pool,
        "CREATE TABLE src (id INT PRIMARY KEY, v VARCHAR(20), w INT)",
    )
    .await;
    exec_mysql(
        &source.pool,
        "INSERT INTO src VALUES (1, 'new-1', 10), (2, 'new-2', 20), (3, 'new-3', 30)",
    )
    .await;
    for mode in ["replace", "update"] {
        exec_mysql(&target.pool, "DROP TABLE IF EXISTS dst").await;
        exec_mysql(&target.pool, "CREATE TABLE dst (id INT PRIMARY KEY, v VARCHAR(20), w INT, keep VARCHAR(10) DEFAULT 'kept')").await;
        exec_mysql(&target.pool, "INSERT INTO dst (id, v, w, keep) VALUES (1, 'old-1', 1, 'mine'), (9, 'old-9', 9, 'mine')").await;
        let doc = json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
            "reader": {"name": "mysqlreader", "parameter": {"username": "root", "password": "", "column": ["*"],
                "connection": [{"table": ["src"], "jdbcUrl": [mysql_jdbc(&source)]}]}},
            "writer": {"name": "mysqlwriter", "parameter": {"username": "root", "password": "", "writeMode": mode,
                "column": ["id", "v", "w"], "connection": [{"table": ["dst"], "jdbcUrl": mysql_jdbc(&target)}]}}
        }]}});
        let (report, log) = run_job(&doc, &Datasources::new(), |_| {}).await;
        assert_eq!(report.status, RunStatus::Succeeded, "{mode}: {log}");
        let rows = texts_mysql(
            &target.pool,
            "SELECT CONCAT_WS('|', id, v, w, IFNULL(keep, '∅')) FROM dst ORDER BY id",
        )
        .await;
        // REPLACE deletes and re-inserts (keep falls back to its default); UPDATE keeps it.
        let first = if mode == "replace" {
            "1|new-1|10|kept"
        } else {
            "1|new-1|10|mine"
        };
        assert_eq!(
            rows,
            [
                first,
                "2|new-2|20|kept",
                "3|new-3|30|kept",
                "9|old-9|9|mine"
            ],
            "{mode}"
        );
    }
}

#[tokio::test]
async fn mysql_to_postgresql_and_back_keep_every_value() {
    let source = TestDb::new().await;
    let pg = PgTestDb::new().await;
    let back = TestDb::new().await;
    exec_mysql(&source.pool, "CREATE TABLE src (id BIGINT PRIMARY KEY, small SMALLINT, n INT, amount DECIMAL(20,6), ratio DOUBLE, \
        txt VARCHAR(64), day DATE, at DATETIME(6), flag BIT(1), bin VARBINARY(16)) DEFAULT CHARSET=utf8mb4").await;
    exec_mysql(&source.pool, "INSERT INTO src VALUES \
        (1, -32768, 2147483647, 12345678901234.123456, 0.25, '한국어 😀 emoji', '2026-02-28', '2026-02-28 23:59:59.123456', 1, X'00FF10'), \
        (2, 0, -1, -0.000001, -1.5, '', '1970-01-01', '1970-01-01 00:00:00', 0, X''), \
        (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)").await;
    exec_pg(&pg.pool, "CREATE TABLE dst (id int8 PRIMARY KEY, small int2, n int4, amount numeric(20,6), ratio float8, \
        txt varchar(64), day date, at timestamp(6), flag bool, bin bytea)").await;
    let to_pg = json!({"job": {"setting": {"speed": {"channel": 2}, "errorLimit": {"record": 0}}, "content": [{
        "reader": {"name": "mysqlreader", "parameter": {"username": "root", "password": "", "column": ["*"], "splitPk": "id",
            "connection": [{"table": ["src"], "jdbcUrl": [mysql_jdbc(&source)]}]}},
        "writer": {"name": "postgresqlwriter", "parameter": {"username": "postgres", "password": "", "column": ["*"],
            "connection": [{"table": ["dst"], "jdbcUrl": pg.jdbc_url()}]}}
    }]}});
    let (report, log) = run_job(&to_pg, &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    let in_pg = texts_pg(&pg.pool, "SELECT concat_ws('|', id, coalesce(small::text, '∅'), coalesce(n::text, '∅'), coalesce(amount::text, '∅'), \
        coalesce(ratio::text, '∅'), coalesce(txt, '∅'), coalesce(day::text, '∅'), coalesce(to_char(at, 'YYYY-MM-DD HH24:MI:SS.US'), '∅'), \
        coalesce(flag::int::text, '∅'), coalesce(upper(encode(bin, 'hex')), '∅')) FROM dst ORDER BY id").await;
    let in_mysql = texts_mysql(&source.pool, "SELECT CONCAT_WS('|', id, IFNULL(CAST(small AS CHAR), '∅'), IFNULL(CAST(n AS CHAR), '∅'), \
        IFNULL(CAST(amount AS CHAR), '∅'), IFNULL(CAST(ratio AS CHAR), '∅'), IFNULL(txt, '∅'), IFNULL(CAST(day AS CHAR), '∅'), \
        IFNULL(DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), '∅'), IFNULL(CAST(flag + 0 AS CHAR), '∅'), IFNULL(HEX(bin), '∅')) FROM src ORDER BY id").await;
    assert_eq!(in_pg, in_mysql);

    // PostgreSQL → MySQL with the types PostgreSQL adds: timestamptz, text, bool, int8.
    exec_pg(
        &pg.pool,
        "CREATE TABLE extra (id int8 PRIMARY KEY, at timestamptz, body text, ok bool)",
    )
    .await;
    exec_pg(&pg.pool, "INSERT INTO extra VALUES (1, '2026-06-01 12:00:00.5+09', 'Grüße 😀', true), (2, NULL, NULL, NULL)").await;
    exec_mysql(&back.pool, "CREATE TABLE dst (id BIGINT PRIMARY KEY, small SMALLINT, n INT, amount DECIMAL(20,6), ratio DOUBLE, \
        txt VARCHAR(64), day DATE, at DATETIME(6), flag BIT(1), bin VARBINARY(16)) DEFAULT CHARSET=utf8mb4").await;
    exec_mysql(&back.pool, "CREATE TABLE extra (id BIGINT PRIMARY KEY, at DATETIME(3), body TEXT, ok TINYINT(1)) DEFAULT CHARSET=utf8mb4").await;
    for table in ["dst", "extra"] {
        let from_pg = json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
            "reader": {"name": "postgresqlreader", "parameter": {"username": "postgres", "password": "", "column": ["*"],
                "connection": [{"table": [table], "jdbcUrl": [pg.jdbc_url()]}]}},
            "writer": {"name": "mysqlwriter", "parameter": {"username": "root", "password": "", "column": ["*"],
                "connection": [{"table": [table], "jdbcUrl": mysql_jdbc(&back)}]}}
        }]}});
        let (report, log) = run_job(&from_pg, &Datasources::new(), |_| {}).await;
        assert_eq!(report.status, RunStatus::Succeeded, "{table}: {log}");
    }
    let round_trip = texts_mysql(&back.pool, &in_mysql_query("dst")).await;
    assert_eq!(
        round_trip,
        texts_mysql(&source.pool, &in_mysql_query("src")).await
    );
    let extra = texts_mysql(&back.pool, "SELECT CONCAT_WS('|', id, IFNULL(CAST(at AS CHAR), '∅'), IFNULL(body, '∅'), IFNULL(ok, '∅')) FROM extra ORDER BY id").await;
    assert_eq!(
        extra,
        ["1|2026-06-01 03:00:00.500|Grüße 😀|1", "2|∅|∅|∅"],
        "timestamptz arrives as UTC"
    );
}

fn in_mysql_query(table: &str) -> String {
    format!(
        "SELECT CONCAT_WS('|', id, IFNULL(CAST(small AS CHAR), '∅'), IFNULL(CAST(n AS CHAR), '∅'), IFNULL(CAST(amount AS CHAR), '∅'), \
        IFNULL(CAST(ratio AS CHAR), '∅'), IFNULL(txt, '∅'), IFNULL(CAST(day AS CHAR), '∅'), IFNULL(CAST(at AS CHAR), '∅'), \
        IFNULL(CAST(flag + 0 AS CHAR), '∅'), IFNULL(HEX(bin), '∅')) FROM {table} ORDER BY id"
    )
}

#[tokio::test]
async fn the_originals_three_jobs_run_against_local_servers() {
    let source = TestDb::new().await;
    let pg = PgTestDb::new().await;
    exec_mysql(&source.pool, "CREATE TABLE city (ID INT PRIMARY KEY, PROVINCE_ID INT, CITY_NAME VARCHAR(64), DESCRIPTION VARCHAR(255)) DEFAULT CHARSET=utf8mb4").await;
    exec_mysql(&source.pool, "INSERT INTO city VALUES (1, 11, '北京', '首都'), (2, 31, '上海', NULL), (3, 44, '广州', '')").await;
    // 1. mysqlreader → streamwriter, its setting inside content, as written.
    let first = json!({"job": {"content": [{"setting": {"speed": {"channel": 1}},
        "reader": {"name": "mysqlreader", "parameter": {"username": "root", "password": "",
            "column": ["ID", "PROVINCE_ID", "CITY_NAME", "DESCRIPTION"],
            "connection": [{"table": ["city"], "jdbcUrl": [mysql_jdbc(&source)]}]}},
        "writer": {"name": "streamwriter", "parameter": {"print": false, "encoding": "UTF-8"}}}]}});
    let (report, log) = run_job(&first, &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    assert_eq!(report.summary.read_records, 3);
    assert!(!log.contains("北京"), "print false prints nothing: {log}");

    // 2. streamreader → postgresqlwriter, with its misplaced sliceRecordCount and preSql.
    exec_pg(&pg.pool, "CREATE TABLE city (id text, name text)").await;
    exec_pg(&pg.pool, "CREATE TABLE test (x int)").await;
    exec_pg(&pg.pool, "INSERT INTO test VALUES (1)").await;
    let second = json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
        "reader": {"name": "streamreader", "parameter": {"column": [{"value": "DataX", "type": "string"}, {"value": "test", "type": "bytes"}]}},
        "writer": {"name": "postgresqlwriter", "parameter": {"username": "postgres", "password": "", "column": ["id", "name"],
            "sliceRecordCount": 1000, "preSql": ["delete from test"],
            "connection": [{"jdbcUrl": pg.jdbc_url(), "table": ["city"]}]}}}]}});
    let (report, log) = run_job(&second, &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    assert!(
        log.contains("sliceRecordCount"),
        "the leniencies are said in the log: {log}"
    );
    assert_eq!(
        texts_pg(&pg.pool, "SELECT id || '|' || name FROM city").await,
        ["DataX|test"]
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM test")
        .fetch_one(&pg.pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "preSql ran");

    // 3. streamreader → streamwriter, channel 5: 5 slices of 10 records, printed.
    let third = json!({"job": {"content": [{
        "reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 10,
            "column": [{"type": "long", "value": "10"}, {"type": "string", "value": "hello，你好，世界-DataX"}]}},
        "writer": {"name": "streamwriter", "parameter": {"encoding": "UTF-8", "print": true}}}],
        "setting": {"speed": {"channel": 5}}}});
    let (report, log) = run_job(&third, &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    assert_eq!(report.tasks, 5);
    assert_eq!(report.summary.read_records, 50);
    assert_eq!(
        log.lines()
            .filter(|l| *l == "10\thello，你好，世界-DataX")
            .count(),
        50,
        "{log}"
    );
}

#[tokio::test]
async fn dirty_records_are_counted_within_the_limit_and_fail_the_run_beyond_it() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    exec_mysql(
        &source.pool,
        "CREATE TABLE src (id INT PRIMARY KEY, qty VARCHAR(20), label VARCHAR(40))",
    )
    .await;
    exec_mysql(&source.pool, "INSERT INTO src WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 200) \
        SELECT k, CAST(k AS CHAR), CONCAT('ok-', k) FROM n").await;
    // Three rows the target refuses: two quantities that are not numbers (conversion), one
    // label too long for VARCHAR(8) (the server's strict mode, found by halving the batch).
    exec_mysql(
        &source.pool,
        "UPDATE src SET qty = 'many' WHERE id IN (17, 150)",
    )
    .await;
    exec_mysql(
        &source.pool,
        "UPDATE src SET label = 'far-too-long-for-eight' WHERE id = 99",
    )
    .await;
    exec_mysql(
        &target.pool,
        "CREATE TABLE dst (id INT PRIMARY KEY, qty INT, label VARCHAR(8))",
    )
    .await;
    let job = |limit: Json| {
        json!({"job": {"setting": {"speed": {"channel": 1}, "errorLimit": limit}, "content": [{
        "reader": {"name": "mysqlreader", "parameter": {"username": "root", "password": "", "column": ["id", "qty", "label"],
            "connection": [{"table": ["src"], "jdbcUrl": [mysql_jdbc(&source)]}]}},
        "writer": {"name": "mysqlwriter", "parameter": {"username": "root", "password": "", "column": ["id", "qty", "label"],
            "batchSize": 50, "preSql": ["TRUNCATE TABLE dst"],
            "connection": [{"table": ["dst"], "jdbcUrl": mysql_jdbc(&target)}]}}}]}})
    };
    let (report, log) = run_job(&job(json!({"record": 3})), &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    assert_eq!(report.summary.failed_records, 3, "{log}");
    assert_eq!(report.summary.written_records, 197);
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM dst WHERE id IN (17, 99, 150)")
        .fetch_all(&target.pool)
        .await
        .expect("ids");
    assert!(ids.is_empty(), "the dirty rows are not written: {ids:?}");
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dst")
        .fetch_one(&target.pool)
        .await
        .expect("count");
    assert_eq!(
        total, 197,
        "every other row of the refused batches is written"
    );
    assert_eq!(log.matches("dirty record (write)").count(), 3, "{log}");
    assert!(
        log.contains("far-too-long-for-eight") && log.contains("many"),
        "each dirty record says what and why: {log}"
    );

    let (report, log) = run_job(&job(json!({"record": 2})), &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Failed, "{log}");
    assert!(
        report
            .error
            .as_deref()
            .is_some_and(|e| e.contains("errorLimit.record")),
        "{:?}",
        report.error
    );
    assert!(
        log.contains("读写失败总数"),
        "the summary is written for a failed run too: {log}"
    );

    let (report, _) = run_job(
        &job(json!({"percentage": 0.01})),
        &Datasources::new(),
        |_| {},
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed, "3 of 200 is 1.5 % > 1 %");
    let (report, _) = run_job(
        &job(json!({"percentage": 0.02})),
        &Datasources::new(),
        |_| {},
    )
    .await;
    assert_eq!(
        report.status,
        RunStatus::Succeeded,
        "3 of 200 is within 2 %"
    );
}

#[tokio::test]
async fn a_run_stops_cleanly_at_its_deadline_and_says_what_is_left() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    exec_mysql(&source.pool, "CREATE TABLE src (id INT PRIMARY KEY, v INT)").await;
    exec_mysql(&source.pool, "INSERT INTO src WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 1000) \
        SELECT k + 1000 * m, k FROM n, (SELECT 0 AS m UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) four").await;
    exec_mysql(&target.pool, "CREATE TABLE dst (id INT PRIMARY KEY, v INT)").await;
    // 1,000 records a second for 4,000 records: a deadline after 1.5 s stops it midway.
    let doc = json!({"job": {"setting": {"speed": {"channel": 1, "record": 1000}}, "content": [{
        "reader": {"name": "mysqlreader", "parameter": {"username": "root", "password": "", "column": ["id", "v"], "splitPk": "id", "splitFactor": 2,
            "connection": [{"table": ["src"], "jdbcUrl": [mysql_jdbc(&source)]}]}},
        "writer": {"name": "mysqlwriter", "parameter": {"username": "root", "password": "", "column": ["id", "v"], "batchSize": 100,
            "connection": [{"table": ["dst"], "jdbcUrl": mysql_jdbc(&target)}]}}}]}});
    let (report, log) = run_job(&doc, &Datasources::new(), |o| {
        o.deadline = Some(tokio::time::Instant::now() + Duration::from_millis(1500));
    })
    .await;
    assert_eq!(report.status, RunStatus::Stopped, "{log}");
    assert!(!report.remaining.is_empty());
    let written: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dst")
        .fetch_one(&target.pool)
        .await
        .expect("count");
    assert_eq!(
        written as u64, report.summary.written_records,
        "every batch read was written before stopping"
    );
    assert!(written > 0 && written < 4000, "{written}");
    let first = &report.remaining[0];
    let resume = first
        .resume_after
        .expect("the range in progress says its last key");
    let max: i64 = sqlx::query_scalar("SELECT MAX(id) FROM dst")
        .fetch_one(&target.pool)
        .await
        .expect("max");
    assert_eq!(
        resume, max,
        "keys are written in order, so the checkpoint is the largest key written"
    );
    assert!(log.contains("deadline"), "{log}");
}

#[tokio::test]
async fn a_job_naming_datasources_uses_the_resolved_endpoints() {
    let (source, target) = (TestDb::new().await, TestDb::new().await);
    exec_mysql(
        &source.pool,
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10))",
    )
    .await;
    exec_mysql(&source.pool, "INSERT INTO t VALUES (1, 'a'), (2, 'b')").await;
    exec_mysql(
        &target.pool,
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10))",
    )
    .await;
    let doc = json!({"job": {"content": [{
        "reader": {"name": "mysqlreader", "parameter": {"datasourceId": 1, "column": ["id", "name"], "connection": [{"table": ["t"]}]}},
        "writer": {"name": "mysqlwriter", "parameter": {"datasourceId": 2, "column": ["id", "name"], "connection": [{"table": ["t"]}]}}}]}});
    let datasources = Datasources::from([
        (Side::Reader, mysql_endpoint(&source)),
        (Side::Writer, mysql_endpoint(&target)),
    ]);
    let (report, log) = run_job(&doc, &datasources, |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    assert_eq!(target.count("t").await, 2);
    // A host outside the allow-list is refused before any connection.
    let outside = Endpoint {
        host: "10.255.0.1".into(),
        ..mysql_endpoint(&target)
    };
    let refused = Datasources::from([
        (Side::Reader, mysql_endpoint(&source)),
        (Side::Writer, outside),
    ]);
    let (report, log) = run_job(&doc, &refused, |_| {}).await;
    assert_eq!(report.status, RunStatus::Failed, "{log}");
    assert!(
        report
            .error
            .as_deref()
            .is_some_and(|e| e.contains("allow-list")),
        "{:?}",
        report.error
    );
}

#[tokio::test]
async fn postgresql_targets_take_inserts_through_copy_with_every_special_value_and_dirty_rows() {
    let (source, target) = (PgTestDb::new().await, PgTestDb::new().await);
    exec_pg(
        &source.pool,
        "CREATE TABLE src (id int8 PRIMARY KEY, f float8, r float4, t text, b bytea, d date, ts timestamptz, u text)",
    )
    .await;
    // COPY's text format escapes backslash, tab, new line and carriage return; a literal
    // "\N" must stay text; floats keep NaN and infinities; years before 1 are BC.
    exec_pg(&source.pool, "INSERT INTO src VALUES \
        (1, 'NaN', 'Infinity', E'tab\\there\\nnew line\\r\\\\ and \\\\N', E'\\\\x005c0a09ff', '0044-03-15 BC', '2026-06-01 12:00:00.123456+09', '550e8400-e29b-41d4-a716-446655440000'), \
        (2, '-Infinity', '-0.1', '\\N', '\\x', '2026-02-28', '1970-01-01 00:00:00+00', NULL), \
        (3, 0.1, 1.5, '', NULL, NULL, NULL, NULL), \
        (4, 1e300, 3.4e38, 'refuse me', '\\x00', '2000-01-01', NULL, NULL), \
        (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL)").await;
    exec_pg(
        &target.pool,
        "CREATE TABLE dst (id int8 PRIMARY KEY, f float8, r float4, t text CHECK (t IS DISTINCT FROM 'refuse me'), \
         b bytea, d date, ts timestamptz, u uuid)",
    )
    .await;
    let job = json!({"job": {"setting": {"speed": {"channel": 1}, "errorLimit": {"record": 1}}, "content": [{
        "reader": {"name": "postgresqlreader", "parameter": {"username": "postgres", "password": "", "column": ["*"],
            "connection": [{"table": ["src"], "jdbcUrl": [source.jdbc_url()]}]}},
        "writer": {"name": "postgresqlwriter", "parameter": {"username": "postgres", "password": "", "column": ["*"],
            "batchSize": 4, "connection": [{"table": ["dst"], "jdbcUrl": target.jdbc_url()}]}}
    }]}});
    let (report, log) = run_job(&job, &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{log}");
    assert_eq!(report.summary.failed_records, 1, "{log}");
    assert_eq!(report.summary.written_records, 4);
    assert!(
        log.contains("dirty record (write)") && log.contains("refuse me"),
        "{log}"
    );
    let row = "SELECT concat_ws('|', id, coalesce(f::text, '∅'), coalesce(r::text, '∅'), coalesce(t, '∅'), \
        coalesce(encode(b, 'hex'), '∅'), coalesce(d::text, '∅'), coalesce(to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '∅'), \
        coalesce(u::text, '∅')) FROM {} WHERE id <> 4 ORDER BY id";
    let copied = texts_pg(&target.pool, &row.replace("{}", "dst")).await;
    let original = texts_pg(&source.pool, &row.replace("{}", "src")).await;
    assert_eq!(copied, original);
    assert_eq!(copied.len(), 4);
    assert!(
        copied[0].contains("tab\there\nnew line\r\\ and \\N"),
        "{copied:?}"
    );
}

#[tokio::test]
async fn update_into_postgresql_upserts_on_the_primary_key_and_reruns_change_nothing() {
    let source = TestDb::new().await;
    let target = PgTestDb::new().await;
    exec_mysql(
        &source.pool,
        "CREATE TABLE src (id INT PRIMARY KEY, name VARCHAR(20), qty INT)",
    )
    .await;
    exec_mysql(
        &source.pool,
        "INSERT INTO src VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', NULL)",
    )
    .await;
    exec_pg(
        &target.pool,
        "CREATE TABLE dst (id int4 PRIMARY KEY, name varchar(20), qty int4); \
         INSERT INTO dst VALUES (1, 'stale', 0), (9, 'kept', 99)",
    )
    .await;
    exec_pg(
        &target.pool,
        "CREATE TABLE nokey (id int4, name varchar(20), qty int4)",
    )
    .await;
    let job = |table: &str| {
        json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
        "reader": {"name": "mysqlreader", "parameter": {"username": "root", "password": "", "column": ["id", "name", "qty"],
            "connection": [{"table": ["src"], "jdbcUrl": [mysql_jdbc(&source)]}]}},
        "writer": {"name": "postgresqlwriter", "parameter": {"username": "postgres", "password": "", "writeMode": "update",
            "column": ["id", "name", "qty"], "connection": [{"table": [table], "jdbcUrl": target.jdbc_url()}]}}}]}})
    };
    for run in 0..2 {
        let (report, log) = run_job(&job("dst"), &Datasources::new(), |_| {}).await;
        assert_eq!(report.status, RunStatus::Succeeded, "run {run}: {log}");
        let rows = texts_pg(
            &target.pool,
            "SELECT concat_ws('|', id, name, coalesce(qty::text, '∅')) FROM dst ORDER BY id",
        )
        .await;
        assert_eq!(
            rows,
            ["1|one|10", "2|two|20", "3|three|∅", "9|kept|99"],
            "run {run}"
        );
    }
    let (report, _) = run_job(&job("nokey"), &Datasources::new(), |_| {}).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        report
            .error
            .as_deref()
            .is_some_and(|e| e.contains("needs a primary key")),
        "{:?}",
        report.error
    );
}
