//! The response envelope and the API errors.
//!
//! Success: HTTP 200 (or 201) with `{"code": 1000, "data": …, "errmsg": null}`. Errors: the
//! HTTP status that fits, with `code` = status × 10 (4000 validation, 4010 no or bad token,
//! 4030 missing scope or a refused target, 4040 not found, 4050 wrong method, 4090
//! conflict, 4130 body too large, 5000 internal, 5030 a dependency unavailable)
//! and a message; a validation error names the field and the reason in `data.field` and
//! `data.reason`. A 500 says only
//! "internal error": the cause goes to the logs, never to the client.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// `code` of a successful answer, as in the source systems.
pub const SUCCESS: u32 = 1000;

/// The JSON envelope of every answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    /// 1000 on success; the HTTP status × 10 on error.
    pub code: u32,
    pub data: Option<T>,
    /// Null on success; what went wrong otherwise.
    pub errmsg: Option<String>,
}

// What `ApiError` writes, as a type for the OpenAPI documents (`body = ErrorEnvelope`); its
// doc comment is the schema's description.
/// The envelope of an error answer: `code` is the HTTP status × 10, `data` the field and
/// reason of a validation error, `errmsg` what went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// The HTTP status × 10 (4000, 4010, …, 5000).
    #[schema(minimum = 4000, maximum = 5999, example = 4000)]
    pub code: u32,
    /// The field and the reason of a validation error (400); null otherwise.
    pub data: Option<FieldError>,
    /// What went wrong ("internal error" for a 500).
    pub errmsg: String,
}

/// Which field of a request is wrong, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// `counts[3].people`, `from`, `page_size`, …
    pub field: String,
    pub reason: String,
}

/// A successful answer (200).
pub fn ok<T: Serialize>(data: T) -> Json<Envelope<T>> {
    Json(Envelope {
        code: SUCCESS,
        data: Some(data),
        errmsg: None,
    })
}

/// Handler results.
pub type ApiResult<T> = Result<Json<Envelope<T>>, ApiError>;

/// Everything an API answers with other than success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a field is missing, of the wrong type or out of range.
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    /// 400: the body is not valid JSON / form data at all.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no token, a malformed one, an unknown or a revoked one.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: a valid token without the route's scope.
    #[error("the token lacks the scope {0}")]
    Forbidden(&'static str),
    /// 403: the caller may use the route, but not on what it asked for (a datasource host
    /// outside the allow-list); the message says what is refused and which setting decides.
    #[error("{0}")]
    Refused(String),
    /// 404: no such route or resource.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request contradicts what is stored.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is larger than the route accepts.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 503: a dependency (the queue, a datasource's database) cannot take or answer the
    /// request now; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged with its cause, answered generically.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A validation error on `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Refused(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(Box::new(error))
    }
}

/// Marks a response whose request failed because the database refused the credentials
/// (MySQL 1045).
#[derive(Debug, Clone, Copy)]
pub struct CredentialsRejected;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = u32::from(status.as_u16()) * 10;
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %crate::error::error_chain(cause.as_ref()), "request failed");
        }
        let data = match &self {
            Self::Validation { field, reason } => serde_json::to_value(FieldError {
                field: field.clone(),
                reason: reason.clone(),
            })
            .unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        let mut response = (
            status,
            Json(Envelope {
                code,
                data: Some(data).filter(|d| !d.is_null()),
                errmsg: Some(self.to_string()),
            }),
        )
            .into_response();
        if matches!(&self, Self::Internal(cause) if crate::db::is_auth_failure_in(cause.as_ref())) {
            // The database refused the credentials (a rotation): tell the layer that holds
            // the pool, which re-reads the secret (see `common::http::renew_credentials`).
            response.extensions_mut().insert(CredentialsRejected);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
