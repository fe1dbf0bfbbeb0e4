//! The `datasource-api` function (source system 003, the data-sync platform wrapping
//! DataX): the datasources a sync reads from and writes to, under the original's routes.
//!
//! # Layout
//! - [`settings`]: the function's environment (`SYNC_ALLOWED_HOSTS`,
//!   `SYNC_CONNECT_TIMEOUT_MS`, `HTTP_MAX_BODY_BYTES`);
//! - [`datasource`]: the routes
//!   `/api/datasource/{save,update,delete,query,list,ping,tables,columns}`
//!   (scope [`SCOPE_SYNC`]);
//! - [`times`]: the answers' UTC `YYYY-MM-DD HH:MM:SS`;
//! - [`router`]: the axum router; [`ApiDoc`]: the OpenAPI document at `/openapi.json`.
//!
//! Passwords are stored encrypted with [`PasswordCipher`] (key: `SYNC_ENCRYPTION_KEY`, or
//! field `key` of the secret `SYNC_ENCRYPTION_KEY_SECRET_ARN`) and never answered. Every
//! connection to a datasource goes through `sync_engine::endpoint`, which admits only the
//! hosts of `SYNC_ALLOWED_HOSTS`. The job-config routes (`/api/config/*`) join this router.

pub mod config;
pub mod datasource;
pub mod settings;
pub mod times;

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};
use common::{
    http::{self, auth},
    sqs::Producer,
};
use sqlx::MySqlPool;
use sync_engine::vault::PasswordCipher;
use utoipa::OpenApi;

pub use settings::SyncSettings;

/// The scope of every data-sync route. Scopes are `resource:action` (what
/// `common::http::auth::mint` accepts), so the data-sync platform's one role is `sync:admin`.
pub const SCOPE_SYNC: &str = "sync:admin";

/// The variable holding the password key locally (64 hex characters or 44 of base64).
pub const ENCRYPTION_KEY_VAR: &str = "SYNC_ENCRYPTION_KEY";

/// The variable holding the ARN of the key's secret in AWS (JSON field
/// [`ENCRYPTION_KEY_FIELD`]); it overrides [`ENCRYPTION_KEY_VAR`].
pub const ENCRYPTION_KEY_SECRET_ARN_VAR: &str = "SYNC_ENCRYPTION_KEY_SECRET_ARN";

/// The JSON field of the key's secret.
pub const ENCRYPTION_KEY_FIELD: &str = "key";

/// What every handler shares: built once per execution environment.
#[derive(Clone)]
pub struct AppState {
    pub pool: MySqlPool,
    pub settings: SyncSettings,
    pub cipher: Arc<PasswordCipher>,
    /// Job configs and long run logs (`settings.bucket`).
    pub s3: aws_sdk_s3::Client,
    /// Runs for sync-worker (`settings.queue_url`).
    pub producer: Arc<Producer>,
}

impl AppState {
    pub fn new(
        pool: MySqlPool,
        settings: SyncSettings,
        cipher: PasswordCipher,
        s3: aws_sdk_s3::Client,
        sqs: aws_sdk_sqs::Client,
    ) -> Self {
        let producer = Producer::new(sqs, settings.queue_url.clone());
        Self {
            pool,
            settings,
            cipher: Arc::new(cipher),
            s3,
            producer: Arc::new(producer),
        }
    }
}

/// The whole API: the datasource routes behind [`SCOPE_SYNC`], the OpenAPI document.
pub fn router(state: AppState, tokens: auth::Tokens) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let datasources = Router::new()
        .route("/api/datasource/save", post(datasource::save))
        .route("/api/datasource/update", post(datasource::update))
        .route(
            "/api/datasource/delete",
            post(datasource::delete).delete(datasource::delete_by_method),
        )
        .route("/api/datasource/query", get(datasource::query))
        .route("/api/datasource/list", get(datasource::list))
        .route("/api/datasource/ping", post(datasource::ping))
        .route("/api/datasource/tables", get(datasource::tables))
        .route("/api/datasource/columns", get(datasource::columns))
        .route("/api/config/save", post(config::save))
        .route("/api/config/update", post(config::update))
        .route(
            "/api/config/delete",
            post(config::delete).delete(config::delete_by_method),
        )
        .route("/api/config/query", get(config::query))
        .route("/api/config/list", get(config::list))
        .route("/api/config/exec", post(config::exec))
        .route("/api/config/logs", get(config::logs))
        .route("/api/config/log", get(config::log));
    let api = auth::protect(datasources, tokens, SCOPE_SYNC).with_state(state);
    http::finish(
        api.merge(http::openapi_route(ApiDoc::openapi())),
        body_limit,
    )
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "datasource-api",
        description = "The data-sync platform (source system 003): datasources (save, update, delete, query, list, ping, tables, columns), DataX job configs (save, update, delete, query, list) and their runs (exec, logs, log). Every route needs a bearer token with sync:admin. Passwords are write-only: answers show ******. Every JSON answer is the envelope {code, data, errmsg}; code 1000 is success, otherwise the HTTP status x 10."
    ),
    paths(
        datasource::save,
        datasource::update,
        datasource::delete,
        datasource::delete_by_method,
        datasource::query,
        datasource::list,
        datasource::ping,
        datasource::tables,
        datasource::columns,
        config::save,
        config::update,
        config::delete,
        config::delete_by_method,
        config::query,
        config::list,
        config::exec,
        config::logs,
        config::log
    ),
    tags(
        (name = "datasource", description = "Saved connections and their catalogues (sync:admin)"),
        (name = "config", description = "DataX job configs, their runs and logs (sync:admin)")
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_every_route_needs_the_sync_scope() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        assert_eq!(http::dangling_refs(&doc), Vec::<String>::new(), "{doc:#}");
        let routes = [
            ("/api/datasource/save", "post"),
            ("/api/datasource/update", "post"),
            ("/api/datasource/delete", "post"),
            ("/api/datasource/delete", "delete"),
            ("/api/datasource/query", "get"),
            ("/api/datasource/list", "get"),
            ("/api/datasource/ping", "post"),
            ("/api/datasource/tables", "get"),
            ("/api/datasource/columns", "get"),
        ];
        for (path, method) in routes {
            let op = &doc["paths"][path][method];
            assert_eq!(
                op["security"][0]["bearer"][0], SCOPE_SYNC,
                "{method} {path}: {op:#}"
            );
        }
        assert!(doc["paths"]["/api/datasource/save"]["post"]["responses"]["409"].is_object());
        assert!(doc["paths"]["/api/datasource/delete"]["delete"]["responses"]["409"].is_object());
        assert!(doc["paths"]["/api/datasource/columns"]["get"]["responses"]["503"].is_object());
        let params = &doc["paths"]["/api/datasource/query"]["get"]["parameters"];
        let names: Vec<&str> = params
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["db_type", "page", "pageSize"]);
        let columns = &doc["paths"]["/api/datasource/columns"]["get"]["parameters"];
        assert!(
            columns
                .as_array()
                .expect("parameters")
                .iter()
                .any(|p| p["name"] == "tableName"),
            "{columns:#}"
        );
    }

    #[test]
    fn the_password_is_write_only_in_the_document() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let input = &doc["components"]["schemas"]["DatasourceIn"]["properties"]["password"];
        assert_eq!(input["writeOnly"], true, "{input:#}");
        let required = &doc["components"]["schemas"]["DatasourceIn"]["required"];
        assert!(
            required
                .as_array()
                .is_some_and(|r| r.iter().any(|f| f == "source_name")),
            "{required:#}"
        );
    }
}
