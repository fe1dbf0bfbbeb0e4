//! CCTV fixtures: the API router on a throw-away database with minted tokens, requests
//! driven in process, generated counts.

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode},
};
use cctv_api::{AppState, CctvSettings};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use common::http::auth;
use serde_json::{Value, json};
use sqlx::MySqlPool;
use tower::ServiceExt;

use crate::support::TestDb;

/// The API on its own database, with a writer, a reader and an all-scopes token.
pub struct Api {
    pub db: TestDb,
    pub router: Router,
    pub writer: String,
    pub reader: String,
    pub both: String,
}

/// An answer: status, the envelope, the `WWW-Authenticate` header if any.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub www_authenticate: Option<String>,
}

impl Answer {
    pub fn code(&self) -> i64 {
        self.body["code"].as_i64().expect("code is a number")
    }

    pub fn errmsg(&self) -> &str {
        self.body["errmsg"].as_str().unwrap_or_default()
    }

    pub fn field(&self) -> &str {
        self.body["data"]["field"].as_str().unwrap_or_default()
    }

    pub fn reason(&self) -> &str {
        self.body["data"]["reason"].as_str().unwrap_or_default()
    }
}

impl Api {
    pub async fn new() -> Self {
        Self::with_settings(CctvSettings::default()).await
    }

    pub async fn with_settings(settings: CctvSettings) -> Self {
        let db = TestDb::new().await;
        let mint = |name: &'static str, scopes: &'static [&'static str]| {
            let pool = db.pool.clone();
            async move {
                let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
                auth::mint(&pool, name, &scopes).await.expect("mint").token
            }
        };
        let writer = mint("writer", &["cctv:write"]).await;
        let reader = mint("reader", &["cctv:read"]).await;
        let both = mint("both", &["cctv:write", "cctv:read"]).await;
        // Token cache off (TTL 0): these tests revoke and expect the next request refused;
        // the cache itself is tested in api_tokens.rs.
        let router = cctv_api::router_with_tokens(
            AppState {
                pool: db.pool.clone(),
                settings,
            },
            auth::Tokens::new(db.pool.clone(), std::time::Duration::ZERO),
        );
        Self {
            db,
            router,
            writer,
            reader,
            both,
        }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.db.pool
    }

    /// Sends one request through the router, as Lambda would.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let www_authenticate = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "every answer is a JSON envelope, got {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Answer {
            status,
            body,
            www_authenticate,
        }
    }

    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        self.send(builder.body(body.into()).expect("request")).await
    }

    /// POST /cctv/counts with a JSON body.
    pub async fn post(&self, token: Option<&str>, body: &Value) -> Answer {
        self.raw(
            "POST",
            "/cctv/counts",
            token,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    /// POST a batch with the writer token.
    pub async fn post_counts(&self, counts: &[Value]) -> Answer {
        self.post(Some(&self.writer), &json!({ "counts": counts }))
            .await
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Answer {
        self.raw("GET", uri, token, None, Body::empty()).await
    }
}

/// One count as JSON, the interval `minutes` long from `start`.
pub fn count(
    camera: &str,
    start: DateTime<Utc>,
    minutes: i64,
    people: i64,
    vehicles: i64,
) -> Value {
    json!({
        "camera_id": camera,
        "start": start.to_rfc3339(),
        "end": (start + Duration::minutes(minutes)).to_rfc3339(),
        "people": people,
        "vehicles": vehicles,
    })
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("instant")
        .with_timezone(&Utc)
}

/// A deterministic pseudo-random level for interval `i` (0..=max), so generated days
/// have a spread (a non-zero standard deviation) without a random crate.
pub fn wiggle(i: u64, seed: u64, max: u32) -> u32 {
    let x = (i.wrapping_add(seed))
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    u32::try_from((x >> 33) % u64::from(max + 1)).expect("fits")
}

/// Inserts `n` counts of `step` minutes for `camera` from `from` straight into the tables
/// (registering the camera): the rollup tests' data.
pub async fn insert_counts(
    pool: &MySqlPool,
    camera: &str,
    from: DateTime<Utc>,
    step_minutes: i64,
    levels: &[(u32, u32)],
) {
    sqlx::query("INSERT IGNORE INTO cctv_camera (camera_id, registered_at) VALUES (?, NOW())")
        .bind(camera)
        .execute(pool)
        .await
        .expect("camera");
    for chunk in levels.chunks(1000).enumerate() {
        let (chunk_index, rows) = chunk;
        let mut query = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "INSERT INTO cctv_count (camera_id, start_utc, end_utc, people, vehicles, received_at) ",
        );
        query.push_values(
            rows.iter().enumerate(),
            |mut row, (i, (people, vehicles))| {
                let k = i64::try_from(chunk_index * 1000 + i).expect("index");
                let start: NaiveDateTime = (from + Duration::minutes(k * step_minutes)).naive_utc();
                row.push_bind(camera.to_owned())
                    .push_bind(start)
                    .push_bind(start + Duration::minutes(step_minutes))
                    .push_bind(*people)
                    .push_bind(*vehicles)
                    .push_bind(Utc::now().naive_utc());
            },
        );
        query.build().execute(pool).await.expect("insert counts");
    }
}
