//! The import benchmark: a generated zip of N statements through `import-local`, next to
//! MariaDB's own bulk path (`LOAD DATA LOCAL INFILE`) loading the very rows the import
//! wrote into empty copies of the same tables, measured in the same run.
//!
//! The import runs as a child process (the release `import-local`), so its peak resident
//! memory is its own; the rows are then dumped to tab-separated files in `LOAD DATA`'s
//! default format and loaded with the `mariadb` client.

use std::{
    fmt::Write as _,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, bail};
use common::config::DatabaseSettings;
use futures_util::TryStreamExt;
use sqlx::{MySqlPool, Row};

use crate::bench_db;

/// The nine learning tables, parents first.
pub const LEARNING_TABLES: [&str; 9] = [
    "actor",
    "action",
    "cookie",
    "tanet_info",
    "client_event",
    "event_info",
    "result",
    "video_info",
    "sentences",
];

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub statements: u64,
    pub work_dir: PathBuf,
    /// The `import-local` binary to measure (the release build).
    pub import_binary: PathBuf,
    pub server: DatabaseSettings,
    pub database_url: String,
}

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct BenchFigures {
    pub statements: u64,
    pub rows: u64,
    pub import_seconds: f64,
    pub peak_rss_bytes: u64,
    pub load_rows: u64,
    pub load_seconds: f64,
}

/// Runs the benchmark and returns its figures.
///
/// # Errors
/// Any step that fails (generation, import, dump, load), with what was being done.
pub async fn run(options: &BenchOptions) -> anyhow::Result<BenchFigures> {
    std::fs::create_dir_all(&options.work_dir)?;
    let import_db = "bench_import";
    let load_db = "bench_import_load";
    let admin = common::db::connect(&options.server.with_database(""))
        .await
        .context("connecting to the server")?;
    let pool = bench_db::fresh_migrated(&options.server, import_db, 2).await?;
    bench_db::recreate(&options.server, load_db).await?;

    let zip = options
        .work_dir
        .join(format!("2024-05-01-{}.zip", options.statements));
    if !zip.exists() {
        eprintln!(
            "generating {} statements into {}",
            options.statements,
            zip.display()
        );
        let mut generate = crate::generate::GenerateOptions::new(
            options.statements,
            chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default(),
            2024,
        );
        generate.entries = 8;
        crate::generate::write_zip(&generate, &zip)?;
    }

    eprintln!("importing with {}", options.import_binary.display());
    let url = with_database(&options.database_url, import_db);
    let started = Instant::now();
    let output = Command::new(&options.import_binary)
        .arg("--peak-rss")
        .arg(&zip)
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .output()
        .context("running import-local")?;
    let import_seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "import-local failed: {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let peak_rss_bytes = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_bytes="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let report_text = &stdout[stdout.find('{').unwrap_or(0)..=stdout.rfind('}').unwrap_or(0)];
    let report: serde_json::Value =
        serde_json::from_str(report_text).context("reading the import report")?;
    let statements = report["inserted"].as_u64().unwrap_or(0);
    let rows = report["rows_written"].as_u64().unwrap_or(0);

    eprintln!("dumping the imported rows");
    let mut files = Vec::new();
    let mut dumped = 0;
    for table in LEARNING_TABLES {
        let file = options.work_dir.join(format!("{table}.tsv"));
        let (count, load_columns) = dump_table(&pool, table, &file)
            .await
            .with_context(|| format!("dumping {table}"))?;
        dumped += count;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE `{load_db}`.`{table}` LIKE `{import_db}`.`{table}`"
        )))
        .execute(&admin)
        .await?;
        files.push((table, file, load_columns));
    }
    if dumped != rows {
        bail!("the import reported {rows} rows but the tables hold {dumped}");
    }

    eprintln!("loading the same rows with LOAD DATA LOCAL INFILE");
    let mut script = String::new();
    for (table, file, load_columns) in &files {
        writeln!(
            script,
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE `{table}` CHARACTER SET utf8mb4 {load_columns};",
            file.display()
        )?;
    }
    let (host, port, user, password) = server_parts(&options.server, &options.database_url);
    let started = Instant::now();
    let load = Command::new("mariadb")
        .args([
            "--local-infile=1",
            "--protocol=TCP",
            "-h",
            &host,
            "-P",
            &port.to_string(),
            "-u",
            &user,
            load_db,
            "-e",
            &script,
        ])
        .env("MYSQL_PWD", password)
        .output()
        .context("running the mariadb client")?;
    let load_seconds = started.elapsed().as_secs_f64();
    if !load.status.success() {
        bail!(
            "LOAD DATA failed: {}",
            String::from_utf8_lossy(&load.stderr)
        );
    }
    let mut load_rows = 0u64;
    for table in LEARNING_TABLES {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM `{load_db}`.`{table}`"
        )))
        .fetch_one(&admin)
        .await?;
        load_rows += u64::try_from(n).unwrap_or(0);
    }
    if load_rows != rows {
        bail!("LOAD DATA loaded {load_rows} rows, the import wrote {rows}");
    }
    Ok(BenchFigures {
        statements,
        rows,
        import_seconds,
        peak_rss_bytes,
        load_rows,
        load_seconds,
    })
}

fn with_database(url: &str, database: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    if prefix.ends_with('/') || prefix.ends_with(':') {
        format!("{base}/{database}")
    } else {
        format!("{prefix}/{database}")
    }
}

fn server_parts(settings: &DatabaseSettings, url: &str) -> (String, u16, String, String) {
    let target = settings.target().to_owned();
    let (user, rest) = target.split_once('@').unwrap_or(("root", &target));
    let host_port = rest.split('/').next().unwrap_or("127.0.0.1:3306");
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "3306"));
    // mysql://user:password@host…: the password is handed to the client through MYSQL_PWD.
    let credentials = url
        .split_once("://")
        .map_or("", |(_, rest)| rest.split('@').next().unwrap_or(""));
    let password = credentials
        .split_once(':')
        .map_or("", |(_, p)| p)
        .to_owned();
    (
        host.to_owned(),
        port.parse().unwrap_or(3306),
        user.to_owned(),
        password,
    )
}

/// Writes `table` in `LOAD DATA`'s default text format (tab-separated, `\N` for NULL,
/// backslash escapes) and returns its row count and the column list (with `SET` clauses)
/// that loads it back: binary columns travel as hex. Streams, so memory stays flat.
async fn dump_table(pool: &MySqlPool, table: &str, path: &Path) -> anyhow::Result<(u64, String)> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await?;
    let is_binary =
        |t: &str| t.eq_ignore_ascii_case("binary") || t.eq_ignore_ascii_case("varbinary");
    let select = columns
        .iter()
        .map(|(c, t)| {
            if is_binary(t) {
                format!("HEX(`{c}`)")
            } else {
                format!("CAST(`{c}` AS CHAR)")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let targets: Vec<String> = columns
        .iter()
        .map(|(c, t)| {
            if is_binary(t) {
                format!("@{c}")
            } else {
                format!("`{c}`")
            }
        })
        .collect();
    let sets: Vec<String> = columns
        .iter()
        .filter(|(_, t)| is_binary(t))
        .map(|(c, _)| format!("`{c}` = UNHEX(@{c})"))
        .collect();
    let mut load_columns = format!("({})", targets.join(", "));
    if !sets.is_empty() {
        load_columns.push_str(" SET ");
        load_columns.push_str(&sets.join(", "));
    }
    let sql = format!("SELECT {select} FROM `{table}`");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(pool);
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        for index in 0..columns.len() {
            if index > 0 {
                out.write_all(b"\t")?;
            }
            match row.try_get::<Option<String>, _>(index)? {
                None => out.write_all(b"\\N")?,
                Some(value) => {
                    for byte in value.bytes() {
                        match byte {
                            b'\\' => out.write_all(b"\\\\")?,
                            b'\t' => out.write_all(b"\\t")?,
                            b'\n' => out.write_all(b"\\n")?,
                            b'\r' => out.write_all(b"\\r")?,
                            0 => out.write_all(b"\\0")?,
                            other => out.write_all(&[other])?,
                        }
                    }
                }
            }
        }
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    Ok((count, load_columns))
}
