//! HTTP plumbing shared by the API functions (CCTV counts now; datasources and ad counters
//! next): API Gateway HTTP API events run an axum [`Router`](axum::Router) through
//! `lambda_http`, every answer is the source systems' envelope
//! `{"code": …, "data": …, "errmsg": …}`, and every route that is not declared public
//! needs a bearer token with the route's scope.
//!
//! - [`envelope`]: the envelope, [`ApiError`] and its HTTP statuses;
//! - [`extract`]: JSON, form and query extractors whose rejections are envelope errors;
//! - [`auth`]: tokens (hashed in MySQL, scoped, revocable) and the middleware that checks
//!   them.
//!
//! # Building an API
//! ```ignore
//! let write = auth::protect(Router::new().route("/x", post(add)), pool.clone(), "x:write");
//! let read = auth::protect(Router::new().route("/x", get(list)), pool.clone(), "x:read");
//! let public = openapi_route(ApiDoc::openapi());
//! let app = finish(write.merge(read).with_state(state).merge(public), DEFAULT_BODY_LIMIT);
//! common::http::serve(app).await
//! ```
//! Tests drive the same `Router` in process with `tower::ServiceExt::oneshot`.

pub mod auth;
pub mod envelope;
pub mod extract;

pub use envelope::{ApiError, ApiResult, Envelope, SUCCESS, ok};
pub use extract::{ApiForm, ApiJson, ApiQuery};

use axum::{
    Router, body::Bytes, extract::DefaultBodyLimit, http::header::CONTENT_TYPE, routing::get,
};
use utoipa::openapi::{
    OpenApi,
    security::{Http, HttpAuthScheme, SecurityScheme},
};

/// The largest request body any API accepts unless a route says otherwise (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Where every API serves its OpenAPI document (public, no token).
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The name of the bearer scheme in the OpenAPI documents.
pub const BEARER_SCHEME: &str = "bearer";

/// Finishes an API router: a body limit (larger bodies answer 413 in the envelope), a 404
/// envelope for unknown paths and a 405 envelope for a known path with another method.
pub fn finish(router: Router, body_limit: usize) -> Router {
    router
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
}

/// A public route serving `doc` at [`OPENAPI_PATH`], with the bearer scheme declared. The
/// document is serialised once, here, when the router is built.
///
/// # Panics
/// When the document does not serialise (a programming error, seen at start-up).
pub fn openapi_route(mut doc: OpenApi) -> Router {
    add_bearer_scheme(&mut doc);
    // Built from types in the code, the document always serialises; if a change ever broke
    // that, the function fails at start-up (and every test of the API with it).
    let body = Bytes::from(doc.to_json().expect("the OpenAPI document serialises"));
    Router::new().route(
        OPENAPI_PATH,
        get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

/// Declares the `bearer` security scheme (an opaque token, see [`auth`]) in `doc`.
pub fn add_bearer_scheme(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER_SCHEME,
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
}

/// Serves `router` as the Lambda handler of API Gateway HTTP API (v2) events.
///
/// # Errors
/// The runtime's error (the function then exits and Lambda restarts it).
pub async fn serve(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
}
