//! CloudFormation custom-resource requests: how a deploy applies the migrations before any
//! new code serves.
//!
//! The template's `DatabaseMigrations` resource (`AWS::CloudFormation::CustomResource`)
//! names this function's alias as its `ServiceToken`, and every other function depends on
//! it, so CloudFormation updates them only after this function has answered SUCCESS.
//! CloudFormation invokes the function asynchronously with a request naming a pre-signed
//! S3 URL (`ResponseURL`) and then waits for a JSON answer PUT there, up to the resource's
//! `ServiceTimeout`. Hence the rule of this module: every request gets an answer, whatever
//! happens (a failed migration, a database that does not answer, a request type we do not
//! know, migrations still running near the Lambda deadline). Only an answer that cannot be
//! delivered is returned as an error, so that Lambda's retry of the asynchronous invocation
//! tries again; a FAILED answer that was delivered is a success for Lambda (a retry would
//! only answer a second time).
//!
//! - `Create`, `Update`: apply the pending migrations (idempotent, so a repeat is harmless).
//! - `Update` whose `CodeVersion` property is older than the previous one: a rollback.
//!   Migrations are forward-only, so the schema stays as it is; SUCCESS without doing
//!   anything (FAILED would leave the stack in `UPDATE_ROLLBACK_FAILED`).
//! - `Delete`: nothing; the database and its data outlive the stack.
//!
//! The `ResponseURL` is a capability (anyone holding it can answer for the stack): it is
//! never logged and never part of an error message.

use std::{future::Future, time::Duration};

use common::{error::FunctionError, job::Deadline};
use http_body_util::Full;
use hyper::{
    Method, Uri,
    body::Bytes,
    header::{CONTENT_LENGTH, CONTENT_TYPE},
};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The physical id of the one thing this resource stands for: the schema of the database.
/// Kept stable across updates (a new id would make CloudFormation send a `Delete` for the
/// old one).
pub const PHYSICAL_RESOURCE_ID: &str = "database-migrations";

/// Longest `Reason` sent: CloudFormation refuses answers over 4,096 bytes in all.
const MAX_REASON_BYTES: usize = 1024;

/// A custom-resource request, as CloudFormation sends it. Only `ResponseURL` is required to
/// answer at all; missing identifiers are echoed empty (CloudFormation then rejects the
/// answer, which it would anyway).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    #[serde(default)]
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    #[serde(default)]
    pub stack_id: String,
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
    #[serde(default)]
    pub old_resource_properties: Value,
}

impl Request {
    /// The request in `payload`, `None` when the payload is not a custom-resource request
    /// (no `ResponseURL`: a plain invocation).
    ///
    /// # Errors
    /// [`FunctionError::InvalidEvent`] when `ResponseURL` is there but the request does not
    /// read (then there is nowhere to answer).
    pub fn from_payload(payload: &Value) -> Option<Result<Self, FunctionError>> {
        payload.get("ResponseURL")?;
        Some(Self::deserialize(payload).map_err(|e| {
            FunctionError::InvalidEvent(format!("unreadable custom-resource request: {e}"))
        }))
    }
}

/// What a request asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Apply the pending migrations.
    Migrate,
    /// Answer SUCCESS without touching the database, for this reason.
    Skip(String),
    /// Answer FAILED, for this reason.
    Refuse(String),
}

/// Decides what `request` asks of us (no I/O).
pub fn action(request: &Request) -> Action {
    match request.request_type.as_str() {
        "Create" => Action::Migrate,
        "Update" => match (
            code_version(&request.resource_properties),
            code_version(&request.old_resource_properties),
        ) {
            (Some(new), Some(old)) if new < old => Action::Skip(format!(
                "rollback to code version {new} (from {old}): migrations are forward-only, the schema stays as it is"
            )),
            _ => Action::Migrate,
        },
        "Delete" => Action::Skip(
            "Delete: the database and its data outlive the stack; migrations are never undone"
                .into(),
        ),
        other => Action::Refuse(format!("unknown RequestType {other:?}")),
    }
}

/// The published Lambda version number at the end of the `CodeVersion` property (a version
/// ARN, `arn:…:function:name:7`, or the bare number).
fn code_version(properties: &Value) -> Option<u64> {
    let text = match properties.get("CodeVersion")? {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    text.rsplit(':').next()?.parse().ok()
}

/// The answer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// The answer CloudFormation reads from the `ResponseURL`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    /// Attributes for `!GetAtt DatabaseMigrations.<name>`; strings, as CloudFormation wants.
    pub data: Value,
}

impl Response {
    /// The answer to `request` with this outcome; the reason is cut to fit the size limit.
    pub fn to(request: &Request, status: Status, reason: &str, data: Value) -> Self {
        Self {
            status,
            reason: truncate(reason, MAX_REASON_BYTES),
            physical_resource_id: request
                .physical_resource_id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| PHYSICAL_RESOURCE_ID.to_owned()),
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            no_echo: false,
            data,
        }
    }
}

fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Where the logs of this invocation are, for a FAILED reason (CloudFormation shows it in
/// the stack's events; the details are in the log).
fn log_location() -> String {
    match (
        std::env::var("AWS_LAMBDA_LOG_GROUP_NAME"),
        std::env::var("AWS_LAMBDA_LOG_STREAM_NAME"),
    ) {
        (Ok(group), Ok(stream)) => format!(" (log: {group} {stream})"),
        _ => String::new(),
    }
}

/// Answers `request`: decides, runs `migrate` when asked (bounded by `deadline`), and PUTs
/// the answer. Returns what was answered.
///
/// # Errors
/// [`FunctionError::Retryable`] only when the answer could not be delivered.
pub async fn answer<F, Fut>(
    request: Request,
    deadline: Deadline,
    responder: &Responder,
    migrate: F,
) -> Result<Value, FunctionError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Value, FunctionError>>,
{
    tracing::info!(
        request_type = %request.request_type,
        logical_resource_id = %request.logical_resource_id,
        request_id = %request.request_id,
        stack_id = %request.stack_id,
        "custom-resource request"
    );
    let response = match action(&request) {
        Action::Migrate => {
            let outcome = match deadline.remaining() {
                Some(left) => tokio::time::timeout(left, migrate())
                    .await
                    .unwrap_or_else(|_| {
                        Err(FunctionError::retryable(format!(
                            "migrations did not finish within {}s, before the function's time-out; \
                             they may still be running on the server: check _sqlx_migrations",
                            left.as_secs()
                        )))
                    }),
                None => migrate().await,
            };
            match outcome {
                Ok(applied) => Response::to(
                    &request,
                    Status::Success,
                    "migrations applied",
                    data(&applied),
                ),
                Err(error) => {
                    let reason =
                        format!("{}{}", common::error::error_chain(&error), log_location());
                    tracing::error!(%reason, "migrations failed; answering FAILED");
                    Response::to(&request, Status::Failed, &reason, json!({}))
                }
            }
        }
        Action::Skip(reason) => Response::to(&request, Status::Success, &reason, json!({})),
        Action::Refuse(reason) => {
            tracing::error!(%reason, "refusing the custom-resource request");
            Response::to(&request, Status::Failed, &reason, json!({}))
        }
    };
    responder
        .send(&request.response_url, &response)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not answer CloudFormation");
            FunctionError::retryable(e)
        })?;
    tracing::info!(status = ?response.status, reason = %response.reason, "answered CloudFormation");
    Ok(json!({
        "RequestType": request.request_type,
        "Status": response.status,
        "Reason": response.reason,
        "Data": response.data,
    }))
}

/// `{"applied": [versions]}` from [`crate::apply`] as custom-resource attributes.
fn data(applied: &Value) -> Value {
    let versions = applied
        .get("applied")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    json!({
        "AppliedMigrations": versions.len().to_string(),
        "LatestMigration": versions.last().map(ToString::to_string).unwrap_or_default(),
    })
}

/// Why an answer could not be delivered. Never includes the URL.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("no TLS trust roots: {0}")]
    Tls(#[source] std::io::Error),
    #[error("the ResponseURL is not a URL: {0}")]
    Url(String),
    #[error("could not build the request: {0}")]
    Request(String),
    #[error("PUT to the ResponseURL failed: {0}")]
    Http(String),
    #[error("PUT to the ResponseURL answered HTTP {0}")]
    Status(u16),
    #[error("PUT to the ResponseURL took longer than {0:?}")]
    Timeout(Duration),
}

/// PUTs answers to pre-signed URLs (HTTPS in AWS; plain HTTP for local tests), with the
/// HTTP stack the AWS SDK already links.
#[derive(Clone)]
pub struct Responder {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    attempts: u32,
    attempt_timeout: Duration,
}

impl Responder {
    /// A client trusting the system's roots (the Lambda image's CA bundle).
    ///
    /// # Errors
    /// [`ResponseError::Tls`] when no usable root certificate is found.
    pub fn new() -> Result<Self, ResponseError> {
        // Explicit provider: rustls links both aws-lc-rs (the SDK) and ring (sqlx), so it
        // cannot pick a process default by itself.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(ResponseError::Tls)?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            attempts: 3,
            attempt_timeout: Duration::from_secs(15),
        })
    }

    /// PUTs `response` as JSON to `url`, a few times if S3 does not accept it at once.
    ///
    /// # Errors
    /// The last attempt's failure.
    pub async fn send(&self, url: &str, response: &Response) -> Result<(), ResponseError> {
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| ResponseError::Url(e.to_string()))?;
        let body = Bytes::from(
            serde_json::to_vec(response).map_err(|e| ResponseError::Request(e.to_string()))?,
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The URL was signed without a content type, so the request must carry an empty
            // one (a default such as application/json would break the signature).
            let request = hyper::Request::builder()
                .method(Method::PUT)
                .uri(uri.clone())
                .header(CONTENT_TYPE, "")
                .header(CONTENT_LENGTH, body.len())
                .body(Full::new(body.clone()))
                .map_err(|e| ResponseError::Request(e.to_string()))?;
            let error = match tokio::time::timeout(
                self.attempt_timeout,
                self.client.request(request),
            )
            .await
            {
                Ok(Ok(answer)) if answer.status().is_success() => return Ok(()),
                Ok(Ok(answer)) => ResponseError::Status(answer.status().as_u16()),
                Ok(Err(e)) => ResponseError::Http(common::error::error_chain(&e)),
                Err(_) => ResponseError::Timeout(self.attempt_timeout),
            };
            if attempt >= self.attempts {
                return Err(error);
            }
            tracing::warn!(attempt, error = %error, "answering CloudFormation failed; retrying");
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(request_type: &str, new: Option<&str>, old: Option<&str>) -> Request {
        let mut payload = json!({
            "RequestType": request_type,
            "ResponseURL": "http://127.0.0.1:1/answer",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "RequestId": "r-1",
            "LogicalResourceId": "DatabaseMigrations",
            "ResourceProperties": {},
        });
        if let Some(new) = new {
            payload["ResourceProperties"]["CodeVersion"] = json!(new);
        }
        if let Some(old) = old {
            payload["OldResourceProperties"] = json!({ "CodeVersion": old });
        }
        Request::from_payload(&payload)
            .expect("a custom-resource request")
            .expect("readable")
    }

    #[test]
    fn create_and_forward_updates_migrate() {
        assert_eq!(action(&request("Create", None, None)), Action::Migrate);
        let arn = |v: u32| format!("arn:aws:lambda:us-east-1:123456789012:function:s-migrate:{v}");
        assert_eq!(
            action(&request("Update", Some(&arn(8)), Some(&arn(7)))),
            Action::Migrate
        );
        // Same code, another property (e.g. the database): migrate again.
        assert_eq!(
            action(&request("Update", Some(&arn(7)), Some(&arn(7)))),
            Action::Migrate
        );
        assert_eq!(
            action(&request("Update", None, Some(&arn(7)))),
            Action::Migrate
        );
    }

    #[test]
    fn a_rollback_to_older_code_and_a_delete_touch_nothing() {
        let arn = |v: u32| format!("arn:aws:lambda:us-east-1:123456789012:function:s-migrate:{v}");
        assert!(matches!(
            action(&request("Update", Some(&arn(7)), Some(&arn(8)))),
            Action::Skip(reason) if reason.contains("rollback")
        ));
        assert!(matches!(
            action(&request("Delete", None, None)),
            Action::Skip(_)
        ));
        assert!(matches!(
            action(&request("Replace", None, None)),
            Action::Refuse(reason) if reason.contains("Replace")
        ));
    }

    #[test]
    fn plain_payloads_are_not_custom_resource_requests() {
        assert!(Request::from_payload(&json!({})).is_none());
        assert!(Request::from_payload(&json!({"RequestType": "Create"})).is_none());
        assert!(matches!(
            Request::from_payload(&json!({"ResponseURL": 7})),
            Some(Err(FunctionError::InvalidEvent(_)))
        ));
    }

    #[test]
    fn the_answer_echoes_the_request_and_fits_the_size_limit() {
        let mut req = request("Update", None, None);
        req.physical_resource_id = Some("kept-id".into());
        let long = "é".repeat(2000);
        let response = Response::to(&req, Status::Failed, &long, json!({}));
        assert!(response.reason.len() <= MAX_REASON_BYTES);
        assert!(response.reason.ends_with("..."));
        let body = serde_json::to_value(&response).expect("json");
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["PhysicalResourceId"], "kept-id");
        assert_eq!(body["RequestId"], "r-1");
        assert_eq!(body["LogicalResourceId"], "DatabaseMigrations");
        assert_eq!(
            body["StackId"],
            "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"
        );
        assert!(serde_json::to_vec(&response).expect("bytes").len() < 4096);
        let created = Response::to(
            &request("Create", None, None),
            Status::Success,
            "ok",
            json!({}),
        );
        assert_eq!(created.physical_resource_id, PHYSICAL_RESOURCE_ID);
    }

    #[test]
    fn applied_versions_become_string_attributes() {
        let attributes = data(&json!({"applied": [20240101000001_i64, 20261124000002_i64]}));
        assert_eq!(
            attributes,
            json!({"AppliedMigrations": "2", "LatestMigration": "20261124000002"})
        );
    }
}
