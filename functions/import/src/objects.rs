//! The S3 side of an import: spooling the upload to local disk, moving it to `completed/`
//! or `error/`, and writing the report beside it.

use std::path::Path;

use aws_sdk_s3::{Client, primitives::ByteStream};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::io::AsyncWriteExt;

/// An S3 failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("S3 {action} s3://{bucket}/{key} failed: {message}")]
pub struct ObjectError {
    pub action: &'static str,
    pub bucket: String,
    pub key: String,
    pub message: String,
}

fn object_error<E>(
    action: &'static str,
    bucket: &str,
    key: &str,
    error: &aws_sdk_s3::error::SdkError<E>,
) -> ObjectError
where
    E: std::error::Error + 'static,
{
    let message = match error.as_service_error() {
        Some(service) => service.to_string(),
        None => common::error::error_chain(error),
    };
    ObjectError {
        action,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    }
}

/// What a download found.
#[derive(Debug)]
pub enum Download {
    /// The object, spooled to disk; its ETag without quotes and its size.
    Spooled { etag: String, size: u64 },
    /// The object is gone (moved by an earlier delivery, or deleted).
    Missing,
    /// The object was replaced since the event: its own event will import the new version.
    Replaced,
    /// The object cannot be imported as it is: larger than the import accepts, or larger
    /// than the spool space left. A retry would fail the same way.
    Refused {
        etag: String,
        size: u64,
        reason: String,
    },
}

/// Streams `bucket/key` (the version with `expected_etag`, when given) into `file`, unless
/// it is larger than `max_bytes` or the disk fills up first.
///
/// # Errors
/// S3 or local disk failures worth a retry.
pub async fn download(
    client: &Client,
    bucket: &str,
    key: &str,
    expected_etag: Option<&str>,
    file: &Path,
    max_bytes: u64,
) -> Result<Download, ObjectError> {
    let mut request = client.get_object().bucket(bucket).key(key);
    if let Some(etag) = expected_etag {
        request = request.if_match(format!("\"{etag}\""));
    }
    let output = match request.send().await {
        Ok(output) => output,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            if e.as_service_error()
                .is_some_and(aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key)
                || status == Some(404)
            {
                return Ok(Download::Missing);
            }
            if status == Some(412) {
                return Ok(Download::Replaced);
            }
            return Err(object_error("GetObject", bucket, key, &e));
        }
    };
    let etag = output
        .e_tag()
        .map(|t| t.trim_matches('"').to_owned())
        .unwrap_or_default();
    let declared = output.content_length().and_then(|n| u64::try_from(n).ok());
    if let Some(size) = declared.filter(|size| *size > max_bytes) {
        return Ok(Download::Refused {
            etag,
            size,
            reason: too_large(size, max_bytes),
        });
    }
    let disk = |e: std::io::Error| ObjectError {
        action: "spool",
        bucket: bucket.into(),
        key: key.into(),
        message: e.to_string(),
    };
    let refused = |size: u64, e: &std::io::Error| Download::Refused {
        etag: etag.clone(),
        size: declared.unwrap_or(size),
        reason: format!(
            "the object does not fit the spool space ({e} after {size} bytes); \
                 raise the function's ephemeral storage or split the upload"
        ),
    };
    let mut out = tokio::io::BufWriter::new(tokio::fs::File::create(file).await.map_err(disk)?);
    let mut body = output.body;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ObjectError {
            action: "GetObject body",
            bucket: bucket.into(),
            key: key.into(),
            message: e.to_string(),
        })?;
        size += chunk.len() as u64;
        if size > max_bytes {
            // The declared length was missing or wrong.
            return Ok(Download::Refused {
                etag: etag.clone(),
                size,
                reason: too_large(size, max_bytes),
            });
        }
        if let Err(e) = out.write_all(&chunk).await {
            return if is_disk_full(&e) {
                Ok(refused(size, &e))
            } else {
                Err(disk(e))
            };
        }
    }
    if let Err(e) = out.flush().await {
        return if is_disk_full(&e) {
            Ok(refused(size, &e))
        } else {
            Err(disk(e))
        };
    }
    Ok(Download::Spooled { etag, size })
}

fn too_large(size: u64, max_bytes: u64) -> String {
    format!(
        "the object is {size} bytes, more than the {max_bytes} the import accepts \
         (IMPORT_MAX_OBJECT_BYTES); split the upload"
    )
}

/// Whether a write failed because the disk (or the function's ephemeral storage) is full.
fn is_disk_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Characters to escape in `x-amz-copy-source` (keys may hold spaces and non-ASCII).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Moves `from` to `to` in the same bucket (copy, then delete). Returns false when `from`
/// no longer exists (an earlier delivery moved it already).
///
/// # Errors
/// S3 failures other than a missing source.
pub async fn move_object(
    client: &Client,
    bucket: &str,
    from: &str,
    to: &str,
) -> Result<bool, ObjectError> {
    let source = format!("{bucket}/{}", utf8_percent_encode(from, COPY_SOURCE));
    if let Err(e) = client
        .copy_object()
        .bucket(bucket)
        .key(to)
        .copy_source(source)
        .send()
        .await
    {
        let status = e.raw_response().map(|r| r.status().as_u16());
        if status == Some(404) {
            return Ok(false);
        }
        return Err(object_error("CopyObject", bucket, from, &e));
    }
    client
        .delete_object()
        .bucket(bucket)
        .key(from)
        .send()
        .await
        .map_err(|e| object_error("DeleteObject", bucket, from, &e))?;
    Ok(true)
}

/// Writes a JSON document.
///
/// # Errors
/// S3 failures.
pub async fn put_json(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), ObjectError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| object_error("PutObject", bucket, key, &e))?;
    Ok(())
}
