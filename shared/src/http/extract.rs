//! Extractors whose rejections are [`ApiError`]s: a wrong type or a missing field answers
//! 400 naming the field, a body over the limit 413, a path segment that is not UTF-8 400,
//! all in the envelope (axum's own rejections are plain text).
//!
//! Media types are compared as RFC 9110 says, case-insensitively
//! (`Application/X-WWW-Form-Urlencoded; charset=UTF-8` is a form): [`media_type`].

use axum::{
    extract::{
        FromRequest, FromRequestParts, Path, Request,
        path::ErrorKind,
        rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE, request::Parts},
};
use serde::de::DeserializeOwned;

/// The media type of a form body.
pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// The request's media type (`type/subtype`, lower case, without parameters) and its
/// `charset` parameter (lower case, unquoted), if it has a `Content-Type`.
pub fn media_type(headers: &HeaderMap) -> Option<(String, Option<String>)> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let mut parts = value.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    });
    Some((essence, charset))
}

/// True when the request's body is a form (`application/x-www-form-urlencoded`, any case).
pub fn is_form(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|(essence, _)| essence == FORM_MEDIA_TYPE)
}

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

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // axum matches the form media type case-sensitively: hand it the canonical spelling
        // of what is a form in any case. Percent-encoded bytes are read as UTF-8, so another
        // declared charset is refused rather than decoded into replacement characters.
        if let Some((essence, charset)) = media_type(req.headers())
            && essence == FORM_MEDIA_TYPE
        {
            if let Some(charset) = charset.filter(|c| c != "utf-8" && c != "utf8") {
                return Err(ApiError::BadRequest(format!(
                    "form bodies must be UTF-8, not {charset}"
                )));
            }
            req.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(FORM_MEDIA_TYPE));
        }
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

/// A body that is a form or JSON, by its `Content-Type`: the source systems' admin APIs took
/// forms, and JSON clients are served too. A form is read as [`ApiForm`] reads it; any
/// other body as [`ApiJson`] (which refuses a missing or different JSON media type).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiBody<T>(pub T);

impl<T, S> FromRequest<S> for ApiBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if is_form(req.headers()) {
            ApiForm::<T>::from_request(req, state)
                .await
                .map(|ApiForm(v)| Self(v))
        } else {
            ApiJson::<T>::from_request(req, state)
                .await
                .map(|ApiJson(v)| Self(v))
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

/// Path parameters. A percent-encoded segment that does not decode to UTF-8 answers 400
/// naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => Err(match error.kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => {
                    ApiError::invalid(key.as_str(), "is not valid UTF-8 once percent-decoded")
                }
                ErrorKind::ParseErrorAtKey { key, .. }
                | ErrorKind::DeserializeError { key, .. } => {
                    ApiError::invalid(key.as_str(), error.body_text())
                }
                _ => ApiError::invalid("path", error.body_text()),
            }),
            // The route has no such parameter: a programming error, not the caller's.
            Err(other) => Err(ApiError::Internal(Box::new(other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request, routing::get};
    use tower::ServiceExt;

    use super::*;

    async fn answer(router: Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).expect("an envelope, not plain text"),
        )
    }

    #[tokio::test]
    async fn a_path_that_is_not_utf8_answers_in_the_envelope() {
        let router = Router::new().route(
            "/cameras/{camera_id}",
            get(|ApiPath(id): ApiPath<String>| async move { id }),
        );
        let request = Request::get("/cameras/%FF%FE")
            .body(Body::empty())
            .expect("request");
        let (status, body) = answer(router, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], 4000);
        assert_eq!(body["data"]["field"], "camera_id");
    }

    #[derive(serde::Deserialize)]
    struct One {
        people: u32,
    }

    #[tokio::test]
    async fn a_form_is_recognised_in_any_case_and_only_in_utf8() {
        let router = Router::new().route(
            "/",
            axum::routing::post(|ApiForm(one): ApiForm<One>| async move { one.people.to_string() }),
        );
        for content_type in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            "APPLICATION/X-WWW-FORM-URLENCODED;charset=\"utf-8\"",
        ] {
            let response = router
                .clone()
                .oneshot(
                    Request::post("/")
                        .header(CONTENT_TYPE, content_type)
                        .body(Body::from("people=4"))
                        .expect("request"),
                )
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::OK, "{content_type}");
        }
        let request = Request::post("/")
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=EUC-KR",
            )
            .body(Body::from("people=4"))
            .expect("request");
        let (status, body) = answer(router, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["errmsg"]
                .as_str()
                .is_some_and(|m| m.contains("euc-kr"))
        );
    }

    #[test]
    fn media_types_are_compared_without_case_and_parameters() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON ; Charset=\"UTF-8\""),
        );
        assert_eq!(
            media_type(&headers),
            Some(("application/json".into(), Some("utf-8".into())))
        );
        assert!(!is_form(&headers));
        assert_eq!(media_type(&HeaderMap::new()), None);
    }

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
