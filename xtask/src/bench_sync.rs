//! `make bench-sync`: the sync engine copying one generated table MySQL→MySQL and
//! MySQL→PostgreSQL, next to what an operator would use instead on the same table in the
//! same run: `mysqldump | mysql`, `SELECT … INTO OUTFILE` + `LOAD DATA INFILE`, and
//! `psql \copy` of that file into PostgreSQL.
//!
//! The engine's MySQL→MySQL copy also runs as the deployed functions run it: the job saved
//! as a config, a run queued on a real SQS queue (moto), and `channel` consumers, each a
//! sync-worker of its own taking one message at a time, as Lambda runs the queue's
//! messages with MaximumConcurrency = `channel`. Locally the consumers are tasks of one
//! process on a multi-threaded runtime (the machine's cores run them in parallel); in
//! AWS each is an execution environment. Its time is from queueing the run to the run's
//! `succeeded`: planning, every range message and the assembly included.
//!
//! Every copy lands in a database of its own, created empty for the run, and is checked
//! against the source (row count and a sum over every column) before its figure is
//! printed: a fast copy that lost rows would be no figure at all.

use std::{
    path::{Path, PathBuf},
    process::Command,
    str::FromStr,
    time::Instant,
};

use anyhow::{Context, bail, ensure};
use common::config::DatabaseSettings;
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sqlx::{Connection, Executor, MySqlPool, PgConnection, Row, mysql::MySqlConnectOptions};
use sync_engine::{
    endpoint::{AllowList, DbKind, Endpoint},
    job::Job,
    log::{DEFAULT_LOG_CAP_BYTES, RunLog},
    run::{Datasources, RunOptions, RunStatus, run as run_job},
    vault::PasswordCipher,
};

use sync_worker::{RunMessage, Worker, WorkerSettings};

use crate::bench_db::recreate;

const SOURCE_DB: &str = "bench_sync_src";
const ENGINE_DB: &str = "bench_sync_engine";
const DUMP_DB: &str = "bench_sync_dump";
const LOAD_DB: &str = "bench_sync_load";
const PG_ENGINE_DB: &str = "bench_sync_engine";
const PG_COPY_DB: &str = "bench_sync_copy";
const PLATFORM_DB: &str = "bench_sync_platform";
/// The channels of the runs through the workers.
pub const WORKER_CHANNELS: [u32; 3] = [1, 2, 4];

/// Ten columns of the kinds a business table has: keys, money, ratios, short and long
/// text (some NULL, some non-ASCII), a time with milliseconds, a date, a flag.
const MYSQL_DDL: &str = "CREATE TABLE t (
    id BIGINT NOT NULL PRIMARY KEY,
    user_id INT NOT NULL,
    amount DECIMAL(12,2) NOT NULL,
    ratio DOUBLE NULL,
    name VARCHAR(64) NOT NULL,
    note VARCHAR(255) NULL,
    created_at DATETIME(3) NOT NULL,
    day DATE NOT NULL,
    active TINYINT NOT NULL,
    score BIGINT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

const PG_DDL: &str = "CREATE TABLE t (
    id BIGINT NOT NULL PRIMARY KEY,
    user_id INTEGER NOT NULL,
    amount NUMERIC(12,2) NOT NULL,
    ratio DOUBLE PRECISION NULL,
    name VARCHAR(64) NOT NULL,
    note VARCHAR(255) NULL,
    created_at TIMESTAMP(3) NOT NULL,
    day DATE NOT NULL,
    active SMALLINT NOT NULL,
    score BIGINT NULL
)";

/// One line per column, summed: equal on both sides only when every value arrived.
/// Text is compared by its length in characters (the same function on both servers).
const MYSQL_CHECK: &str = "SELECT CAST(COUNT(*) AS CHAR), CAST(SUM(id) AS CHAR), CAST(SUM(user_id) AS CHAR), \
    CAST(SUM(amount) AS CHAR), CAST(ROUND(SUM(ratio), 3) AS CHAR), CAST(SUM(CHAR_LENGTH(name)) AS CHAR), \
    CAST(SUM(CHAR_LENGTH(note)) AS CHAR), CAST(COUNT(note) AS CHAR), \
    CAST(SUM(TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at) DIV 1000 % 1000000007) AS CHAR), \
    CAST(SUM(TO_DAYS(day)) AS CHAR), CAST(SUM(active) AS CHAR), CAST(SUM(score) AS CHAR) FROM t";
const PG_CHECK: &str = "SELECT COUNT(*)::text, SUM(id)::text, SUM(user_id)::text, SUM(amount)::text, \
    ROUND(SUM(ratio)::numeric, 3)::text, SUM(CHAR_LENGTH(name))::text, SUM(CHAR_LENGTH(note))::text, COUNT(note)::text, \
    SUM((EXTRACT(EPOCH FROM created_at) * 1000)::bigint % 1000000007)::text, \
    SUM(day - DATE '0001-01-01' + 366)::text, SUM(active)::text, SUM(score)::text FROM t";

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct SyncFigures {
    pub rows: u64,
    pub channel: u32,
    pub batch_size: u32,
    pub table_bytes: u64,
    pub fill_secs: f64,
    pub engine_mysql_secs: f64,
    pub dump_secs: f64,
    pub outfile_secs: f64,
    pub load_data_secs: f64,
    pub engine_pg_secs: f64,
    pub pg_copy_secs: f64,
    /// MySQL→MySQL through sync-worker invocations: (channel, seconds, ranges).
    pub workers_mysql: Vec<(u32, f64, u32)>,
    /// The same at 4 channels with the checkpoint table (exactly once for insert).
    pub workers_mysql_ledger_secs: f64,
    /// MySQL→PostgreSQL (COPY) through 4 worker invocations.
    pub workers_pg_secs: f64,
}

impl SyncFigures {
    fn rate(&self, secs: f64) -> f64 {
        self.rows as f64 / secs
    }
}

/// Where the benchmark finds the servers.
#[derive(Debug, Clone)]
pub struct Servers {
    /// The MySQL server, for the benchmark's own pools.
    pub mysql: DatabaseSettings,
    /// The same server, as the engine's jobs and the command-line tools name it.
    pub login: MysqlLogin,
    /// `postgres://user@host:port/db` of the PostgreSQL server (any database on it).
    pub postgres_url: String,
}

/// Host, port and credentials of a MySQL server.
#[derive(Debug, Clone)]
pub struct MysqlLogin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: SecretString,
}

impl MysqlLogin {
    /// The login of a `mysql://user[:password]@host[:port]/db` URL.
    ///
    /// # Errors
    /// A URL that does not parse.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let options = MySqlConnectOptions::from_str(url).context("DATABASE_URL does not parse")?;
        let userinfo = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('@'))
            .map_or("", |(userinfo, _)| userinfo);
        let password = userinfo
            .split_once(':')
            .map_or("", |(_, password)| password);
        Ok(Self {
            host: options.get_host().to_owned(),
            port: options.get_port(),
            user: options.get_username().to_owned(),
            password: SecretString::from(
                percent_decode_str(password)
                    .decode_utf8_lossy()
                    .into_owned(),
            ),
        })
    }
}

/// Runs the benchmark on `rows` generated rows with `channel` channels.
///
/// # Errors
/// A server or tool that fails, or a copy whose check does not match the source.
pub async fn run(
    servers: &Servers,
    rows: u64,
    channel: u32,
    batch_size: u32,
) -> anyhow::Result<SyncFigures> {
    let source = connect(&recreate(&servers.mysql, SOURCE_DB).await?).await?;
    let started = Instant::now();
    fill(&source, rows).await?;
    let fill_secs = started.elapsed().as_secs_f64();
    // Fresh statistics: information_schema's DATA_LENGTH is InnoDB's estimate, stale
    // right after the fill.
    sqlx::raw_sql("ANALYZE TABLE t").execute(&source).await?;
    let table_bytes: u64 = sqlx::query_scalar(
        "SELECT CAST(DATA_LENGTH AS UNSIGNED) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 't'",
    )
    .bind(SOURCE_DB)
    .fetch_one(&source)
    .await?;
    let expected = mysql_check(&source).await?;
    println!(
        "source: {rows} rows, {} MiB of data, filled in {fill_secs:.1} s",
        table_bytes >> 20
    );

    // The engine, MySQL → MySQL, into an empty table of the same definition.
    let engine = connect(&recreate(&servers.mysql, ENGINE_DB).await?).await?;
    engine.execute(MYSQL_DDL).await?;
    let login = &servers.login;
    let job = job_doc(
        login,
        channel,
        json!({"name": "mysqlwriter", "parameter": {
            "username": login.user, "password": login.password.expose_secret(),
            "writeMode": "insert", "batchSize": batch_size, "column": ["*"],
            "connection": [{"table": ["t"], "jdbcUrl": mysql_jdbc(login, ENGINE_DB)}]}}),
    );
    let engine_mysql_secs = timed_job(&job).await?;
    verify_mysql("engine MySQL→MySQL", &expected, engine).await?;
    println!("engine MySQL→MySQL: {engine_mysql_secs:.1} s");

    // mysqldump | mysql, as an operator copies a table between MySQL servers.
    let dump = connect(&recreate(&servers.mysql, DUMP_DB).await?).await?;
    let dump_secs = timed_shell(
        &format!(
            "mysqldump {conn} --single-transaction --quick {SOURCE_DB} t | mariadb {conn} {DUMP_DB}",
            conn = mysql_cli_args(login)
        ),
        login,
    )?;
    verify_mysql("mysqldump | mysql", &expected, dump).await?;
    println!("mysqldump | mysql: {dump_secs:.1} s");

    // SELECT … INTO OUTFILE, then LOAD DATA INFILE: the server's own bulk path (it needs
    // the FILE privilege and a server on the same file system, so not for RDS).
    let file = outfile_path();
    let _ = std::fs::remove_file(&file);
    let started = Instant::now();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM t INTO OUTFILE '{}'",
        file.display()
    )))
    .execute(&source)
    .await
    .context(
        "SELECT … INTO OUTFILE (needs the FILE privilege and secure_file_priv allowing /tmp)",
    )?;
    let outfile_secs = started.elapsed().as_secs_f64();
    let load = connect(&recreate(&servers.mysql, LOAD_DB).await?).await?;
    load.execute(MYSQL_DDL).await?;
    let started = Instant::now();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "LOAD DATA INFILE '{}' INTO TABLE t",
        file.display()
    )))
    .execute(&load)
    .await
    .context("LOAD DATA INFILE")?;
    let load_data_secs = started.elapsed().as_secs_f64();
    verify_mysql("INTO OUTFILE + LOAD DATA", &expected, load).await?;
    println!("INTO OUTFILE {outfile_secs:.1} s + LOAD DATA {load_data_secs:.1} s");

    // The engine, MySQL → PostgreSQL.
    let mut pg_engine = recreate_pg(&servers.postgres_url, PG_ENGINE_DB).await?;
    let job = job_doc(
        login,
        channel,
        json!({"name": "postgresqlwriter", "parameter": {
            "username": pg_user(&servers.postgres_url), "password": "",
            "batchSize": batch_size, "column": ["*"],
            "connection": [{"table": ["t"], "jdbcUrl": pg_jdbc(&servers.postgres_url, PG_ENGINE_DB)}]}}),
    );
    let engine_pg_secs = timed_job(&job).await?;
    ensure_same(
        "engine MySQL→PostgreSQL",
        &expected,
        &pg_check(&mut pg_engine).await?,
    )?;
    println!("engine MySQL→PostgreSQL: {engine_pg_secs:.1} s");

    // psql \copy of the OUTFILE's rows (tab-separated, \N for NULL: PostgreSQL's text
    // format) into PostgreSQL; the export's time is added to it below.
    let mut pg_copy = recreate_pg(&servers.postgres_url, PG_COPY_DB).await?;
    let pg_copy_secs = timed_shell(
        &format!(
            "psql '{}' -qc \"\\copy t FROM '{}'\"",
            pg_database_url(&servers.postgres_url, PG_COPY_DB),
            file.display()
        ),
        login,
    )?;
    ensure_same("psql \\copy", &expected, &pg_check(&mut pg_copy).await?)?;
    println!("psql \\copy: {pg_copy_secs:.1} s");

    // The same copies through sync-worker invocations.
    let platform = Platform::new(&servers.mysql).await?;
    let mut workers_mysql = Vec::new();
    for channel in WORKER_CHANNELS {
        let target = connect(&recreate(&servers.mysql, ENGINE_DB).await?).await?;
        target.execute(MYSQL_DDL).await?;
        let writer = platform.datasource(login, ENGINE_DB, false).await?;
        let reader = platform.datasource(login, SOURCE_DB, false).await?;
        let (secs, ranges) = platform
            .timed_run(
                &job_with(reader, channel, mysqlwriter(writer, batch_size)),
                channel,
            )
            .await?;
        verify_mysql(
            &format!("workers MySQL→MySQL, channel {channel}"),
            &expected,
            target,
        )
        .await?;
        println!("workers MySQL→MySQL, channel {channel} ({ranges} ranges): {secs:.1} s");
        workers_mysql.push((channel, secs, ranges));
    }
    let target = connect(&recreate(&servers.mysql, ENGINE_DB).await?).await?;
    target.execute(MYSQL_DDL).await?;
    let writer = platform.datasource(login, ENGINE_DB, true).await?;
    let reader = platform.datasource(login, SOURCE_DB, false).await?;
    let (workers_mysql_ledger_secs, _) = platform
        .timed_run(&job_with(reader, 4, mysqlwriter(writer, batch_size)), 4)
        .await?;
    verify_mysql("workers MySQL→MySQL with checkpoints", &expected, target).await?;
    println!("workers MySQL→MySQL, channel 4, checkpoint table: {workers_mysql_ledger_secs:.1} s");
    let mut pg_workers = recreate_pg(&servers.postgres_url, PG_ENGINE_DB).await?;
    let writer = platform
        .pg_datasource(&servers.postgres_url, PG_ENGINE_DB)
        .await?;
    let reader = platform.datasource(login, SOURCE_DB, false).await?;
    let (workers_pg_secs, _) = platform
        .timed_run(
            &job_with(
                reader,
                4,
                json!({"name": "postgresqlwriter", "parameter": {"datasourceId": writer,
                    "batchSize": batch_size, "column": ["*"], "connection": [{"table": ["t"]}]}}),
            ),
            4,
        )
        .await?;
    ensure_same(
        "workers MySQL→PostgreSQL",
        &expected,
        &pg_check(&mut pg_workers).await?,
    )?;
    println!("workers MySQL→PostgreSQL, channel 4: {workers_pg_secs:.1} s");
    drop(pg_workers);
    let _ = std::fs::remove_file(&file);
    drop(pg_engine);
    drop(pg_copy);
    source.close().await;

    Ok(SyncFigures {
        rows,
        channel,
        batch_size,
        table_bytes,
        fill_secs,
        engine_mysql_secs,
        dump_secs,
        outfile_secs,
        load_data_secs,
        engine_pg_secs,
        pg_copy_secs,
        workers_mysql,
        workers_mysql_ledger_secs,
        workers_pg_secs,
    })
}

/// The figures, each with its rate and its ratio to the baseline the issue names.
pub fn print(f: &SyncFigures) {
    let line = |label: &str, secs: f64| {
        println!("  {label:<44} {secs:>8.1} s {:>10.0} rows/s", f.rate(secs));
    };
    println!();
    println!(
        "sync benchmark: {} rows x 10 columns ({} MiB), engine with channel {}, batchSize {}",
        f.rows,
        f.table_bytes >> 20,
        f.channel,
        f.batch_size
    );
    println!(" MySQL → MySQL");
    line(
        "engine (mysqlreader → mysqlwriter, insert)",
        f.engine_mysql_secs,
    );
    line("baseline: mysqldump | mysql", f.dump_secs);
    line(
        "baseline: INTO OUTFILE + LOAD DATA INFILE",
        f.outfile_secs + f.load_data_secs,
    );
    println!(" MySQL → PostgreSQL");
    line("engine (mysqlreader → postgresqlwriter)", f.engine_pg_secs);
    line(
        "baseline: INTO OUTFILE + psql \\copy",
        f.outfile_secs + f.pg_copy_secs,
    );
    line("  of which psql \\copy alone", f.pg_copy_secs);
    let vs_dump = f.dump_secs / f.engine_mysql_secs;
    println!(" ratios (engine speed / baseline speed)");
    println!(
        "  MySQL→MySQL vs mysqldump | mysql             {vs_dump:>8.2}x (target >= 1.0 with one channel: {})",
        if f.channel != 1 {
            "measured with more than one channel"
        } else if vs_dump >= 1.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "  MySQL→MySQL vs INTO OUTFILE + LOAD DATA      {:>8.2}x",
        (f.outfile_secs + f.load_data_secs) / f.engine_mysql_secs
    );
    println!(
        "  MySQL→PostgreSQL vs OUTFILE + psql \\copy     {:>8.2}x",
        (f.outfile_secs + f.pg_copy_secs) / f.engine_pg_secs
    );
    println!(
        " MySQL → MySQL through sync-worker invocations (one queue message per range, `channel` consumers in parallel)"
    );
    for (channel, secs, ranges) in &f.workers_mysql {
        line(
            &format!("workers, channel {channel} ({ranges} ranges, insert)"),
            *secs,
        );
    }
    line(
        "workers, channel 4, insert + checkpoint table",
        f.workers_mysql_ledger_secs,
    );
    line(
        "workers MySQL→PostgreSQL, channel 4 (COPY)",
        f.workers_pg_secs,
    );
    println!(" ratios through the workers (vs mysqldump | mysql in this run)");
    for (channel, secs, _) in &f.workers_mysql {
        let ratio = f.dump_secs / secs;
        let target = if *channel == 4 {
            if ratio >= 1.5 {
                " (target >= 1.5: met)"
            } else {
                " (target >= 1.5: NOT met)"
            }
        } else {
            ""
        };
        println!("  channel {channel}                                     {ratio:>8.2}x{target}");
    }
    println!(
        "  channel 4 with the checkpoint table              {:>8.2}x",
        f.dump_secs / f.workers_mysql_ledger_secs
    );
    println!(
        "  MySQL→PostgreSQL channel 4 vs OUTFILE + \\copy    {:>8.2}x",
        (f.outfile_secs + f.pg_copy_secs) / f.workers_pg_secs
    );
    println!(
        " this machine: {} CPU threads, the database servers on the same machine",
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get)
    );
    println!(" DataX's published figures (other, larger machines; for reference only):");
    println!("  mysqlwriter, 1 channel, batchSize 2048-4096       ~31,250 rec/s");
    println!("  mysqlreader→mysqlwriter, 4 channels (24 cores)    ~80,000 rec/s");
    println!("  postgresqlwriter, 1 channel                        ~10,000 rec/s");
}

async fn connect(settings: &DatabaseSettings) -> anyhow::Result<MySqlPool> {
    common::db::connect(settings)
        .await
        .with_context(|| format!("connecting to {:?}", settings.database()))
}

/// `rows` rows in key order, generated by the server (two cross-joined thousands; no
/// recursive CTE beyond MariaDB's 1,000 iterations), a million per statement.
async fn fill(pool: &MySqlPool, rows: u64) -> anyhow::Result<()> {
    pool.execute(MYSQL_DDL).await?;
    sqlx::raw_sql(
        "CREATE TABLE k1000 (k INT NOT NULL PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO k1000 WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 999) SELECT k FROM n",
    )
    .execute(pool)
    .await?;
    let mut done = 0;
    while done < rows {
        let take = (rows - done).min(1_000_000);
        sqlx::query(
            "INSERT INTO t \
             SELECT n, n % 100000, ROUND((n * 7919 % 1000000) / 100, 2), \
                    IF(n % 11 = 0, NULL, (n % 1000) / 7), CONCAT('user-', n % 100000), \
                    IF(n % 5 = 0, NULL, CONCAT(IF(n % 3 = 0, '주문 메모 ', 'order note '), MD5(n))), \
                    TIMESTAMPADD(MICROSECOND, (n % 86400000) * 1000, '2026-01-01 00:00:00'), \
                    DATE_ADD('2020-01-01', INTERVAL n % 2000 DAY), n % 2, IF(n % 13 = 0, NULL, n * 31) \
             FROM (SELECT ? + a.k * 1000 + b.k + 1 AS n FROM k1000 a CROSS JOIN k1000 b \
                   WHERE a.k * 1000 + b.k < ?) g",
        )
        .bind(done)
        .bind(take)
        .execute(pool)
        .await
        .context("generating the source rows")?;
        done += take;
    }
    pool.execute("DROP TABLE k1000").await?;
    Ok(())
}

fn job_doc(mysql: &MysqlLogin, channel: u32, writer: serde_json::Value) -> serde_json::Value {
    json!({"job": {
        "setting": {"speed": {"channel": channel}, "errorLimit": {"record": 0}},
        "content": [{
            "reader": {"name": "mysqlreader", "parameter": {
                "username": mysql.user, "password": mysql.password.expose_secret(),
                "column": ["*"], "splitPk": "id",
                "connection": [{"table": ["t"], "jdbcUrl": [mysql_jdbc(mysql, SOURCE_DB)]}]}},
            "writer": writer
        }]
    }})
}

/// Runs a job as sync-worker does and answers its wall time.
async fn timed_job(doc: &serde_json::Value) -> anyhow::Result<f64> {
    let job = Job::parse(doc).map_err(|problems| anyhow::anyhow!("the job: {problems}"))?;
    let log = RunLog::new("bench", chrono_tz::Asia::Shanghai, DEFAULT_LOG_CAP_BYTES);
    let options = RunOptions::new(AllowList::loopback());
    let started = Instant::now();
    let report = run_job(&job, &Datasources::new(), &options, &log).await;
    let secs = started.elapsed().as_secs_f64();
    if report.status != RunStatus::Succeeded {
        bail!(
            "the engine's run {}: {}\n{}",
            report.status.as_str(),
            report.error.unwrap_or_default(),
            log.text()
        );
    }
    ensure!(
        report.summary.failed_records == 0,
        "the engine's run had {} dirty records",
        report.summary.failed_records
    );
    Ok(secs)
}

/// Runs `script` with `sh -o pipefail` (the password, if any, in MYSQL_PWD, never on the
/// command line) and answers its wall time.
fn timed_shell(script: &str, mysql: &MysqlLogin) -> anyhow::Result<f64> {
    let started = Instant::now();
    let status = Command::new("bash")
        .args(["-o", "pipefail", "-c", script])
        .env("MYSQL_PWD", mysql.password.expose_secret())
        .status()
        .with_context(|| format!("starting `{script}`"))?;
    ensure!(status.success(), "`{script}` failed: {status}");
    Ok(started.elapsed().as_secs_f64())
}

fn mysql_cli_args(mysql: &MysqlLogin) -> String {
    format!(
        "--protocol=TCP -h {} -P {} -u {}",
        mysql.host, mysql.port, mysql.user
    )
}

fn mysql_jdbc(mysql: &MysqlLogin, database: &str) -> String {
    format!("jdbc:mysql://{}:{}/{database}", mysql.host, mysql.port)
}

/// `postgres://user@host:port/db` → (user, host:port).
fn pg_parts(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (auth, rest) = rest.split_once('@').unwrap_or(("postgres", rest));
    let host_port = rest.split('/').next().unwrap_or("127.0.0.1:5432");
    let user = auth.split(':').next().unwrap_or("postgres");
    (user.to_owned(), host_port.to_owned())
}

fn pg_user(url: &str) -> String {
    pg_parts(url).0
}

fn pg_jdbc(url: &str, database: &str) -> String {
    format!("jdbc:postgresql://{}/{database}", pg_parts(url).1)
}

fn pg_database_url(url: &str, database: &str) -> String {
    let (user, host_port) = pg_parts(url);
    format!("postgres://{user}@{host_port}/{database}")
}

/// A PostgreSQL database created empty with the target table; the connection checks it.
async fn recreate_pg(server_url: &str, name: &str) -> anyhow::Result<PgConnection> {
    let mut admin = PgConnection::connect(server_url)
        .await
        .context("connecting to PostgreSQL (POSTGRES_URL)")?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    admin.close().await?;
    let mut conn = PgConnection::connect(&pg_database_url(server_url, name)).await?;
    conn.execute(PG_DDL).await?;
    Ok(conn)
}

async fn mysql_check(pool: &MySqlPool) -> anyhow::Result<Vec<String>> {
    row_texts(&sqlx::query(MYSQL_CHECK).fetch_one(pool).await?)
}

/// Checks a MySQL copy against the source, then closes its pool.
async fn verify_mysql(what: &str, expected: &[String], copy: MySqlPool) -> anyhow::Result<()> {
    ensure_same(what, expected, &mysql_check(&copy).await?)?;
    copy.close().await;
    Ok(())
}

async fn pg_check(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    row_texts(&sqlx::query(PG_CHECK).fetch_one(&mut *conn).await?)
}

/// Every column of a check row as text (NULL, a sum over no rows, as "").
fn row_texts<R: Row>(row: &R) -> anyhow::Result<Vec<String>>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (0..row.len())
        .map(|i| {
            row.try_get::<Option<String>, _>(i)
                .map(Option::unwrap_or_default)
                .map_err(Into::into)
        })
        .collect()
}

/// Both sides' checks must agree column for column: exactly, once decimals lose their
/// trailing zeros (the servers print sums at different scales), except the sum of the
/// DOUBLE column, which may differ in its last digit by summation order.
fn ensure_same(what: &str, expected: &[String], got: &[String]) -> anyhow::Result<()> {
    const RATIO_COLUMN: usize = 4;
    let normal = |text: &str| {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text.to_owned()
        }
    };
    let same = expected.len() == got.len()
        && expected.iter().zip(got).enumerate().all(|(i, (a, b))| {
            normal(a) == normal(b)
                || (i == RATIO_COLUMN
                    && matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if (x - y).abs() <= 0.01))
        });
    ensure!(
        same,
        "{what}: the copy differs from the source\n  source {expected:?}\n  copy   {got:?}"
    );
    Ok(())
}

/// Where the server writes the export: on this machine's /tmp (the local server's).
fn outfile_path() -> PathBuf {
    Path::new("/tmp").join(format!("bench-sync-{}.tsv", std::process::id()))
}

/// The writer of the worker runs: mysqlwriter by datasource, insert.
fn mysqlwriter(datasource: u64, batch_size: u32) -> serde_json::Value {
    json!({"name": "mysqlwriter", "parameter": {"datasourceId": datasource,
        "writeMode": "insert", "batchSize": batch_size, "column": ["*"],
        "connection": [{"table": ["t"]}]}})
}

/// A job reading the source table by datasource, `channel` ranges at once.
fn job_with(reader: u64, channel: u32, writer: serde_json::Value) -> serde_json::Value {
    json!({"job": {
        "setting": {"speed": {"channel": channel}, "errorLimit": {"record": 0}},
        "content": [{
            "reader": {"name": "mysqlreader", "parameter": {"datasourceId": reader,
                "column": ["*"], "splitPk": "id", "connection": [{"table": ["t"]}]}},
            "writer": writer
        }]
    }})
}

/// The platform the worker runs use: its migrated database, a queue and a bucket on the
/// local moto server (`AWS_ENDPOINT_URL`), a password key of its own.
struct Platform {
    pool: MySqlPool,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    queue_url: String,
    bucket: String,
    cipher: PasswordCipher,
}

impl Platform {
    async fn new(server: &DatabaseSettings) -> anyhow::Result<Self> {
        let pool = crate::bench_db::fresh_migrated(server, PLATFORM_DB, 16).await?;
        let endpoint = std::env::var("AWS_ENDPOINT_URL")
            .context("AWS_ENDPOINT_URL: the local moto server of the worker runs' queue")?;
        let sdk = crate::bench_db::moto_sdk_config().await;
        let sqs = common::aws::sqs_client(&sdk, Some(&endpoint));
        let s3 = common::aws::s3_client(&sdk, Some(&endpoint));
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("bench-sync-{suffix}"))
            .send()
            .await
            .context("creating the queue")?
            .queue_url
            .context("queue url")?;
        let bucket = format!("bench-sync-{suffix}");
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .context("creating the bucket")?;
        let cipher = PasswordCipher::from_key_text(&PasswordCipher::generate_key_hex())?;
        Ok(Self {
            pool,
            sqs,
            s3,
            queue_url,
            bucket,
            cipher,
        })
    }

    async fn save_datasource(
        &self,
        endpoint: &Endpoint,
        checkpoint_table: bool,
    ) -> anyhow::Result<u64> {
        let now = chrono::Utc::now().naive_utc();
        Ok(sqlx::query(
            "INSERT INTO datasource (source_name, db_type, host, port, db_name, username, password, \
             checkpoint_table, owner, insert_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'bench', ?, ?)",
        )
        .bind(format!("{}-{}", endpoint.database, uuid::Uuid::new_v4().simple()))
        .bind(endpoint.kind.as_str())
        .bind(&endpoint.host)
        .bind(endpoint.port)
        .bind(&endpoint.database)
        .bind(&endpoint.username)
        .bind(self.cipher.encrypt(endpoint.password.expose_secret()))
        .bind(checkpoint_table)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?
        .last_insert_id())
    }

    async fn datasource(
        &self,
        login: &MysqlLogin,
        database: &str,
        checkpoint_table: bool,
    ) -> anyhow::Result<u64> {
        let endpoint = Endpoint {
            kind: DbKind::Mysql,
            host: login.host.clone(),
            port: login.port,
            database: database.to_owned(),
            username: login.user.clone(),
            password: login.password.clone(),
        };
        self.save_datasource(&endpoint, checkpoint_table).await
    }

    async fn pg_datasource(&self, server_url: &str, database: &str) -> anyhow::Result<u64> {
        let options: sqlx::postgres::PgConnectOptions = server_url.parse()?;
        let endpoint = Endpoint {
            kind: DbKind::Postgresql,
            host: options.get_host().to_owned(),
            port: options.get_port(),
            database: database.to_owned(),
            username: options.get_username().to_owned(),
            password: SecretString::from(String::new()),
        };
        self.save_datasource(&endpoint, false).await
    }

    /// Saves `job` as a config, queues a run and runs it with `consumers` workers taking
    /// one message at a time; answers the seconds from queueing to `succeeded` and the
    /// run's ranges.
    async fn timed_run(
        &self,
        job: &serde_json::Value,
        consumers: u32,
    ) -> anyhow::Result<(f64, u32)> {
        let now = chrono::Utc::now().naive_utc();
        let config = sqlx::query(
            "INSERT INTO json_config (config_name, config_path, content, owner, insert_time, update_time) \
             VALUES (?, '', ?, 'bench', ?, ?)",
        )
        .bind(format!("bench-{}", uuid::Uuid::new_v4().simple()))
        .bind(job.to_string())
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?
        .last_insert_id();
        let started = Instant::now();
        let run = sqlx::query(
            "INSERT INTO exec_log (config_id, exec_name, status, owner, insert_date) VALUES (?, 'bench', 'queued', 'bench', ?)",
        )
        .bind(config)
        .bind(now)
        .execute(&self.pool)
        .await?
        .last_insert_id();
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(json!({"exec_log_id": run}).to_string())
            .send()
            .await
            .context("queueing the run")?;
        let mut consumers_set = tokio::task::JoinSet::new();
        for _ in 0..consumers {
            let worker = Worker {
                pool: self.pool.clone(),
                s3: self.s3.clone(),
                sqs: self.sqs.clone(),
                cipher: self.cipher.clone(),
                settings: WorkerSettings {
                    allow: AllowList::loopback(),
                    connect_timeout: std::time::Duration::from_secs(5),
                    zone: chrono_tz::Asia::Shanghai,
                    bucket: self.bucket.clone(),
                    deadline_margin: std::time::Duration::from_secs(60),
                    stale_secs: 1800,
                    result_max_bytes: 65_536,
                    queue_url: self.queue_url.clone(),
                    checkpoint_every: std::time::Duration::from_secs(10),
                    lease: std::time::Duration::from_secs(120),
                },
            };
            consumers_set.spawn(consume(
                worker,
                self.sqs.clone(),
                self.queue_url.clone(),
                run,
            ));
        }
        while let Some(done) = consumers_set.join_next().await {
            done??;
        }
        let secs = started.elapsed().as_secs_f64();
        let (status, error, ranges): (String, Option<String>, u32) =
            sqlx::query_as("SELECT status, error, ranges FROM exec_log WHERE id = ?")
                .bind(run)
                .fetch_one(&self.pool)
                .await?;
        ensure!(
            status == "succeeded",
            "the worker run {status}: {}",
            error.unwrap_or_default()
        );
        Ok((secs, ranges))
    }
}

/// One worker environment: takes one message at a time (the event source's batch of one)
/// until the run has ended.
async fn consume(
    worker: Worker,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    run: u64,
) -> anyhow::Result<()> {
    let until = Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        ensure!(Instant::now() < until, "the run did not end within an hour");
        let status: String = sqlx::query_scalar("SELECT status FROM exec_log WHERE id = ?")
            .bind(run)
            .fetch_one(&worker.pool)
            .await?;
        if status == "succeeded" || status == "failed" {
            return Ok(());
        }
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .context("receiving")?;
        for message in received.messages.unwrap_or_default() {
            let body: RunMessage = serde_json::from_str(message.body().unwrap_or_default())?;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(900);
            worker
                .handle_message(body, deadline)
                .await
                .map_err(|e| anyhow::anyhow!("{body:?}: {e}"))?;
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .context("deleting")?;
        }
    }
}
