//! Extractors whose rejections are [`ApiError`]s: a wrong type or a missing field answers
//! 400 naming the field, a body over the limit 413, all in the envelope.

use axum::{
    extract::{
        FromRequest, FromRequestParts, Request,
        rejection::{FormRejection, JsonRejection, QueryRejection},
    },
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge;
    }
    match rejection {
        // serde's message names the field path and the expected type.
        JsonRejection::JsonDataError(e) => data_error(&e.body_text()),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest(format!("malformed JSON: {}", e.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::BadRequest("Content-Type must be application/json".into())
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// `Failed to deserialize the JSON body into the target type: counts[0].people: invalid
/// type…` → field `counts[0].people`, reason `invalid type…`.
fn data_error(text: &str) -> ApiError {
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, detail)| detail);
    match detail.split_once(": ") {
        Some((field, reason)) if !field.contains(' ') => ApiError::invalid(field, reason),
        _ => ApiError::invalid("body", detail),
    }
}

/// A form body (`application/x-www-form-urlencoded`), as the source systems' admin APIs use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiForm<T>(pub T);

impl<T, S> FromRequest<S> for ApiForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(FormRejection::FailedToDeserializeForm(e)) => Err(data_error(&e.body_text())),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Query-string parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let text = e.body_text();
                let detail = text
                    .split_once("Query string: ")
                    .map_or(text.as_str(), |(_, d)| d);
                Err(ApiError::invalid("query", detail))
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serde_path_becomes_the_field() {
        let error = data_error(
            "Failed to deserialize the JSON body into the target type: counts[0].people: invalid type: string \"x\", expected u32 at line 1 column 40",
        );
        assert!(
            matches!(&error, ApiError::Validation { field, reason } if field == "counts[0].people" && reason.starts_with("invalid type")),
            "{error:?}"
        );
        let error = data_error(
            "Failed to deserialize the JSON body into the target type: missing field `counts` at line 1 column 2",
        );
        assert!(
            matches!(&error, ApiError::Validation { field, .. } if field == "body"),
            "{error:?}"
        );
    }
}
