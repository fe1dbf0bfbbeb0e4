//! The data-sync platform's datasource API (system 003) in process against the local
//! MariaDB and PostgreSQL: save / update / delete / query / list with the password
//! encrypted at rest and never answered, ping of every failure class, and the tables and
//! columns of both kinds of database.
//!
//! Every response body of every test goes through [`Api::send`], which fails the test if
//! any of the passwords the tests use appears in it.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use common::http::auth;
use datasource_api::{AppState, SCOPE_SYNC, SyncSettings};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use sync_engine::{endpoint::AllowList, vault::PasswordCipher};
use tower::ServiceExt;

use crate::support::TestDb;

/// The password saved with the datasources.
const SECRET: &str = "Sync-Pw-1e6f0c7d!";
/// The password an update changes it to.
const ROTATED: &str = "Sync-Pw-rotated-93ab";
/// A wrong password for root.
const WRONG: &str = "Wrong-Pw-55d1e0";
/// Every password a test sends: none may appear in any answer.
const PASSWORDS: [&str; 3] = [SECRET, ROTATED, WRONG];

const TOKEN_NAME: &str = "etl-team";

pub(crate) struct Api {
    pub(crate) db: TestDb,
    router: Router,
    cipher: Arc<PasswordCipher>,
    token: String,
    s3: aws_sdk_s3::Client,
    pub(crate) sqs: aws_sdk_sqs::Client,
    bucket: String,
    pub(crate) queue_url: String,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn data(&self) -> &Value {
        &self.body["data"]
    }

    fn field(&self) -> &str {
        self.body["data"]["field"].as_str().unwrap_or_default()
    }

    fn errmsg(&self) -> &str {
        self.body["errmsg"].as_str().unwrap_or_default()
    }
}

fn postgres_url() -> String {
    std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl Api {
    pub(crate) async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(adjust: impl FnOnce(&mut SyncSettings)) -> Self {
        let db = TestDb::new().await;
        let mut settings = SyncSettings::new(
            AllowList::parse("127.0.0.0/8,::1").expect("the loopback allow-list"),
        );
        let s3 = crate::support::s3().await;
        let sqs = crate::support::sqs().await;
        settings.bucket = crate::support::bucket(&s3).await;
        settings.queue_url = sqs
            .create_queue()
            .queue_name(format!("sync-{}", uuid::Uuid::new_v4().simple()))
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        adjust(&mut settings);
        let (bucket, queue_url) = (settings.bucket.clone(), settings.queue_url.clone());
        let key = PasswordCipher::generate_key_hex();
        let cipher = PasswordCipher::from_key_text(&key).expect("a generated key");
        let state = AppState::new(db.pool.clone(), settings, cipher, s3.clone(), sqs.clone());
        let token = auth::mint(&db.pool, TOKEN_NAME, &[SCOPE_SYNC.to_owned()])
            .await
            .expect("mint")
            .token;
        let router = datasource_api::router(
            state.clone(),
            auth::Tokens::new(db.pool.clone(), Duration::ZERO),
        );
        Self {
            db,
            router,
            cipher: state.cipher,
            token,
            s3,
            sqs,
            bucket,
            queue_url,
        }
    }

    /// Sends `request`; fails if any test password shows in the answer.
    async fn send(&self, request: Request<Body>) -> Reply {
        let what = format!("{} {}", request.method(), request.uri());
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes);
        for password in PASSWORDS {
            assert!(
                !text.contains(password),
                "{what} answered a password: {text}"
            );
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"))
        };
        Reply { status, body }
    }

    fn request(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
    }

    pub(crate) async fn json(&self, method: &str, uri: &str, body: Value) -> Reply {
        let request = self
            .request(method, uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(request).await
    }

    async fn form(&self, method: &str, uri: &str, form: &str) -> Reply {
        let request = self
            .request(method, uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .expect("request");
        self.send(request).await
    }

    pub(crate) async fn bare(&self, method: &str, uri: &str) -> Reply {
        let request = self
            .request(method, uri)
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.bare("GET", uri).await
    }

    /// Saves `body` and answers the datasource.
    async fn save(&self, body: Value) -> Value {
        let saved = self.json("POST", "/api/datasource/save", body).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
        saved.data().clone()
    }

    /// A datasource of the local MariaDB's test database as root (no password).
    pub(crate) async fn save_local_mysql(&self, name: &str) -> u64 {
        let saved = self
            .save(
                json!({"source_name": name, "db_type": "mysql", "host": "127.0.0.1",
                "port": 3306, "db_name": self.db.name, "username": "root"}),
            )
            .await;
        saved["id"].as_u64().expect("an id")
    }

    /// `datasource.password` of `id` as stored.
    async fn stored_password(&self, id: u64) -> Vec<u8> {
        sqlx::query_scalar("SELECT password FROM datasource WHERE id = ?")
            .bind(id)
            .fetch_one(&self.db.pool)
            .await
            .expect("the row")
    }

    /// Asserts the stored password of `id` is ciphertext that decrypts to `plain`.
    async fn assert_stored(&self, id: u64, plain: &str) -> Vec<u8> {
        let stored = self.stored_password(id).await;
        assert!(
            !stored.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "the password is stored in the clear"
        );
        let back = self.cipher.decrypt(&stored).expect("decrypts");
        assert_eq!(back.expose_secret(), plain);
        stored
    }
}

fn assert_time(value: &Value) {
    let text = value.as_str().unwrap_or_default();
    assert!(
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{value} is not YYYY-MM-DD HH:MM:SS"
    );
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

/// A port that accepts connections and never says anything (MySQL's server speaks
/// first, so a client waits for a greeting that does not come).
async fn silent_port() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

// ---------------------------------------------------------------------------------------
// save / update / delete

#[tokio::test]
async fn save_as_json_or_form_masks_the_password_and_stores_it_encrypted() {
    let api = Api::new().await;
    // The original's spelling: port as a string, `database` and `user`.
    let saved = api
        .save(json!({"source_name": "city-mysql", "description": "aliyun",
            "project_name": "redwars", "db_type": "mysql", "host": "127.0.0.1",
            "port": "3306", "user": "root", "password": SECRET, "database": "city"}))
        .await;
    assert_eq!(saved["source_name"], "city-mysql");
    assert_eq!(saved["description"], "aliyun");
    assert_eq!(saved["project_name"], "redwars");
    assert_eq!(saved["db_type"], "mysql");
    assert_eq!(saved["host"], "127.0.0.1");
    assert_eq!(saved["port"], 3306);
    assert_eq!(saved["db_name"], "city");
    assert_eq!(saved["username"], "root");
    assert_eq!(saved["password"], "******");
    assert_eq!(saved["owner"], TOKEN_NAME);
    assert_time(&saved["insert_time"]);
    assert_eq!(saved["insert_time"], saved["update_time"]);
    let id = saved["id"].as_u64().expect("id");
    api.assert_stored(id, SECRET).await;

    // A form, without a port: the type's usual one; `postgres` is read as postgresql.
    let form = api
        .form(
            "POST",
            "/api/datasource/save",
            &format!(
                "source_name=warehouse&db_type=postgres&host=db.internal&db_name=dw&username=etl&password={}",
                percent_encoding::utf8_percent_encode(SECRET, percent_encoding::NON_ALPHANUMERIC)
            ),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert_eq!(form.data()["db_type"], "postgresql");
    assert_eq!(form.data()["port"], 5432);
    assert_eq!(form.data()["description"], "");
    assert_eq!(form.data()["password"], "******");
    let form_id = form.data()["id"].as_u64().expect("id");
    let first = api.assert_stored(form_id, SECRET).await;
    // Each encryption has its own nonce: one password, two different stored values.
    assert_ne!(first, api.stored_password(id).await);

    // A name in use answers 409 (the unique key, case-insensitively as MySQL compares).
    for name in ["city-mysql", "CITY-MYSQL"] {
        let duplicate = api
            .json(
                "POST",
                "/api/datasource/save",
                json!({"source_name": name, "db_type": "mysql", "host": "127.0.0.1",
                    "db_name": "x", "username": "u", "password": SECRET}),
            )
            .await;
        assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.body);
        assert_eq!(duplicate.body["code"], 4090);
        assert!(duplicate.errmsg().contains("exists"), "{}", duplicate.body);
    }
    assert_eq!(api.db.count("datasource").await, 2);
}

#[tokio::test]
async fn bad_fields_answer_400_naming_the_field() {
    let api = Api::new().await;
    let good = json!({"source_name": "ok", "db_type": "mysql", "host": "127.0.0.1",
        "port": 3306, "db_name": "d", "username": "u", "password": SECRET});
    let cases = [
        ("source_name", json!("")),
        ("source_name", json!("x".repeat(129))),
        ("description", json!("d".repeat(513))),
        ("project_name", json!("p".repeat(129))),
        ("db_type", json!("oracle")),
        ("host", json!("db.example.com 3306")),
        ("host", json!("h".repeat(256))),
        ("port", json!(0)),
        ("port", json!("65536")),
        ("port", json!("33o6")),
        ("db_name", json!("")),
        ("username", json!(" ")),
        ("password", json!("p".repeat(996))),
    ];
    for (field, value) in cases {
        let mut body = good.clone();
        body[field] = value.clone();
        let answer = api.json("POST", "/api/datasource/save", body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{field}={value}");
        assert_eq!(answer.body["code"], 4000);
        assert_eq!(answer.field(), field, "{field}={value}: {}", answer.body);
    }
    for missing in ["source_name", "db_type", "host", "db_name", "username"] {
        let mut body = good.clone();
        body.as_object_mut().expect("object").remove(missing);
        let answer = api.json("POST", "/api/datasource/save", body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{missing}");
        assert_eq!(answer.field(), missing, "{}", answer.body);
    }
    assert_eq!(api.db.count("datasource").await, 0);
    // The longest password that fits the column once encrypted is accepted.
    let mut longest = good.clone();
    longest["password"] = json!("p".repeat(995));
    let saved = api.save(longest).await;
    api.assert_stored(saved["id"].as_u64().expect("id"), &"p".repeat(995))
        .await;
}

#[tokio::test]
async fn update_keeps_an_absent_or_empty_password_and_refuses_a_taken_name() {
    let api = Api::new().await;
    let first = api
        .save(
            json!({"source_name": "first", "db_type": "mysql", "host": "127.0.0.1",
            "db_name": "d", "username": "u", "password": SECRET}),
        )
        .await;
    let id = first["id"].as_u64().expect("id");
    api.save(
        json!({"source_name": "second", "db_type": "mysql", "host": "127.0.0.1",
        "db_name": "d", "username": "u", "password": SECRET}),
    )
    .await;
    let stored = api.stored_password(id).await;

    // No password: every other field given changes, the stored bytes stay as they were.
    let updated = api
        .json(
            "POST",
            "/api/datasource/update",
            json!({"id": id, "description": "moved", "host": "127.0.0.2", "port": "3307"}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.data()["description"], "moved");
    assert_eq!(updated.data()["host"], "127.0.0.2");
    assert_eq!(updated.data()["port"], 3307);
    assert_eq!(updated.data()["source_name"], "first");
    assert_eq!(updated.data()["password"], "******");
    assert_eq!(updated.data()["insert_time"], first["insert_time"]);
    assert_time(&updated.data()["update_time"]);
    assert_eq!(api.stored_password(id).await, stored);

    // An empty password (a form's untouched field) keeps it too; the id may be text.
    let form = api
        .form(
            "POST",
            "/api/datasource/update",
            &format!("id={id}&password=&username=reader"),
        )
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert_eq!(form.data()["username"], "reader");
    assert_eq!(api.stored_password(id).await, stored);
    api.assert_stored(id, SECRET).await;

    // A new password replaces it.
    let rotated = api
        .json(
            "POST",
            "/api/datasource/update",
            json!({"id": id.to_string(), "password": ROTATED}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    api.assert_stored(id, ROTATED).await;

    // A rename onto a name in use: 409, nothing changed.
    let clash = api
        .json(
            "POST",
            "/api/datasource/update",
            json!({"id": id, "source_name": "second"}),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    let renamed = api
        .json(
            "POST",
            "/api/datasource/update",
            json!({"id": id, "source_name": "first-renamed", "db_type": "postgresql"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.data()["source_name"], "first-renamed");
    assert_eq!(renamed.data()["db_type"], "postgresql");
    // The password survives the rename (its associated data is not the name).
    api.assert_stored(id, ROTATED).await;

    let unknown = api
        .json(
            "POST",
            "/api/datasource/update",
            json!({"id": id + 100, "description": "x"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let no_id = api
        .json(
            "POST",
            "/api/datasource/update",
            json!({"description": "x"}),
        )
        .await;
    assert_eq!(no_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_id.field(), "id");
    let bad = api
        .json(
            "POST",
            "/api/datasource/update",
            json!({"id": id, "host": ""}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.field(), "host");
}

#[tokio::test]
async fn delete_is_physical_and_refused_while_a_job_config_uses_the_datasource() {
    let api = Api::new().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "used"] {
        ids.push(api.save_local_mysql(name).await);
    }
    // POST with a JSON body.
    let deleted = api
        .json("POST", "/api/datasource/delete", json!({"id": ids[0]}))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.data()["id"], ids[0]);
    let again = api
        .json("POST", "/api/datasource/delete", json!({"id": ids[0]}))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    // DELETE with ?id= and no body; POST with a form.
    let by_query = api
        .bare("DELETE", &format!("/api/datasource/delete?id={}", ids[1]))
        .await;
    assert_eq!(by_query.status, StatusCode::OK, "{}", by_query.body);
    let by_form = api
        .form("POST", "/api/datasource/delete", &format!("id={}", ids[2]))
        .await;
    assert_eq!(by_form.status, StatusCode::OK, "{}", by_form.body);
    assert_eq!(api.db.count("datasource").await, 1);
    let no_id = api.bare("DELETE", "/api/datasource/delete").await;
    assert_eq!(no_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_id.field(), "id");
    let differ = api
        .json(
            "DELETE",
            &format!("/api/datasource/delete?id={}", ids[3]),
            json!({"id": ids[3] + 1}),
        )
        .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);

    // A job config that reads from it: 409 naming the config, the row stays.
    sqlx::query(
        "INSERT INTO json_config (config_name, config_path, content, reader_datasource_id,
             writer_datasource_id, owner, insert_time, update_time)
         VALUES ('mysql-to-stream', 'configs/mysql-to-stream.json', '{}', ?, NULL, 'etl-team',
                 UTC_TIMESTAMP(), UTC_TIMESTAMP())",
    )
    .bind(ids[3])
    .execute(&api.db.pool)
    .await
    .expect("a config");
    let used = api
        .bare("DELETE", &format!("/api/datasource/delete?id={}", ids[3]))
        .await;
    assert_eq!(used.status, StatusCode::CONFLICT, "{}", used.body);
    assert_eq!(used.body["code"], 4090);
    assert!(used.errmsg().contains("mysql-to-stream"), "{}", used.body);
    assert_eq!(api.db.count("datasource").await, 1);

    // Once the config no longer uses it, it goes.
    sqlx::query("DELETE FROM json_config")
        .execute(&api.db.pool)
        .await
        .expect("delete config");
    let freed = api
        .json("POST", "/api/datasource/delete", json!({"id": ids[3]}))
        .await;
    assert_eq!(freed.status, StatusCode::OK, "{}", freed.body);
    assert_eq!(api.db.count("datasource").await, 0);
}

// ---------------------------------------------------------------------------------------
// query / list

#[tokio::test]
async fn query_pages_by_ten_and_filters_by_type_and_list_returns_all() {
    let api = Api::new().await;
    for n in 0..15 {
        let kind = if n % 5 == 4 { "postgresql" } else { "mysql" };
        api.save(json!({"source_name": format!("ds-{n:02}"), "db_type": kind,
            "host": "127.0.0.1", "db_name": "d", "username": "u", "password": SECRET}))
            .await;
    }
    let first = api.get("/api/datasource/query").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.data()["page"], 1);
    assert_eq!(first.data()["pageSize"], 10);
    assert_eq!(first.data()["total"], 15);
    let items = first.data()["items"].as_array().expect("items");
    assert_eq!(items.len(), 10);
    assert_eq!(items[0]["source_name"], "ds-00");
    assert!(items.iter().all(|i| i["password"] == "******"));
    let ids: Vec<u64> = items.iter().filter_map(|i| i["id"].as_u64()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ordered by id: {ids:?}"
    );

    let second = api.get("/api/datasource/query?page=2&pageSize=10").await;
    assert_eq!(second.data()["items"].as_array().expect("items").len(), 5);
    assert_eq!(second.data()["items"][0]["source_name"], "ds-10");

    let pg = api
        .get("/api/datasource/query?page=1&pageSize=2&db_type=postgresql")
        .await;
    assert_eq!(pg.data()["total"], 3);
    assert_eq!(pg.data()["pageSize"], 2);
    let names: Vec<&str> = pg.data()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["source_name"].as_str())
        .collect();
    assert_eq!(names, ["ds-04", "ds-09"]);
    // An empty filter is no filter.
    let all = api.get("/api/datasource/query?db_type=").await;
    assert_eq!(all.data()["total"], 15);

    let bad_type = api.get("/api/datasource/query?db_type=oracle").await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_type.field(), "db_type");
    let bad_size = api.get("/api/datasource/query?pageSize=101").await;
    assert_eq!(bad_size.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_size.field(), "pageSize");

    let list = api.get("/api/datasource/list").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.data().as_array().expect("a list").len(), 15);
    let mysql = api.get("/api/datasource/list?db_type=mysql").await;
    let mysql = mysql.data().as_array().expect("a list").clone();
    assert_eq!(mysql.len(), 12);
    assert!(mysql.iter().all(|d| d["db_type"] == "mysql"));
    let pg = api.get("/api/datasource/list?db_type=pg").await;
    assert_eq!(pg.data().as_array().expect("a list").len(), 3);
}

#[tokio::test]
async fn every_route_needs_a_token_with_the_sync_scope() {
    let api = Api::new().await;
    let anonymous = Request::builder()
        .uri("/api/datasource/list")
        .body(Body::empty())
        .expect("request");
    let anonymous = api.send(anonymous).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let other = auth::mint(&api.db.pool, "cctv-writer", &["cctv:write".to_owned()])
        .await
        .expect("mint")
        .token;
    let wrong_scope = Request::builder()
        .uri("/api/datasource/list")
        .header(header::AUTHORIZATION, format!("Bearer {other}"))
        .body(Body::empty())
        .expect("request");
    let wrong_scope = api.send(wrong_scope).await;
    assert_eq!(wrong_scope.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong_scope.body["code"], 4030);
    let doc = Request::builder()
        .uri("/openapi.json")
        .body(Body::empty())
        .expect("request");
    let doc = api.send(doc).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["paths"]["/api/datasource/ping"]["post"].is_object());
}

// ---------------------------------------------------------------------------------------
// ping

#[tokio::test]
async fn ping_reaches_the_local_mariadb_and_classifies_each_failure() {
    let api = Api::new().await;
    // The original's body, port as a string; root has no password over TCP here.
    let reachable = api
        .json(
            "POST",
            "/api/datasource/ping",
            json!({"source_name": "mysql", "description": "local", "host": "127.0.0.1",
                "port": "3306", "user": "root", "password": "", "database": api.db.name,
                "db_type": "mysql"}),
        )
        .await;
    assert_eq!(reachable.status, StatusCode::OK, "{}", reachable.body);
    assert_eq!(reachable.data()["reachable"], true, "{}", reachable.body);
    assert!(
        !reachable.data()["server_version"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{}",
        reachable.body
    );
    assert!(reachable.data()["latency_ms"].is_u64());
    assert!(reachable.data()["reason"].is_null());

    let ping = |body: Value| api.json("POST", "/api/datasource/ping", body);
    let failure = |reply: &Reply, reason: &str| {
        assert_eq!(reply.status, StatusCode::OK, "{reason}: {}", reply.body);
        assert_eq!(reply.data()["reachable"], false, "{reason}: {}", reply.body);
        assert_eq!(reply.data()["reason"], reason, "{}", reply.body);
        assert!(
            !reply.data()["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    };

    let closed = ping(
        json!({"db_type": "mysql", "host": "127.0.0.1", "port": closed_port(),
        "username": "root", "password": SECRET, "db_name": "mysql"}),
    )
    .await;
    failure(&closed, "unreachable");

    let wrong = ping(
        json!({"db_type": "mysql", "host": "127.0.0.1", "port": 3306,
        "user": "root", "password": WRONG, "database": "mysql"}),
    )
    .await;
    failure(&wrong, "authentication_failed");

    let unknown = ping(
        json!({"db_type": "mysql", "host": "127.0.0.1", "port": 3306,
        "user": "root", "password": "", "database": "no_such_database_3f1c"}),
    )
    .await;
    failure(&unknown, "unknown_database");

    // Outside the allow-list: 403, and nothing is resolved or connected.
    let outside = ping(json!({"db_type": "mysql", "host": "10.1.2.3", "port": 3306,
        "user": "root", "password": SECRET, "database": "city"}))
    .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{}", outside.body);
    assert_eq!(outside.body["code"], 4030);
    assert!(outside.errmsg().contains("10.1.2.3"), "{}", outside.body);
    assert!(
        outside.errmsg().contains("SYNC_ALLOWED_HOSTS"),
        "{}",
        outside.body
    );

    let bad = ping(json!({"db_type": "mysql", "host": "127.0.0.1", "port": 3306})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.field(), "database");
    let nothing = api.bare("POST", "/api/datasource/ping").await;
    assert_eq!(nothing.status, StatusCode::BAD_REQUEST, "{}", nothing.body);
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_setting() {
    let api = Api::with(|s| s.connect_timeout = Duration::from_millis(300)).await;
    let (port, listener) = silent_port().await;
    let started = std::time::Instant::now();
    let reply = api
        .json(
            "POST",
            "/api/datasource/ping",
            json!({"db_type": "mysql", "host": "127.0.0.1", "port": port, "user": "root",
                "password": SECRET, "database": "mysql"}),
        )
        .await;
    listener.abort();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.data()["reachable"], false);
    assert_eq!(reply.data()["reason"], "timeout", "{}", reply.body);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn ping_by_id_uses_the_saved_datasource_and_its_password() {
    let api = Api::new().await;
    let id = api.save_local_mysql("local").await;
    let by_query = api
        .bare("POST", &format!("/api/datasource/ping?id={id}"))
        .await;
    assert_eq!(by_query.status, StatusCode::OK, "{}", by_query.body);
    assert_eq!(by_query.data()["reachable"], true, "{}", by_query.body);
    let by_body = api
        .json("POST", "/api/datasource/ping", json!({"id": id}))
        .await;
    assert_eq!(by_body.data()["reachable"], true, "{}", by_body.body);

    // The stored password is decrypted and used: a wrong one fails authentication.
    let wrong = api
        .save(
            json!({"source_name": "wrong", "db_type": "mysql", "host": "127.0.0.1",
            "db_name": api.db.name, "username": "root", "password": WRONG}),
        )
        .await;
    let wrong = api
        .bare("POST", &format!("/api/datasource/ping?id={}", wrong["id"]))
        .await;
    assert_eq!(
        wrong.data()["reason"],
        "authentication_failed",
        "{}",
        wrong.body
    );

    let unknown = api
        .bare("POST", &format!("/api/datasource/ping?id={}", id + 100))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let both = api
        .json(
            "POST",
            &format!("/api/datasource/ping?id={id}"),
            json!({"host": "127.0.0.1", "db_type": "mysql"}),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST, "{}", both.body);
}

// ---------------------------------------------------------------------------------------
// tables / columns

#[tokio::test]
async fn mysql_tables_and_columns_of_a_saved_datasource() {
    let api = Api::new().await;
    api.db
        .pool
        .execute(
            "CREATE TABLE city (
                id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
                province_id INT NOT NULL,
                city_name VARCHAR(64) NULL,
                description TEXT,
                price DECIMAL(12,2) NOT NULL DEFAULT 0,
                PRIMARY KEY (id),
                KEY ix_city_province (province_id)
            )",
        )
        .await
        .expect("a table");
    let id = api.save_local_mysql("local").await;

    for param in ["tableName", "table_name"] {
        let columns = api
            .get(&format!("/api/datasource/columns?id={id}&{param}=city"))
            .await;
        assert_eq!(columns.status, StatusCode::OK, "{}", columns.body);
        let columns = columns.data().as_array().expect("columns").clone();
        let names: Vec<&str> = columns.iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(
            names,
            ["id", "province_id", "city_name", "description", "price"]
        );
        assert_eq!(columns[0]["data_type"], "bigint");
        let id_type = columns[0]["column_type"].as_str().unwrap_or_default();
        assert!(
            id_type.starts_with("bigint") && id_type.ends_with("unsigned"),
            "{id_type}"
        );
        assert_eq!(columns[0]["nullable"], false);
        assert_eq!(columns[0]["key"], "PRI");
        assert_eq!(columns[1]["key"], "MUL");
        assert_eq!(columns[2]["data_type"], "varchar");
        assert_eq!(columns[2]["column_type"], "varchar(64)");
        assert_eq!(columns[2]["nullable"], true);
        assert_eq!(columns[2]["key"], "");
        assert_eq!(columns[4]["column_type"], "decimal(12,2)");
    }

    let unknown = api
        .get(&format!(
            "/api/datasource/columns?id={id}&tableName=no_such_table"
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let no_table = api.get(&format!("/api/datasource/columns?id={id}")).await;
    assert_eq!(no_table.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_table.field(), "tableName");
    let no_id = api.get("/api/datasource/columns?tableName=city").await;
    assert_eq!(no_id.field(), "id");
    let no_datasource = api
        .get(&format!(
            "/api/datasource/columns?id={}&tableName=city",
            id + 100
        ))
        .await;
    assert_eq!(no_datasource.status, StatusCode::NOT_FOUND);

    let tables = api.get(&format!("/api/datasource/tables?id={id}")).await;
    assert_eq!(tables.status, StatusCode::OK, "{}", tables.body);
    let tables = tables.data().as_array().expect("tables").clone();
    let city = tables
        .iter()
        .find(|t| t["name"] == "city")
        .expect("city is listed");
    assert_eq!(city["table_type"], "BASE TABLE");
    assert!(tables.iter().any(|t| t["name"] == "datasource"));

    // A datasource that cannot be reached: 503 with the class; outside the list: 403.
    let gone = api
        .save(
            json!({"source_name": "gone", "db_type": "mysql", "host": "127.0.0.1",
            "port": closed_port(), "db_name": "d", "username": "u", "password": SECRET}),
        )
        .await;
    let gone = api
        .get(&format!("/api/datasource/tables?id={}", gone["id"]))
        .await;
    assert_eq!(
        gone.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        gone.body
    );
    assert_eq!(gone.body["code"], 5030);
    assert!(gone.errmsg().contains("unreachable"), "{}", gone.body);
    let outside = api
        .save(
            json!({"source_name": "outside", "db_type": "mysql", "host": "10.1.2.3",
            "db_name": "d", "username": "u", "password": SECRET}),
        )
        .await;
    let outside = api
        .get(&format!(
            "/api/datasource/columns?id={}&tableName=city",
            outside["id"]
        ))
        .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{}", outside.body);
    assert!(
        outside.errmsg().contains("SYNC_ALLOWED_HOSTS"),
        "{}",
        outside.body
    );
}

/// A schema of its own in the local PostgreSQL's `postgres` database, dropped afterwards.
struct PgSchema {
    name: String,
}

impl PgSchema {
    async fn new() -> Self {
        let name = format!("it_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let mut conn = PgConnection::connect(&postgres_url())
            .await
            .expect("PostgreSQL answers");
        conn.execute(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA {name};
             CREATE TABLE {name}.city (
                 id BIGSERIAL PRIMARY KEY,
                 code VARCHAR(8) NOT NULL UNIQUE,
                 city_name VARCHAR(64),
                 amount NUMERIC(12,2) NOT NULL DEFAULT 0,
                 note TEXT
             );"
        )))
        .await
        .expect("a schema and a table");
        Self { name }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _joined = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&postgres_url()).await {
                    let _dropped = conn.execute(sqlx::AssertSqlSafe(sql)).await;
                }
            });
        })
        .join();
    }
}

#[tokio::test]
async fn postgresql_ping_tables_and_columns() {
    let api = Api::new().await;
    let schema = PgSchema::new().await;
    let reachable = api
        .json(
            "POST",
            "/api/datasource/ping",
            json!({"db_type": "postgresql", "host": "127.0.0.1", "port": 5432,
                "user": "postgres", "password": "", "database": "postgres"}),
        )
        .await;
    assert_eq!(reachable.status, StatusCode::OK, "{}", reachable.body);
    assert_eq!(reachable.data()["reachable"], true, "{}", reachable.body);
    assert!(reachable.data()["server_version"].is_string());
    let unknown = api
        .json(
            "POST",
            "/api/datasource/ping",
            json!({"db_type": "postgresql", "host": "127.0.0.1", "user": "postgres",
                "database": "no_such_database_3f1c"}),
        )
        .await;
    assert_eq!(
        unknown.data()["reason"],
        "unknown_database",
        "{}",
        unknown.body
    );

    // Trust authentication ignores the password; it is still stored encrypted and hidden.
    let saved = api
        .save(json!({"source_name": "local-pg", "db_type": "postgresql",
            "host": "127.0.0.1", "db_name": "postgres", "username": "postgres",
            "password": SECRET}))
        .await;
    assert_eq!(saved["port"], 5432);
    let id = saved["id"].as_u64().expect("id");
    api.assert_stored(id, SECRET).await;
    let by_id = api
        .bare("POST", &format!("/api/datasource/ping?id={id}"))
        .await;
    assert_eq!(by_id.data()["reachable"], true, "{}", by_id.body);

    let table = format!("{}.city", schema.name);
    let tables = api.get(&format!("/api/datasource/tables?id={id}")).await;
    assert_eq!(tables.status, StatusCode::OK, "{}", tables.body);
    assert!(
        tables
            .data()
            .as_array()
            .expect("tables")
            .iter()
            .any(|t| t["name"] == table.as_str() && t["table_type"] == "BASE TABLE"),
        "{}",
        tables.body
    );
    let columns = api
        .get(&format!(
            "/api/datasource/columns?id={id}&table_name={table}"
        ))
        .await;
    assert_eq!(columns.status, StatusCode::OK, "{}", columns.body);
    let columns = columns.data().as_array().expect("columns").clone();
    let names: Vec<&str> = columns.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["id", "code", "city_name", "amount", "note"]);
    assert_eq!(columns[0]["data_type"], "bigint");
    assert_eq!(columns[0]["column_type"], "int8");
    assert_eq!(columns[0]["nullable"], false);
    assert_eq!(columns[0]["key"], "PRI");
    assert_eq!(columns[1]["key"], "UNI");
    assert_eq!(columns[2]["data_type"], "character varying");
    assert_eq!(columns[2]["nullable"], true);
    assert_eq!(columns[3]["data_type"], "numeric");
    assert_eq!(columns[4]["data_type"], "text");
    let missing = api
        .get(&format!(
            "/api/datasource/columns?id={id}&tableName={}.nothing",
            schema.name
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}

// ---------------------------------------------------------------------------------------
// The sample events

#[tokio::test]
async fn the_sample_api_gateway_events_reach_the_router() {
    let api = Api::new().await;
    let samples = [
        (
            "save",
            include_str!("../../../events/datasource-api/save.json"),
        ),
        (
            "save-form",
            include_str!("../../../events/datasource-api/save-form.json"),
        ),
        (
            "query",
            include_str!("../../../events/datasource-api/query.json"),
        ),
        (
            "ping",
            include_str!("../../../events/datasource-api/ping.json"),
        ),
        (
            "openapi",
            include_str!("../../../events/datasource-api/openapi.json"),
        ),
    ];
    for (name, sample) in samples {
        let event = sample.replace("REPLACE_WITH_TOKEN", &api.token);
        let request = lambda_http::request::from_str(&event)
            .unwrap_or_else(|e| panic!("{name} is an API Gateway v2 event: {e}"));
        let (parts, body) = request.into_parts();
        let reply = api
            .send(Request::from_parts(parts, Body::from(body.to_vec())))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
        if name == "openapi" {
            assert!(reply.body["paths"].is_object(), "{name}");
        } else {
            assert_eq!(reply.body["code"], 1000, "{name}: {}", reply.body);
        }
    }
    let listed = api.get("/api/datasource/list").await;
    assert_eq!(listed.data().as_array().expect("a list").len(), 2);
}

// ---------------------------------------------------------------------------------------
// Job configs and runs (/api/config/*), end to end with sync-worker

impl Api {
    /// The worker of this API's database, bucket, queue and key.
    pub(crate) fn worker(&self) -> sync_worker::Worker {
        let settings = sync_worker::WorkerSettings {
            allow: AllowList::loopback(),
            connect_timeout: Duration::from_secs(5),
            zone: chrono_tz::Asia::Shanghai,
            bucket: self.bucket.clone(),
            deadline_margin: Duration::from_secs(1),
            stale_secs: 1800,
            result_max_bytes: 65_536,
            queue_url: self.queue_url.clone(),
            checkpoint_every: Duration::from_secs(1),
            lease: Duration::from_secs(120),
        };
        sync_worker::Worker {
            pool: self.db.pool.clone(),
            s3: self.s3.clone(),
            sqs: self.sqs.clone(),
            cipher: (*self.cipher).clone(),
            settings,
        }
    }

    /// Runs `worker` over every message the queue holds, `invocations` at once (as Lambda
    /// runs a queue's messages with its MaximumConcurrency), round after round until the
    /// queue is empty; each invocation has `budget` before its deadline. Answers every
    /// message with what it came to.
    pub(crate) async fn drain(
        &self,
        worker: &sync_worker::Worker,
        invocations: usize,
        budget: Duration,
    ) -> Vec<(sync_worker::RunMessage, sync_worker::Handled)> {
        use futures_util::StreamExt;
        let mut all = Vec::new();
        for _ in 0..10_000 {
            let messages = crate::support::take_all(&self.sqs, &self.queue_url).await;
            if messages.is_empty() {
                return all;
            }
            let bodies: Vec<sync_worker::RunMessage> = messages
                .iter()
                .map(|m| serde_json::from_str(m.body().unwrap_or_default()).expect("a run message"))
                .collect();
            let handled: Vec<_> = futures_util::stream::iter(bodies)
                .map(|message| async move {
                    let deadline = tokio::time::Instant::now() + budget;
                    let handled = worker
                        .handle_message(message, deadline)
                        .await
                        .unwrap_or_else(|e| panic!("{message:?}: {e}"));
                    (message, handled)
                })
                .buffer_unordered(invocations)
                .collect()
                .await;
            all.extend(handled);
        }
        panic!("the queue never emptied")
    }

    /// The run messages the queue holds (received and deleted).
    async fn take_runs(&self) -> Vec<u64> {
        crate::support::take_all(&self.sqs, &self.queue_url)
            .await
            .iter()
            .map(|message| {
                let body: Value =
                    serde_json::from_str(message.body().unwrap_or_default()).expect("JSON");
                body["exec_log_id"].as_u64().expect("an id")
            })
            .collect()
    }
}

#[tokio::test]
async fn a_job_json_with_credentials_is_stored_with_a_datasource_reference_and_runs_through_the_worker()
 {
    let api = Api::new().await;
    let pool = &api.db.pool;
    pool.execute("CREATE TABLE city (ID INT PRIMARY KEY, PROVINCE_ID INT, CITY_NAME VARCHAR(64), DESCRIPTION VARCHAR(255)) DEFAULT CHARSET=utf8mb4").await.expect("table");
    pool.execute("INSERT INTO city VALUES (1, 11, '北京', '首都'), (2, 31, '上海', NULL)")
        .await
        .expect("rows");
    pool.execute("CREATE TABLE city_copy (ID INT PRIMARY KEY, PROVINCE_ID INT, CITY_NAME VARCHAR(64), DESCRIPTION VARCHAR(255)) DEFAULT CHARSET=utf8mb4").await.expect("table");
    // root has no password here; a second account with one proves it never leaves.
    let user = format!("sync_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    pool.execute(sqlx::AssertSqlSafe(format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{SECRET}'"
    )))
    .await
    .expect("user");
    pool.execute(sqlx::AssertSqlSafe(format!(
        "GRANT ALL ON `{}`.* TO '{user}'@'127.0.0.1'",
        api.db.name
    )))
    .await
    .expect("grant");
    let url = format!("jdbc:mysql://127.0.0.1:3306/{}", api.db.name);
    let job = json!({"job": {"setting": {"speed": {"channel": 1}}, "content": [{
        "reader": {"name": "mysqlreader", "parameter": {"username": user, "password": SECRET,
            "column": ["ID", "PROVINCE_ID", "CITY_NAME", "DESCRIPTION"], "splitPk": "ID",
            "connection": [{"table": ["city"], "jdbcUrl": [url]}]}},
        "writer": {"name": "mysqlwriter", "parameter": {"username": user, "password": SECRET,
            "column": ["ID", "PROVINCE_ID", "CITY_NAME", "DESCRIPTION"], "writeMode": "replace",
            "connection": [{"table": ["city_copy"], "jdbcUrl": url}]}}}]}});
    let saved = api
        .json(
            "POST",
            "/api/config/save",
            json!({"config_name": "city copy", "content": job}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let config = saved.data().clone();
    let id = config["id"].as_u64().expect("id");
    let reader_id = config["reader_datasource_id"]
        .as_u64()
        .expect("a reader datasource");
    assert_eq!(
        config["writer_datasource_id"].as_u64(),
        Some(reader_id),
        "one connection, one datasource"
    );
    assert_eq!(
        config["content"]["job"]["content"][0]["reader"]["parameter"]["datasourceId"],
        reader_id
    );
    api.assert_stored(reader_id, SECRET).await;
    let stored: String = sqlx::query_scalar("SELECT content FROM json_config WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("row");
    assert!(
        !stored.contains(SECRET) && !stored.contains("jdbcUrl"),
        "{stored}"
    );
    let path = config["config_path"].as_str().expect("path");
    let object = api
        .s3
        .get_object()
        .bucket(&api.bucket)
        .key(path)
        .send()
        .await
        .expect("the JSON in S3");
    let text = String::from_utf8(
        object
            .body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec(),
    )
    .expect("utf-8");
    assert!(
        !text.contains(SECRET) && text.contains("datasourceId"),
        "{text}"
    );

    // The same name again: 409. A second save of the same connection reuses the datasource.
    let again = api
        .json(
            "POST",
            "/api/config/save",
            json!({"config_name": "city copy", "content": job}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    // exec answers 202 with a queued run; the worker runs it; a redelivery does nothing.
    let queued = api.bare("POST", &format!("/api/config/exec?id={id}")).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let run_id = queued.data()["exec_log_id"].as_u64().expect("run id");
    assert_eq!(api.take_runs().await, [run_id]);
    let worker = api.worker();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let plan = sync_worker::RunMessage {
        exec_log_id: run_id,
        range: None,
    };
    // Keys 1 and 2 with splitPk: one key range and the NULL slice.
    assert_eq!(
        worker.handle_message(plan, deadline).await.expect("plans"),
        sync_worker::Handled::Planned(2)
    );
    assert_eq!(
        worker
            .handle_message(plan, deadline)
            .await
            .expect("a redelivery"),
        sync_worker::Handled::AlreadyTaken("running".into())
    );
    let handled = api.drain(&worker, 2, Duration::from_secs(60)).await;
    assert_eq!(
        handled
            .iter()
            .filter(|(_, h)| *h == sync_worker::Handled::Range("done"))
            .count(),
        2,
        "{handled:?}"
    );
    assert_eq!(
        worker
            .handle_message(plan, deadline)
            .await
            .expect("a late redelivery"),
        sync_worker::Handled::AlreadyTaken("succeeded".into())
    );
    let copied: Vec<String> =
        sqlx::query_scalar("SELECT CONCAT_WS('|', ID, CITY_NAME) FROM city_copy ORDER BY ID")
            .fetch_all(pool)
            .await
            .expect("rows");
    assert_eq!(copied, ["1|北京", "2|上海"]);

    let logs = api.get(&format!("/api/config/logs?config_id={id}")).await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);
    assert_eq!(logs.data()["total"], 1);
    assert_eq!(logs.data()["items"][0]["status"], "succeeded");
    assert_eq!(logs.data()["items"][0]["records_written"], 2);
    let log = api.get(&format!("/api/config/log?id={run_id}")).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let lines: Vec<&str> = log.data()["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("读出记录总数") && l.ends_with(" 2")),
        "{lines:#?}"
    );
    assert_eq!(log.data()["summary"]["summary"]["written_records"], 2);
    let page = api
        .get(&format!("/api/config/log?id={run_id}&from=2&lines=3"))
        .await;
    assert_eq!(page.data()["lines"].as_array().map(Vec::len), Some(3));
    assert_eq!(page.data()["lines"][0], log.data()["lines"][1]);

    // The datasource is in use: its delete is refused; the config's delete removes its runs.
    let refused = api
        .bare("POST", &format!("/api/datasource/delete?id={reader_id}"))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let deleted = api
        .bare("DELETE", &format!("/api/config/delete?id={id}"))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(api.db.count("exec_log").await, 0);
    assert_eq!(api.db.count("json_config").await, 0);
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP USER '{user}'@'127.0.0.1'"
    )))
    .await
    .expect("drop user");
}

#[tokio::test]
async fn the_builder_makes_a_config_and_bad_jobs_name_the_json_path() {
    let api = Api::new().await;
    let source = api.save_local_mysql("local").await;
    let builder = json!({"config_name": "built", "channel": 2,
        "reader": {"datasource_id": source, "table": "t", "column": ["id", "v"], "splitPk": "id"},
        "writer": {"datasource_id": source, "table": "u", "column": ["id", "v"], "writeMode": "update"}});
    let saved = api.json("POST", "/api/config/save", builder).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let content = &saved.data()["content"]["job"];
    assert_eq!(content["setting"]["speed"]["channel"], 2);
    assert_eq!(content["content"][0]["reader"]["name"], "mysqlreader");
    assert_eq!(
        content["content"][0]["writer"]["parameter"]["writeMode"],
        "update"
    );
    for (job, path) in [
        (
            json!({"job": {"content": [{"reader": {"name": "oraclereader", "parameter": {}}, "writer": {"name": "streamwriter", "parameter": {}}}]}}),
            "job.content[0].reader.name",
        ),
        (
            json!({"job": {"setting": {"errorLimit": {"percentage": 3}}, "content": [{"reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 1, "column": [{"type": "long", "value": "1"}]}}, "writer": {"name": "streamwriter", "parameter": {}}}]}}),
            "job.setting.errorLimit.percentage",
        ),
        (
            json!({"job": {"content": [{"reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 1, "column": [{"type": "long", "value": "1"}]}},
            "writer": {"name": "postgresqlwriter", "parameter": {"username": "u", "password": WRONG, "writeMode": "replace", "column": ["a"],
                "connection": [{"table": ["t"], "jdbcUrl": "jdbc:postgresql://127.0.0.1/x"}]}}}]}}),
            "job.content[0].writer.parameter.writeMode",
        ),
        (
            json!({"job": {"content": [{"reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 1, "column": [{"type": "long", "value": "1"}]}},
            "writer": {"name": "mysqlwriter", "parameter": {"datasourceId": source, "column": ["a", "b"], "connection": [{"table": ["t"]}]}}}]}}),
            "job.content[0].writer.parameter.column",
        ),
        (
            json!({"job": {"content": [{"reader": {"name": "streamreader", "parameter": {"sliceRecordCount": 1, "colum": []}}, "writer": {"name": "streamwriter", "parameter": {}}}]}}),
            "job.content[0].reader.parameter.colum",
        ),
    ] {
        let refused = api
            .json(
                "POST",
                "/api/config/save",
                json!({"config_name": "bad", "content": job}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert!(
            refused.errmsg().contains(path) || refused.field() == path,
            "{path}: {}",
            refused.body
        );
    }
    assert_eq!(
        api.db.count("json_config").await,
        1,
        "nothing of a refused job is stored"
    );
    let listed = api.get("/api/config/query?page=1&pageSize=10").await;
    assert_eq!(listed.data()["total"], 1);
    let unknown = api.bare("POST", "/api/config/exec?id=999").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
