//! HTTP plumbing shared by the API functions (CCTV counts now; datasources and ad counters
//! next): API Gateway HTTP API events run an axum [`Router`](axum::Router) through
//! `lambda_http`, every answer is the source systems' envelope
//! `{"code": …, "data": …, "errmsg": …}`, and every route that is not declared public
//! needs a bearer token with the route's scope.
//!
//! - [`envelope`]: the envelope, [`ApiError`] and its HTTP statuses;
//! - [`extract`]: JSON, form, query and path extractors whose rejections are envelope
//!   errors;
//! - [`paging`]: `page` / `page_size`-style parameters, names and sizes per API;
//! - [`bounds`]: `from` / `to` time bounds (a local date or an instant) under the platform's
//!   instant rule;
//! - [`auth`]: tokens (hashed in MySQL, scoped, revocable, optionally expiring), the
//!   per-environment look-up cache ([`auth::Tokens`]) and the middleware that checks them.
//!
//! # Building an API
//! ```ignore
//! let tokens = auth::Tokens::from_env(pool.clone())?; // one look-up cache per environment
//! let write = auth::protect(Router::new().route("/x", post(add)), tokens.clone(), "x:write");
//! let read = auth::protect(Router::new().route("/x", get(list)), tokens, "x:read");
//! let public = openapi_route(ApiDoc::openapi());
//! let app = finish(write.merge(read).with_state(state).merge(public), DEFAULT_BODY_LIMIT);
//! common::http::serve(app).await
//! ```
//! Tests drive the same `Router` in process with `tower::ServiceExt::oneshot`.

pub mod auth;
pub mod bounds;
pub mod envelope;
pub mod extract;
pub mod paging;

pub use envelope::{ApiError, ApiResult, Envelope, ErrorEnvelope, FieldError, SUCCESS, ok};
pub use extract::{ApiBody, ApiForm, ApiJson, ApiPath, ApiQuery};
pub use paging::{Page, PageRules, PageStyle, Paged};

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

/// The `$ref`s of an OpenAPI document (as JSON) that point nowhere in it: each API's tests
/// assert there are none (a dangling reference makes the whole document invalid for client
/// generators and contract testers).
pub fn dangling_refs(doc: &serde_json::Value) -> Vec<String> {
    fn walk(node: &serde_json::Value, doc: &serde_json::Value, out: &mut Vec<String>) {
        match node {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    let found = target
                        .strip_prefix('#')
                        .and_then(|pointer| doc.pointer(pointer))
                        .is_some();
                    if !found {
                        out.push(target.clone());
                    }
                }
                for value in map.values() {
                    walk(value, doc, out);
                }
            }
            serde_json::Value::Array(items) => {
                for value in items {
                    walk(value, doc, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, doc, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Serves `router` as the Lambda handler of API Gateway HTTP API (v2) events.
///
/// # Errors
/// The runtime's error (the function then exits and Lambda restarts it).
pub async fn serve(router: Router) -> Result<(), lambda_http::Error> {
    crate::metrics::run_http(router).await
}

/// Re-reads the database credentials' secret after a request failed on MySQL 1045 (a
/// password rotation), so the next request connects with the new password; the failed
/// request itself answered 500. Without a secret (`DATABASE_URL`, tests) it changes nothing.
pub fn renew_credentials(router: Router, database: crate::db::Database) -> Router {
    router.layer(axum::middleware::map_response(
        move |response: axum::response::Response| {
            let database = database.clone();
            async move {
                if response
                    .extensions()
                    .get::<envelope::CredentialsRejected>()
                    .is_some()
                {
                    database.renew_credentials().await;
                }
                response
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_reference_to_nothing_is_found() {
        let doc = json!({
            "paths": {"/x": {"get": {"parameters": [{"schema": {"$ref": "#/components/schemas/Kind"}}],
                "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}}}}}},
            "components": {"schemas": {"Out": {"type": "object"}}}
        });
        assert_eq!(dangling_refs(&doc), ["#/components/schemas/Kind"]);
        let mut fixed = doc.clone();
        fixed["components"]["schemas"]["Kind"] = json!({"type": "string"});
        assert!(dangling_refs(&fixed).is_empty());
    }
}
