//! One import: a spooled zip into the learning tables, in one transaction, with its ledger.
//!
//! Parsing runs on a blocking thread and hands bounded batches over a small channel to the
//! writer, so decompression and JSON parsing overlap with the database round trips while
//! memory stays flat (at most a few batches in flight, whatever the archive size).
//!
//! The whole file is one transaction that also flips the ledger row to `completed`: either
//! every row of the file is visible and the ledger says so, or nothing is. A crash or a
//! lost database mid-way rolls back; the retry (Lambda's, or SQS redelivery) starts over.

use std::{path::Path, sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use common::business_time::date_in_name;
use sqlx::MySqlPool;
use tokio::sync::mpsc;

use crate::{
    archive::{self, ArchiveError, Item, Location},
    batch::{Batch, Batcher},
    ledger::{self, Source, Status},
    report::{ImportReport, Reject, SkippedEntry},
    settings::ImportSettings,
    statement::{self, Origin},
    store,
};

/// A failure a retry may cure. Permanent problems (a corrupt zip, too many rejects) are not
/// errors: they come back as a report with status `failed`.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("database error during import")]
    Database(#[from] sqlx::Error),
    #[error("the parsing thread failed: {0}")]
    Worker(String),
}

/// Batches in flight between the parser and the writer. Two keep both sides busy.
const CHANNEL_BATCHES: usize = 2;

/// What the parsing thread found.
#[derive(Debug, Default)]
struct Parsed {
    entries: u64,
    skipped: Vec<SkippedEntry>,
    statements_read: u64,
    invalid: u64,
    unreadable: u64,
    duplicates_in_file: u64,
    rejects: Vec<Reject>,
    rejects_truncated: bool,
    archive_error: Option<String>,
}

/// Imports the zip at `path` as `source`. Idempotent: an object version whose ledger row
/// is `completed` is not read again, and statements already stored are not inserted twice.
///
/// # Errors
/// [`ImportError`] for failures worth a retry (database, worker crash). Nothing of the file
/// is visible after an error.
pub async fn import_file(
    pool: &MySqlPool,
    settings: &ImportSettings,
    source: &Source,
    path: &Path,
    received_at: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let object_date = date_in_name(&source.key);
    let (import_id, status) = ledger::register(pool, source, object_date).await?;
    let mut report = ImportReport {
        bucket: source.bucket.clone(),
        key: source.key.clone(),
        etag: source.etag.clone(),
        import_id,
        ..ImportReport::default()
    };
    if status == Status::Completed {
        report.status = "already_imported".into();
        return Ok(report);
    }
    ledger::start_attempt(pool, import_id).await?;
    let mut tx = pool.begin().await?;
    if ledger::lock(&mut tx, import_id).await? == Status::Completed {
        tx.rollback().await?;
        report.status = "already_imported".into();
        return Ok(report);
    }

    let (sender, mut receiver) = mpsc::channel::<Batch>(CHANNEL_BATCHES);
    let parse_settings = settings.clone();
    let parse_path = path.to_owned();
    let parser = tokio::task::spawn_blocking(move || {
        parse(
            &parse_path,
            &parse_settings,
            object_date,
            received_at,
            &sender,
        )
    });

    let mut write_error = None;
    while let Some(batch) = receiver.recv().await {
        match store::write_batch(&mut tx, import_id, &batch).await {
            Ok(counts) => {
                report.inserted += counts.statements_inserted;
                report.rows_written += counts.rows;
            }
            Err(e) => {
                write_error = Some(e);
                break;
            }
        }
    }
    // Dropping the receiver makes the parser's next send fail, which stops it.
    drop(receiver);
    let parsed = parser
        .await
        .map_err(|e| ImportError::Worker(e.to_string()))?;
    if let Some(e) = write_error {
        tx.rollback().await.ok();
        return Err(e.into());
    }

    report.entries = parsed.entries;
    report.skipped_entries = parsed.skipped;
    report.statements_read = parsed.statements_read;
    report.rejected = parsed.invalid + parsed.unreadable;
    report.already_present = parsed.statements_read - parsed.invalid - report.inserted;
    report.duplicates_in_file = parsed.duplicates_in_file;
    report.rejects = parsed.rejects;
    report.rejects_truncated = parsed.rejects_truncated;

    let failure = if let Some(error) = parsed.archive_error {
        Some(error)
    } else if parsed.entries == 0 {
        Some("the archive holds no .json, .jsonl or .ndjson entries".to_owned())
    } else if report.reject_share() > settings.max_reject_share {
        Some(format!(
            "{} of {} statements rejected ({:.1}%), more than the allowed {:.1}%",
            report.rejected,
            report.statements_read.max(report.rejected),
            report.reject_share() * 100.0,
            settings.max_reject_share * 100.0
        ))
    } else {
        None
    };
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if let Some(error) = failure {
        tx.rollback().await?;
        report.status = "failed".into();
        report.error = Some(error);
        // Nothing was kept, so nothing counts as inserted.
        report.already_present += report.inserted;
        report.inserted = 0;
        report.rows_written = 0;
        ledger::fail(pool, import_id, &report).await?;
    } else {
        report.status = "completed".into();
        ledger::complete(&mut tx, import_id, &report).await?;
        tx.commit().await?;
    }
    tracing::info!(
        import_id,
        key = %source.key,
        status = %report.status,
        entries = report.entries,
        statements_read = report.statements_read,
        inserted = report.inserted,
        already_present = report.already_present,
        rejected = report.rejected,
        rows_written = report.rows_written,
        duplicates_in_file = report.duplicates_in_file,
        duration_ms = report.duration_ms,
        "import finished"
    );
    Ok(report)
}

/// The parsing side: walks the archive, validates statements, fills batches.
fn parse(
    path: &Path,
    settings: &ImportSettings,
    object_date: Option<chrono::NaiveDate>,
    received_at: DateTime<Utc>,
    sender: &mpsc::Sender<Batch>,
) -> Parsed {
    let mut parsed = Parsed::default();
    let mut batcher = Batcher::new(settings.batch_statements);
    let mut entry_name: Arc<str> = Arc::from("");
    let mut entry_file_name = String::new();
    let mut entry_date = object_date;
    let max_rejects = settings.max_reported_rejects;
    let note_reject = |parsed: &mut Parsed, entry: &str, location: Location, reason: String| {
        if parsed.rejects.len() < max_rejects {
            parsed.rejects.push(Reject {
                entry: entry.to_owned(),
                location,
                reason,
            });
        } else {
            parsed.rejects_truncated = true;
        }
    };
    let outcome = archive::walk(path, &settings.limits, |item| match item {
        Item::EntryStart { name } => {
            entry_name = Arc::from(name);
            entry_file_name = name.rsplit('/').next().unwrap_or(name).to_owned();
            entry_date = date_in_name(name).or(object_date);
            true
        }
        Item::Skipped { entry, reason } => {
            parsed.skipped.push(SkippedEntry {
                entry: entry.to_owned(),
                reason: reason.to_owned(),
            });
            true
        }
        Item::Unreadable {
            entry,
            location,
            reason,
        } => {
            parsed.unreadable += 1;
            note_reject(&mut parsed, entry, location, reason);
            true
        }
        Item::Statement {
            entry,
            location,
            value,
        } => {
            parsed.statements_read += 1;
            let origin = Origin {
                entry_file_name: &entry_file_name,
                named_log_date: entry_date,
                received_at,
            };
            match statement::normalise(value, origin, &settings.rules) {
                Ok(normalised) => {
                    let (kept, full) = batcher.push(normalised, &entry_name);
                    if !kept {
                        parsed.duplicates_in_file += 1;
                    }
                    match full {
                        Some(batch) => sender.blocking_send(batch).is_ok(),
                        None => true,
                    }
                }
                Err(rejection) => {
                    parsed.invalid += 1;
                    note_reject(&mut parsed, entry, location, rejection.0);
                    true
                }
            }
        }
    });
    match outcome {
        Ok(summary) => {
            parsed.entries = summary.entries;
            if let Some(batch) = batcher.finish() {
                // A closed channel means the writer failed; it reports that itself.
                let _sent = sender.blocking_send(batch);
            }
        }
        Err(ArchiveError::Stopped) => {}
        Err(e) => parsed.archive_error = Some(e.to_string()),
    }
    parsed
}
