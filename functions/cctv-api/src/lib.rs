//! The `cctv-api` function: the video team posts people/vehicle counts per camera and
//! interval; each count is checked against the camera's reference value on arrival
//! (outliers); stats, outliers and raw counts are read back. Source system 001 had a
//! manual input page and "authentication to be added later"; here every route but the
//! OpenAPI document needs a bearer token (`cctv:write` to post, `cctv:read` to read).
//!
//! # Layout
//! - [`settings`]: the function's environment (`CCTV_*`, `HTTP_MAX_BODY_BYTES`);
//! - [`ingest`]: `POST /cctv/counts`: validation, upsert, outlier detection;
//! - [`read`]: `GET /cctv/counts`, `GET /cctv/cameras/{camera_id}/stats`,
//!   `GET /cctv/cameras/{camera_id}/outliers`;
//! - [`router`]: the axum router (what Lambda runs and what tests drive in process);
//! - [`ApiDoc`]: the OpenAPI document, served at `/openapi.json`.
//!
//! Run it locally with `cargo lambda watch`, then
//! `cargo lambda invoke cctv-api --data-file events/cctv-api/openapi.json`.
//! See `docs/cctv-api.md` for the routes, the envelope and the decisions.

pub mod ingest;
pub mod read;
pub mod settings;
pub mod time;

use axum::{
    Router,
    routing::{get, post},
};
use chrono_tz::Tz;
use common::http::{self, auth};
use sqlx::MySqlPool;
use utoipa::OpenApi;

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
}

/// The whole API: protected routes by scope, the public OpenAPI document, the envelope's
/// 404/405 and the body limit.
pub fn router(state: AppState) -> Router {
    let pool = state.pool.clone();
    let body_limit = state.settings.max_body_bytes;
    let write = auth::protect(
        Router::new().route("/cctv/counts", post(ingest::post_counts)),
        pool.clone(),
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
        pool,
        SCOPE_READ,
    );
    let api = write.merge(read).with_state(state);
    http::finish(
        api.merge(http::openapi_route(ApiDoc::openapi())),
        body_limit,
    )
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
    security(("bearer" = [])),
    tags((name = "cctv", description = "CCTV counts (source system 001)"))
)]
pub struct ApiDoc;
