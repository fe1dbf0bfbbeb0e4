//! The `cctv-api` function: the video team posts people/vehicle counts per camera and
//! interval; each count is checked against the camera's reference value on arrival
//! (outliers); stats, outliers and raw counts are read back. Source system 001 had a
//! manual input page and "authentication to be added later"; here every route but the
//! OpenAPI document needs a bearer token (`cctv:write` to post, `cctv:read` to read).
//!
//! # Layout
//! - [`settings`]: the function's environment (`CCTV_*`, `HTTP_MAX_BODY_BYTES`,
//!   `DATE_WINDOW_*`);
//! - [`camera`]: what a camera id may be (Korean included) and its one spelling (NFC);
//! - [`ingest`]: `POST /cctv/counts`: validation, upsert, outlier detection;
//! - [`read`]: `GET /cctv/counts`, `GET /cctv/cameras/{camera_id}/stats`,
//!   `GET /cctv/cameras/{camera_id}/outliers`;
//! - [`router`]: the axum router (what Lambda runs and what tests drive in process);
//! - [`ApiDoc`] / [`api_doc`]: the OpenAPI document, served at `/openapi.json`.
//!
//! Run it locally with `cargo lambda watch`, then
//! `cargo lambda invoke cctv-api --data-file events/cctv-api/openapi.json`.
//! See `docs/cctv-api.md` for the routes, the envelope and the decisions.

pub mod camera;
pub mod ingest;
pub mod read;
pub mod settings;

use axum::{
    Router,
    routing::{get, post},
};
use chrono_tz::Tz;
use common::http::{self, auth};
use sqlx::MySqlPool;
use utoipa::{
    OpenApi,
    openapi::{RefOr, schema::Schema},
};

pub use settings::CctvSettings;

/// The scope that may post counts.
pub const SCOPE_WRITE: &str = "cctv:write";
/// The scope that may read counts, stats and outliers.
pub const SCOPE_READ: &str = "cctv:read";

/// What every handler shares: built once per execution environment.
#[derive(Clone)]
pub struct AppState {
    pub pool: MySqlPool,
    pub settings: CctvSettings,
}

impl AppState {
    /// The cameras' time zone.
    pub fn zone(&self) -> Tz {
        self.settings.time_zone
    }

    /// A query's `from`/`to` in the cameras' zone and the date window (400 naming the
    /// bound that is wrong).
    ///
    /// # Errors
    /// [`common::http::ApiError::Validation`].
    pub fn time_range(
        &self,
        from: &str,
        to: &str,
    ) -> Result<common::http::bounds::TimeRange, common::http::ApiError> {
        common::http::bounds::time_range(from, to, self.zone(), &self.settings.date_window)
    }
}

/// The whole API: protected routes by scope, the public OpenAPI document, the envelope's
/// 404/405 and the body limit. Token look-ups are cached for `API_TOKEN_CACHE_SECS`.
///
/// # Panics
/// When `API_TOKEN_CACHE_SECS` is invalid (over 60): the function then stops at start-up
/// with the variable's name and the reason.
pub fn router(state: AppState) -> Router {
    // The TTL is one setting for every API, so common reads it (not CctvSettings).
    let tokens = auth::Tokens::from_env(state.pool.clone()).unwrap_or_else(|e| panic!("{e}"));
    router_with_tokens(state, tokens)
}

/// [`router`] with the given token look-ups (tests choose the cache TTL).
pub fn router_with_tokens(state: AppState, tokens: auth::Tokens) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let doc = api_doc(&state.settings);
    let write = auth::protect(
        Router::new().route("/cctv/counts", post(ingest::post_counts)),
        tokens.clone(),
        SCOPE_WRITE,
    );
    let read = auth::protect(
        Router::new()
            .route("/cctv/counts", get(read::get_counts))
            .route("/cctv/cameras/{camera_id}/stats", get(read::get_stats))
            .route(
                "/cctv/cameras/{camera_id}/outliers",
                get(read::get_outliers),
            ),
        tokens,
        SCOPE_READ,
    );
    let api = write.merge(read).with_state(state);
    http::finish(api.merge(http::openapi_route(doc)), body_limit)
}

/// The OpenAPI document of the API (generated from the handlers' annotations).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "cctv-api",
        description = "CCTV people/vehicle counts: ingest with outlier flags, stats and outliers. Every answer is the envelope {code, data, errmsg}; code 1000 is success, otherwise the HTTP status x 10."
    ),
    paths(
        ingest::post_counts,
        read::get_counts,
        read::get_stats,
        read::get_outliers
    ),
    // Schemas only parameters use: utoipa collects those of bodies and responses, not
    // these, and a `$ref` to an unregistered schema makes the document invalid.
    components(schemas(common::period::PeriodKind, ingest::Outlier, ingest::Outcome)),
    security(("bearer" = [])),
    tags((name = "cctv", description = "CCTV counts (source system 001)"))
)]
pub struct ApiDoc;

/// The document as served: [`ApiDoc`] with this deployment's batch limit
/// (`CCTV_MAX_BATCH`) as the maximum number of counts.
pub fn api_doc(settings: &CctvSettings) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let batch = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut("CountBatch"));
    if let Some(RefOr::T(Schema::Object(batch))) = batch
        && let Some(RefOr::T(Schema::Array(counts))) = batch.properties.get_mut("counts")
    {
        counts.max_items = Some(settings.max_batch);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> serde_json::Value {
        serde_json::to_value(api_doc(&CctvSettings::default())).expect("serialises")
    }

    #[test]
    fn every_reference_resolves() {
        let doc = served();
        assert_eq!(http::dangling_refs(&doc), Vec::<String>::new(), "{doc:#}");
        assert!(doc["components"]["schemas"]["PeriodKind"]["enum"].is_array());
    }

    #[test]
    fn the_document_is_as_strict_as_the_api() {
        let doc = served();
        if std::env::var_os("CCTV_PRINT_OPENAPI").is_some() {
            println!("{doc:#}");
        }
        let count = &doc["components"]["schemas"]["CountIn"]["properties"];
        assert_eq!(count["people"]["maximum"], 4_294_967_295_u64);
        assert_eq!(count["vehicles"]["minimum"], 0);
        assert_eq!(count["camera_id"]["maxLength"], 64);
        let batch = &doc["components"]["schemas"]["CountBatch"]["properties"]["counts"];
        assert_eq!(batch["maxItems"], 1000);
        assert_eq!(batch["minItems"], 1);
        let small = api_doc(&CctvSettings {
            max_batch: 10,
            ..CctvSettings::default()
        });
        let small = serde_json::to_value(small).expect("serialises");
        assert_eq!(
            small["components"]["schemas"]["CountBatch"]["properties"]["counts"]["maxItems"],
            10
        );
        let params = doc["paths"]["/cctv/counts"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let param = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("no parameter {name}"))
        };
        assert_eq!(param("page")["schema"]["minimum"], 1);
        assert_eq!(param("page_size")["schema"]["minimum"], 1);
        assert_eq!(param("page_size")["schema"]["maximum"], 1000);
        assert_eq!(param("from")["schema"]["anyOf"][1]["format"], "date-time");
        assert_eq!(param("from")["required"], true);
        assert_eq!(param("to")["required"], true);
        for (path, method) in [
            ("/cctv/counts", "post"),
            ("/cctv/counts", "get"),
            ("/cctv/cameras/{camera_id}/stats", "get"),
            ("/cctv/cameras/{camera_id}/outliers", "get"),
        ] {
            let responses = &doc["paths"][path][method]["responses"];
            for status in ["400", "401", "403", "500"] {
                assert!(
                    responses[status]["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with("/ErrorEnvelope")),
                    "{method} {path} {status}: {responses:#}"
                );
            }
        }
        assert!(doc["paths"]["/cctv/counts"]["post"]["responses"]["413"].is_object());
        assert!(
            doc["paths"]["/cctv/cameras/{camera_id}/stats"]["get"]["responses"]["404"].is_object()
        );
    }
}
