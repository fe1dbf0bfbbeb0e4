//! Imports local zip files without S3 or the Lambda runtime (backfills, trials): the same
//! pipeline as the function, after the download step. The ledger records them under the
//! bucket name `local` and the file's SHA-256 as its ETag, so importing a file twice is a
//! no-op exactly as for uploads.

use std::{io::Read, path::PathBuf};

use anyhow::Context;
use clap::Parser;
use common::{config::Settings, db, telemetry};
use import::{ledger::Source, pipeline, settings::ImportSettings};
use sha2::{Digest, Sha256};

/// Import local xAPI zip files into the learning tables.
#[derive(Parser)]
struct Args {
    /// Zip files to import.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Apply pending migrations first.
    #[arg(long)]
    migrate: bool,
    /// Print the process's peak resident memory (`peak_rss_bytes=N`) at the end.
    #[arg(long)]
    peak_rss: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let args = Args::parse();
    let settings = Settings::from_env()?;
    let import_settings = ImportSettings::from_env(settings.business_time_zone)?;
    let pool = db::connect(&settings.database)
        .await
        .with_context(|| format!("connecting to {}", settings.database.target()))?;
    if args.migrate {
        db::MIGRATOR
            .run(&pool)
            .await
            .context("applying migrations")?;
    }
    let mut failed = false;
    for file in &args.files {
        let etag = sha256_of(file).with_context(|| format!("reading {}", file.display()))?;
        let size = std::fs::metadata(file)?.len();
        let source = Source {
            bucket: "local".into(),
            key: file.display().to_string(),
            etag,
            size: Some(size),
        };
        let report =
            pipeline::import_file(&pool, &import_settings, &source, file, chrono::Utc::now())
                .await
                .with_context(|| format!("importing {}", file.display()))?;
        failed |= report.status == import::report::ImportStatus::Failed;
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if args.peak_rss {
        println!("peak_rss_bytes={}", peak_rss_bytes().unwrap_or(0));
    }
    if failed {
        anyhow::bail!("at least one file failed; see its report above");
    }
    Ok(())
}

/// The kernel's high-water mark of this process's resident memory (Linux `VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn sha256_of(path: &PathBuf) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
