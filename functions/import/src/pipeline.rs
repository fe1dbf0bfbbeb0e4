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
    report::{ImportReport, ImportStatus, Reject, SkippedEntry},
    settings::ImportSettings,
    statement::{self, Origin},
    store::{self, Writer},
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
    /// Statements that failed validation, and lines or elements that were not JSON.
    rejected: u64,
    lost: u64,
    /// Rejections and lost parts with their archive position.
    rejects: Vec<(u64, Reject)>,
    /// Why the whole file cannot be imported, found while reading.
    failure: Option<String>,
}

/// What the writer found.
#[derive(Debug, Default)]
struct Written {
    inserted: u64,
    already_present: u64,
    duplicates_in_file: u64,
    rows: u64,
    conflicts: u64,
    /// The first conflicting copies with their archive position (the count is exact).
    conflict_rejects: Vec<(u64, Reject)>,
}

/// Times a file is re-read at once after its transaction lost a lock conflict.
///
/// The cleanup's chunks can deadlock with an import (InnoDB then rolls back the smaller
/// transaction, which early in a file is the import). The file was rolled back whole and
/// sits in the spool, so reading it again here is cheaper and quicker than an SQS
/// redelivery after the visibility time-out.
const LOCK_CONFLICT_RETRIES: u32 = 3;

/// Imports the zip at `path` as `source`. Idempotent: an object version whose ledger row
/// is `completed` is not read again, and statements already stored are not inserted twice.
/// A transaction that loses a lock conflict (deadlock, lock wait time-out) is rolled back
/// and the file read again, up to [`LOCK_CONFLICT_RETRIES`] times.
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
    common::db::retry_lock_conflicts(
        LOCK_CONFLICT_RETRIES,
        |error| tracing::warn!(key = %source.key, error = %error, "reading the file again"),
        || attempt(pool, settings, source, path, received_at),
    )
    .await
}

/// One try of [`import_file`]: one transaction.
async fn attempt(
    pool: &MySqlPool,
    settings: &ImportSettings,
    source: &Source,
    path: &Path,
    received_at: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let object_date = date_in_name(&source.key);
    let (mut report, completed) = start_attempt(pool, source, object_date).await?;
    if completed {
        return Ok(report);
    }
    let import_id = report.import_id;
    let mut tx = pool.begin().await?;
    store::strict_mode(&mut tx).await?;
    if ledger::lock(&mut tx, import_id).await? == Status::Completed {
        tx.rollback().await?;
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

    let mut writer = Writer::new(import_id);
    let mut written = Written::default();
    let mut write_error = None;
    while let Some(batch) = receiver.recv().await {
        match writer.write(&mut tx, &batch).await {
            Ok(outcome) => {
                written.inserted += outcome.inserted;
                written.already_present += outcome.already_present;
                written.duplicates_in_file += outcome.duplicates_in_file;
                written.rows += outcome.rows;
                written.conflicts += outcome.conflicts.len() as u64;
                written.conflict_rejects.extend(outcome.conflicts);
                // Both lists are in archive order, so the first of each are enough.
                written
                    .conflict_rejects
                    .truncate(settings.max_reported_rejects + 1);
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

    fill_report(&mut report, parsed, written, settings);
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if report.status == ImportStatus::Failed {
        tx.rollback().await?;
        ledger::fail(pool, import_id, &report).await?;
    } else {
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
        duplicates_in_file = report.duplicates_in_file,
        rejected = report.rejected,
        lost = report.lost,
        discarded = report.discarded,
        rows_written = report.rows_written,
        duration_ms = report.duration_ms,
        "import finished"
    );
    Ok(report)
}

/// Records an upload that cannot be imported as it is (too large for the import or for the
/// spool space) as failed, with `reason`, without reading it: a retry would only fail the
/// same way, so the object goes to `error/` with its report instead of to the DLQ.
///
/// # Errors
/// The database error.
pub async fn refuse_file(
    pool: &MySqlPool,
    source: &Source,
    reason: String,
) -> Result<ImportReport, ImportError> {
    let (mut report, completed) = start_attempt(pool, source, date_in_name(&source.key)).await?;
    if completed {
        return Ok(report);
    }
    report.status = ImportStatus::Failed;
    report.error = Some(reason);
    ledger::fail(pool, report.import_id, &report).await?;
    Ok(report)
}

/// Registers `source` in the ledger and, unless its row is already `completed` (then
/// `true`: nothing to do), counts an attempt. The report starts as "already imported"
/// with the ledger id; an import overwrites the status.
async fn start_attempt(
    pool: &MySqlPool,
    source: &Source,
    object_date: Option<chrono::NaiveDate>,
) -> Result<(ImportReport, bool), ImportError> {
    let (import_id, status) = ledger::register(pool, source, object_date).await?;
    let report = ImportReport {
        bucket: source.bucket.clone(),
        key: source.key.clone(),
        etag: source.etag.clone(),
        import_id,
        status: ImportStatus::AlreadyImported,
        ..ImportReport::default()
    };
    let completed = status == Status::Completed;
    if !completed {
        ledger::start_attempt(pool, import_id).await?;
    }
    Ok((report, completed))
}

/// Puts the counts of both sides into `report` and decides whether the file completes.
fn fill_report(
    report: &mut ImportReport,
    parsed: Parsed,
    written: Written,
    settings: &ImportSettings,
) {
    report.entries = parsed.entries;
    report.skipped_entries = parsed.skipped;
    report.statements_read = parsed.statements_read;
    report.inserted = written.inserted;
    report.already_present = written.already_present;
    report.duplicates_in_file = written.duplicates_in_file;
    report.rejected = parsed.rejected + written.conflicts;
    report.lost = parsed.lost;
    report.rows_written = written.rows;
    let mut rejects = parsed.rejects;
    rejects.extend(written.conflict_rejects);
    rejects.sort_by_key(|(ordinal, _)| *ordinal);
    report.rejects_truncated = rejects.len() > settings.max_reported_rejects;
    rejects.truncate(settings.max_reported_rejects);
    report.rejects = rejects.into_iter().map(|(_, r)| r).collect();

    let failure = parsed.failure.or_else(|| {
        if report.entries == 0 {
            Some("the archive holds no .json, .jsonl or .ndjson entries".to_owned())
        } else if report.statements_read == 0 {
            Some("the archive holds no statements".to_owned())
        } else if report.lost > 0 {
            Some(format!(
                "{} part(s) of the archive could not be split into statements (see the rejects marked lost); \
                 completing would drop the statements in them silently",
                report.lost
            ))
        } else if report.reject_share() > settings.max_reject_share {
            Some(format!(
                "{} of {} statements rejected ({:.1}%), more than the allowed {:.1}%",
                report.rejected,
                report.statements_read,
                report.reject_share() * 100.0,
                settings.max_reject_share * 100.0
            ))
        } else {
            None
        }
    });
    match failure {
        Some(error) => {
            report.status = ImportStatus::Failed;
            report.error = Some(error);
            // Nothing was kept: what would have been inserted is discarded.
            report.discarded = report.inserted;
            report.inserted = 0;
            report.rows_written = 0;
        }
        None => report.status = ImportStatus::Completed,
    }
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
    let max_statements = settings.max_statements;
    // Only the first rejections are kept (plus one to know there were more); counts stay exact.
    let note = |parsed: &mut Parsed, entry: &str, location: Location, reason: String| {
        if parsed.rejects.len() <= max_rejects {
            let ordinal = parsed.statements_read;
            parsed.rejects.push((
                ordinal,
                Reject {
                    entry: entry.to_owned(),
                    location,
                    reason,
                },
            ));
        }
    };
    let outcome = archive::walk(path, &settings.limits, |item| {
        if parsed.statements_read >= max_statements
            && matches!(item, Item::Statement { .. } | Item::Unreadable { .. })
        {
            parsed.failure = Some(format!(
                "more than {max_statements} statements in one file (IMPORT_MAX_STATEMENTS); \
                 split it into smaller files"
            ));
            return false;
        }
        match item {
            Item::EntryStart { name } => {
                parsed.entries += 1;
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
                parsed.statements_read += 1;
                parsed.rejected += 1;
                note(&mut parsed, entry, location, reason);
                true
            }
            Item::Lost {
                entry,
                location,
                reason,
            } => {
                parsed.statements_read += 1;
                parsed.lost += 1;
                note(&mut parsed, entry, location, format!("lost: {reason}"));
                true
            }
            Item::Statement {
                entry,
                location,
                value,
            } => {
                parsed.statements_read += 1;
                let origin = Origin {
                    entry_name: &entry_name,
                    entry_file_name: &entry_file_name,
                    named_log_date: entry_date,
                    received_at,
                };
                match statement::normalise(value, origin, &settings.rules) {
                    Ok(normalised) => {
                        let ordinal = parsed.statements_read;
                        match batcher.push(normalised, &entry_name, location, ordinal) {
                            Some(batch) => sender.blocking_send(batch).is_ok(),
                            None => true,
                        }
                    }
                    Err(rejection) => {
                        parsed.rejected += 1;
                        note(&mut parsed, entry, location, rejection.0);
                        true
                    }
                }
            }
        }
    });
    match outcome {
        Ok(_) | Err(ArchiveError::Stopped) => {}
        Err(e) => parsed.failure = Some(e.to_string()),
    }
    // Even when the file is failing: every statement read must land in a count, and the
    // writer is what tells a discarded statement from one already present.
    if let Some(batch) = batcher.finish() {
        // A closed channel means the writer failed; it reports that itself.
        let _sent = sender.blocking_send(batch);
    }
    parsed
}
