//! The `ad-api` function (source system 004): the public ad routes that count impressions
//! and clicks, and the admin API for groups, images, styles and their figures.
//!
//! # Layout
//! - [`settings`]: the function's environment (`AD_*`, `HTTP_MAX_BODY_BYTES`);
//! - [`catalog`]: the live ads, cached per execution environment for `AD_CACHE_SECS`;
//! - [`hits`]: `GET /v1/oper/ad_style`, `GET|POST /v1/oper/show`, `GET|POST /v1/oper/click`
//!   (public; one SQS event per counted hit);
//! - [`admin`]: `/v1/advert/group`, `/v1/advert/image`, `/v1/advert/style` (scope
//!   `ads:admin`);
//! - [`stats`]: `GET /v1/advert/day`, `GET /v1/advert/hour` (scope `ads:admin`);
//! - [`times`]: the admin API's local `YYYY-MM-DD HH:MM:SS` times;
//! - [`router`]: the axum router; [`ApiDoc`]: the OpenAPI document at `/openapi.json`.
//!
//! The counting itself is ad-counter-worker's; the daily archive is ad-archive's. See
//! `docs/ads.md` for the routes, the visitor rules and the decisions.

pub mod admin;
pub mod catalog;
pub mod hits;
pub mod settings;
pub mod stats;
pub mod times;

use std::sync::Arc;

use axum::{Router, routing::get};
use common::{
    http::{self, auth},
    sqs::Producer,
};
use sqlx::MySqlPool;
use utoipa::OpenApi;

pub use settings::AdSettings;

/// The scope of the admin routes.
pub const SCOPE_ADMIN: &str = "ads:admin";

/// What every handler shares: built once per execution environment.
#[derive(Clone)]
pub struct AppState {
    pub pool: MySqlPool,
    pub settings: AdSettings,
    pub catalog: Arc<catalog::Catalog>,
    pub producer: Arc<Producer>,
}

impl AppState {
    /// The state with a fresh catalog cache.
    pub fn new(pool: MySqlPool, settings: AdSettings, sqs: aws_sdk_sqs::Client) -> Self {
        let producer = Producer::new(sqs, settings.queue_url.clone());
        Self {
            catalog: Arc::new(catalog::Catalog::new(pool.clone(), settings.cache_ttl)),
            pool,
            settings,
            producer: Arc::new(producer),
        }
    }
}

/// The whole API: public hot routes, admin routes behind `ads:admin`, the OpenAPI document.
pub fn router(state: AppState, tokens: auth::Tokens) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let public = Router::new()
        .route("/v1/oper/ad_style", get(hits::get_ad_style))
        .route("/v1/oper/show", get(hits::show).post(hits::show_post))
        .route("/v1/oper/click", get(hits::click).post(hits::click_post));
    let admin = auth::protect(
        Router::new()
            .route(
                "/v1/advert/group",
                get(admin::list_groups)
                    .post(admin::create_group)
                    .put(admin::update_group)
                    .delete(admin::delete_group),
            )
            .route(
                "/v1/advert/image",
                get(admin::list_images)
                    .post(admin::create_image)
                    .put(admin::update_image)
                    .delete(admin::delete_image),
            )
            .route(
                "/v1/advert/style",
                get(admin::list_styles)
                    .post(admin::create_style)
                    .put(admin::update_style)
                    .delete(admin::delete_style),
            )
            .route("/v1/advert/day", get(stats::get_day))
            .route("/v1/advert/hour", get(stats::get_hour)),
        tokens,
        SCOPE_ADMIN,
    );
    let api = public.merge(admin).with_state(state);
    http::finish(
        api.merge(http::openapi_route(ApiDoc::openapi())),
        body_limit,
    )
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ad-api",
        description = "Ad impression and click counters (source system 004). Public: ad_style, show, click. Admin (bearer token with ads:admin): groups, images, styles, day and hour figures. Every JSON answer is the envelope {code, data, errmsg}; code 1000 is success, otherwise the HTTP status x 10."
    ),
    paths(
        hits::get_ad_style,
        hits::show,
        hits::show_post,
        hits::click,
        hits::click_post,
        admin::list_groups,
        admin::create_group,
        admin::update_group,
        admin::delete_group,
        admin::list_images,
        admin::create_image,
        admin::update_image,
        admin::delete_image,
        admin::list_styles,
        admin::create_style,
        admin::update_style,
        admin::delete_style,
        stats::get_day,
        stats::get_hour
    ),
    components(schemas(catalog::Device)),
    tags(
        (name = "public", description = "The hot routes clients call (no token)"),
        (name = "admin", description = "Configuration and figures (ads:admin)")
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_public_routes_need_no_token() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        assert_eq!(http::dangling_refs(&doc), Vec::<String>::new(), "{doc:#}");
        for path in ["/v1/oper/ad_style", "/v1/oper/show", "/v1/oper/click"] {
            let op = &doc["paths"][path]["get"];
            assert_eq!(op["security"], serde_json::json!([{}]), "{path}: {op:#}");
        }
        let admin = &doc["paths"]["/v1/advert/group"]["post"];
        assert_eq!(admin["security"][0]["bearer"][0], SCOPE_ADMIN);
        assert!(doc["paths"]["/v1/advert/group"]["delete"]["responses"]["409"].is_object());
        assert!(doc["paths"]["/v1/oper/show"]["get"]["responses"]["503"].is_object());
    }
}
