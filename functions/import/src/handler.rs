//! The Lambda entry point: S3 notifications, directly or wrapped in SQS messages.
//!
//! Deployed, S3 sends `ObjectCreated` for `uploads/*.zip` to an SQS queue that triggers
//! this function (so bursts are buffered and failures land in a dead-letter queue); a
//! direct S3 trigger works too. For SQS the answer lists only the messages that failed
//! (`ReportBatchItemFailures`), so one bad message does not redeliver its neighbours.

use std::path::PathBuf;

use aws_lambda_events::{
    s3::{S3Event, S3EventRecord},
    sqs::{SqsBatchResponse, SqsEvent},
};
use chrono::{DateTime, Utc};
use common::{
    db::Database,
    error::{FunctionError, error_chain},
    sqs::{self, MessageError},
};
use serde::Serialize;
use serde_json::Value;

use crate::{
    ledger::{self, Source, Status},
    objects::{self, Download, ObjectError},
    pipeline::{self, ImportError},
    report::{ImportReport, ImportStatus},
    settings::ImportSettings,
};

/// What the handler needs, built once per execution environment.
#[derive(Debug, Clone)]
pub struct ImportDeps {
    /// The pool and where its credentials come from: a failure with MySQL's 1045 re-reads
    /// the secret (a rotation) and the object is tried once more.
    pub database: Database,
    pub s3: aws_sdk_s3::Client,
    pub settings: ImportSettings,
    /// Where uploads are spooled (Lambda's `/tmp`).
    pub spool_dir: PathBuf,
}

/// One object named by an S3 notification, with its key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub bucket: String,
    pub key: String,
    pub etag: Option<String>,
    pub size: Option<u64>,
    pub event_time: DateTime<Utc>,
}

/// S3 notification keys are URL-encoded with `+` for spaces; this undoes both.
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

fn object_event(record: &S3EventRecord) -> Result<ObjectEvent, FunctionError> {
    let bucket = record
        .s3
        .bucket
        .name
        .clone()
        .ok_or_else(|| FunctionError::InvalidEvent("record without bucket name".into()))?;
    let raw_key = record
        .s3
        .object
        .key
        .as_deref()
        .ok_or_else(|| FunctionError::InvalidEvent("record without object key".into()))?;
    Ok(ObjectEvent {
        bucket,
        key: decode_key(raw_key),
        etag: record
            .s3
            .object
            .e_tag
            .as_ref()
            .map(|t| t.trim_matches('"').to_owned())
            .filter(|t| !t.is_empty()),
        size: record.s3.object.size.and_then(|s| u64::try_from(s).ok()),
        event_time: record.event_time,
    })
}

/// The outcome for one object, as the function answers it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ObjectOutcome {
    pub bucket: String,
    pub key: String,
    pub status: ImportStatus,
    pub import_id: Option<u64>,
    pub inserted: u64,
    pub already_present: u64,
    pub rejected: u64,
    pub moved_to: Option<String>,
    pub report_key: Option<String>,
    pub error: Option<String>,
}

impl ObjectOutcome {
    fn bare(event: &ObjectEvent, status: ImportStatus) -> Self {
        Self {
            bucket: event.bucket.clone(),
            key: event.key.clone(),
            status,
            import_id: None,
            inserted: 0,
            already_present: 0,
            rejected: 0,
            moved_to: None,
            report_key: None,
            error: None,
        }
    }
}

/// A failure worth a retry while handling one object.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("spooling to local disk: {0}")]
    Spool(#[from] std::io::Error),
    #[error("database error while recording the move")]
    Ledger(#[from] sqlx::Error),
}

/// Handles any payload the function can receive.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] for a payload that is neither an S3 nor an SQS event;
/// [`FunctionError::Retryable`] when an object of a direct S3 event hit a transient failure.
pub async fn handle(payload: Value, deps: &ImportDeps) -> Result<Value, FunctionError> {
    if is_test_event(&payload) {
        tracing::info!("ignoring s3:TestEvent");
        return Ok(serde_json::json!({ "ignored": "s3:TestEvent" }));
    }
    let source = payload
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match source.as_str() {
        "aws:sqs" => {
            let event: SqsEvent = serde_json::from_value(payload)
                .map_err(|e| FunctionError::InvalidEvent(e.to_string()))?;
            to_json(&handle_sqs(event, deps).await)
        }
        "aws:s3" => {
            let event: S3Event = serde_json::from_value(payload)
                .map_err(|e| FunctionError::InvalidEvent(e.to_string()))?;
            to_json(&handle_s3(&event, deps).await?)
        }
        other => Err(FunctionError::InvalidEvent(format!(
            "expected an S3 or SQS event, got event source {other:?}"
        ))),
    }
}

fn to_json(answer: &impl Serialize) -> Result<Value, FunctionError> {
    serde_json::to_value(answer).map_err(FunctionError::retryable)
}

fn is_test_event(payload: &Value) -> bool {
    payload.get("Event").and_then(Value::as_str) == Some("s3:TestEvent")
}

/// Handles a direct S3 event: every record in turn; a transient failure fails the
/// invocation so Lambda retries it (records done before are then "already imported").
///
/// # Errors
/// [`FunctionError::Retryable`] on the first transient failure.
pub async fn handle_s3(
    event: &S3Event,
    deps: &ImportDeps,
) -> Result<Vec<ObjectOutcome>, FunctionError> {
    let mut outcomes = Vec::with_capacity(event.records.len());
    for record in &event.records {
        let object = object_event(record)?;
        let outcome = import_object(&object, deps).await.map_err(|e| {
            tracing::error!(key = %object.key, error = %error_chain(&e), "import failed; the event will be retried");
            FunctionError::retryable(e)
        })?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Handles an SQS batch whose bodies are S3 events; returns the ids of the messages to
/// redeliver. A body that is not an S3 event is a permanent failure: reported failed, so SQS
/// moves it to the dead-letter queue after its retries instead of dropping it.
///
/// One object at a time: each import holds a whole file in one transaction and spools it to
/// `/tmp`, so two at once would only double the disk and the locks (the queue's batch size
/// is 1 in the template anyway).
pub async fn handle_sqs(event: SqsEvent, deps: &ImportDeps) -> SqsBatchResponse {
    sqs::handle_batch(event, 1, |message| async move {
        handle_message(message.body.as_deref().unwrap_or_default(), deps).await
    })
    .await
}

async fn handle_message(body: &str, deps: &ImportDeps) -> Result<(), MessageError> {
    let payload: Value = serde_json::from_str(body)
        .map_err(|e| MessageError::permanent(format!("body is not JSON: {e}")))?;
    if is_test_event(&payload) {
        return Ok(());
    }
    let event: S3Event = serde_json::from_value(payload)
        .map_err(|e| MessageError::permanent(format!("body is not an S3 event: {e}")))?;
    if event.records.is_empty() {
        return Err(MessageError::permanent("S3 event without records"));
    }
    for record in &event.records {
        let object = object_event(record).map_err(|e| MessageError::permanent(e.to_string()))?;
        import_object(&object, deps)
            .await
            .map_err(MessageError::retryable)?;
    }
    Ok(())
}

/// [`process_object`], once more after a credentials re-read when it failed on MySQL's
/// 1045. Boxed: the import's future is large, and inline in the callers' futures it brings
/// the compiler's layout computation of `main` near its query-depth limit.
async fn import_object(
    object: &ObjectEvent,
    deps: &ImportDeps,
) -> Result<ObjectOutcome, ProcessError> {
    deps.database
        .retry_once_on_auth_failure(|| Box::pin(process_object(object, deps)))
        .await
}

/// Imports one object and moves it. Idempotent: a redelivered event finds the ledger row
/// completed (or the object already moved) and changes nothing.
///
/// # Errors
/// [`ProcessError`] for failures worth a retry; the object then stays in `uploads/`.
pub async fn process_object(
    event: &ObjectEvent,
    deps: &ImportDeps,
) -> Result<ObjectOutcome, ProcessError> {
    let settings = &deps.settings;
    let Some(rest) = event
        .key
        .strip_prefix(&settings.uploads_prefix)
        .filter(|r| r.to_ascii_lowercase().ends_with(".zip"))
    else {
        tracing::info!(key = %event.key, "ignored: not an uploads/*.zip object");
        return Ok(ObjectOutcome::bare(event, ImportStatus::Ignored));
    };
    let spool = tempfile::NamedTempFile::new_in(&deps.spool_dir)?;
    let download = objects::download(
        &deps.s3,
        &event.bucket,
        &event.key,
        event.etag.as_deref(),
        spool.path(),
        settings.max_object_bytes,
    )
    .await?;
    let source = |etag: String, size: Option<u64>| Source {
        bucket: event.bucket.clone(),
        key: event.key.clone(),
        etag: event.etag.clone().unwrap_or(etag),
        size,
    };
    let mut report = match download {
        Download::Spooled { etag, size } => {
            pipeline::import_file(
                deps.database.pool(),
                settings,
                &source(etag, Some(size)),
                spool.path(),
                event.event_time,
            )
            .await?
        }
        Download::Refused { etag, size, reason } => {
            tracing::warn!(key = %event.key, size, %reason, "upload refused");
            pipeline::refuse_file(deps.database.pool(), &source(etag, Some(size)), reason).await?
        }
        Download::Missing => return answer_from_ledger(event, deps).await,
        Download::Replaced => {
            tracing::info!(key = %event.key, "object replaced since this event; its own event imports the new version");
            return Ok(ObjectOutcome::bare(event, ImportStatus::Superseded));
        }
    };
    drop(spool);
    common::metrics::count("statements_imported", report.inserted);
    common::metrics::count("statements_rejected", report.rejected);
    let failed = report.status == ImportStatus::Failed;
    common::metrics::count("files_failed", u64::from(failed));

    let folder = if failed {
        &settings.error_prefix
    } else {
        &settings.completed_prefix
    };
    let destination = format!("{folder}{rest}");
    let report_key = (failed || report.rejected > 0 || !report.skipped_entries.is_empty())
        .then(|| format!("{destination}.report.json"));
    report.moved_to = Some(destination.clone());
    report.report_key.clone_from(&report_key);
    // The report goes first: if the function dies between the two, the object is still in
    // uploads/ and the retry writes both again.
    let already_imported = report.status == ImportStatus::AlreadyImported;
    if let Some(report_key) = &report_key
        && !already_imported
    {
        let body = serde_json::to_vec_pretty(&report).unwrap_or_default();
        objects::put_json(&deps.s3, &event.bucket, report_key, body).await?;
    }
    let moved = objects::move_object(&deps.s3, &event.bucket, &event.key, &destination).await?;
    if !already_imported {
        ledger::record_move(
            deps.database.pool(),
            report.import_id,
            moved.then_some(destination.as_str()),
            report_key.as_deref(),
        )
        .await?;
    }
    Ok(outcome_of(&report))
}

/// The answer for an event whose object is no longer in `uploads/`: an earlier delivery
/// imported (or failed) and moved it, and the ledger says how it ended and where it went.
async fn answer_from_ledger(
    event: &ObjectEvent,
    deps: &ImportDeps,
) -> Result<ObjectOutcome, ProcessError> {
    let found = match &event.etag {
        Some(etag) => {
            let source = Source {
                bucket: event.bucket.clone(),
                key: event.key.clone(),
                etag: etag.clone(),
                size: None,
            };
            ledger::find(deps.database.pool(), &source).await?
        }
        None => None,
    };
    let Some(entry) = found.filter(|e| e.status != Status::Processing) else {
        tracing::warn!(key = %event.key, "object not in uploads/ and never imported (deleted before the import?)");
        return Ok(ObjectOutcome::bare(event, ImportStatus::Missing));
    };
    let status = if entry.status == Status::Completed {
        ImportStatus::AlreadyImported
    } else {
        ImportStatus::Failed
    };
    tracing::info!(key = %event.key, import_id = entry.id, %status, moved_to = ?entry.moved_to, "already handled and moved");
    Ok(ObjectOutcome {
        import_id: Some(entry.id),
        inserted: entry.inserted,
        already_present: entry.already_present,
        rejected: entry.rejected,
        moved_to: entry.moved_to,
        report_key: entry.report_key,
        error: entry.error,
        ..ObjectOutcome::bare(event, status)
    })
}

fn outcome_of(report: &ImportReport) -> ObjectOutcome {
    ObjectOutcome {
        bucket: report.bucket.clone(),
        key: report.key.clone(),
        status: report.status,
        import_id: Some(report.import_id),
        inserted: report.inserted,
        already_present: report.already_present,
        rejected: report.rejected,
        moved_to: report.moved_to.clone(),
        report_key: if report.status == ImportStatus::AlreadyImported {
            None
        } else {
            report.report_key.clone()
        },
        error: report.error.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded_with_plus_as_space() {
        assert_eq!(
            decode_key("uploads/comLog/2024-05-01+day+one.zip"),
            "uploads/comLog/2024-05-01 day one.zip"
        );
        assert_eq!(
            decode_key("uploads/%E5%9C%8B%E5%B0%8F%2Bx.zip"),
            "uploads/國小+x.zip"
        );
    }

    #[test]
    fn the_sample_events_parse_and_name_their_objects() {
        let s3: S3Event = serde_json::from_str(include_str!("../../../events/import/s3-put.json"))
            .expect("s3 event");
        let object = object_event(&s3.records[0]).expect("record");
        assert_eq!(object.bucket, "learning-logs");
        assert_eq!(object.key, "uploads/comLog/2024-05-01 day.zip");
        let sqs: SqsEvent =
            serde_json::from_str(include_str!("../../../events/import/sqs-s3-put.json"))
                .expect("sqs event");
        let body: S3Event = serde_json::from_str(sqs.records[0].body.as_deref().expect("body"))
            .expect("wrapped s3 event");
        assert_eq!(
            object_event(&body.records[0]).expect("record").key,
            "uploads/comLog/2024-05-01 day.zip"
        );
        assert!(is_test_event(
            &serde_json::from_str(include_str!("../../../events/import/s3-test-event.json"))
                .expect("json")
        ));
    }
}
