//! Ad counters (system 004) end to end on MariaDB and moto SQS: admin routes, public hits
//! queued to SQS, the worker folding what the queue holds exactly once, the daily archive.

use std::time::Duration;

use ad_api::{AdSettings, AppState};
use ad_counter_worker::{FoldSettings, fold, handle};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use chrono::{TimeDelta, Utc};
use common::{
    ads::{HitEvent, HitKind, VisitorId},
    http::auth,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestDb, sqs};

const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

struct Ads {
    db: TestDb,
    state: AppState,
    router: Router,
    token: String,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Reply {
    fn data(&self) -> &Value {
        &self.body["data"]
    }
}

async fn new_queue(client: &aws_sdk_sqs::Client) -> String {
    client
        .create_queue()
        .queue_name(format!("ads-{}", uuid::Uuid::new_v4().simple()))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("queue url")
}

impl Ads {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(adjust: impl FnOnce(&mut AdSettings)) -> Self {
        let db = TestDb::new().await;
        let sqs = sqs().await;
        let queue_url = new_queue(&sqs).await;
        let mut settings = AdSettings::new(
            queue_url.clone(),
            SecretString::from("integration-test-salt-0123456789"),
        );
        adjust(&mut settings);
        let state = AppState::new(db.pool.clone(), settings, sqs.clone());
        let token = auth::mint(&db.pool, "ads-admin", &["ads:admin".to_owned()])
            .await
            .expect("mint")
            .token;
        let router = ad_api::router(
            state.clone(),
            auth::Tokens::new(db.pool.clone(), Duration::ZERO),
        );
        Self {
            db,
            state,
            router,
            token,
            queue_url,
            sqs,
        }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn admin(&self, method: &str, uri: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        let body = match body {
            Some(b) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    async fn form(&self, method: &str, uri: &str, form: &str) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .expect("request");
        self.send(request).await
    }

    async fn public(
        &self,
        method: &str,
        uri: &str,
        user_agent: &str,
        cookie: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::USER_AGENT, user_agent)
            .header("x-forwarded-for", "203.0.113.7");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).expect("request"))
            .await
    }

    /// A group, an image and a style for `system`; answers the style.
    async fn style(&self, system: &str, extra: Value) -> Value {
        let group = self
            .admin(
                "POST",
                "/v1/advert/group",
                Some(json!({"group": format!("g-{}", uuid::Uuid::new_v4().simple()), "note": "n"})),
            )
            .await;
        assert_eq!(group.status, StatusCode::OK, "{}", group.body);
        let image = self
            .admin(
                "POST",
                "/v1/advert/image",
                Some(json!({"image_name": "banner", "image_url": "https://cdn.example.com/b.png", "group_id": group.data()["id"]})),
            )
            .await;
        assert_eq!(image.status, StatusCode::OK, "{}", image.body);
        let mut body = json!({"system": system, "image_id": image.data()["id"], "link_url": "https://shop.example.com/landing?x=1"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let style = self.admin("POST", "/v1/advert/style", Some(body)).await;
        assert_eq!(style.status, StatusCode::OK, "{}", style.body);
        style.data().clone()
    }

    /// Receives everything the queue holds (deleting it) and folds it through the worker's
    /// handler in batches of up to `batch` messages; answers the messages handled.
    async fn drain(&self, batch: usize) -> Vec<SqsMessage> {
        let mut all = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            let mut delete = self.sqs.delete_message_batch().queue_url(&self.queue_url);
            for (i, m) in messages.iter().enumerate() {
                delete = delete.entries(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                        .build()
                        .expect("entry"),
                );
                let mut message = SqsMessage::default();
                message.message_id = m.message_id.clone();
                message.body = m.body.clone();
                all.push(message);
            }
            delete.send().await.expect("delete");
        }
        for chunk in all.chunks(batch) {
            let response = self.fold_messages(chunk.to_vec()).await;
            assert!(response.is_empty(), "failed: {response:?}");
        }
        all
    }

    async fn fold_messages(&self, messages: Vec<SqsMessage>) -> Vec<String> {
        let mut event = SqsEvent::default();
        event.records = messages;
        handle(&self.db.pool, event, &fold_settings())
            .await
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect()
    }

    async fn totals(&self, style: &Value) -> (u64, u64) {
        let row: (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT CAST(SUM(shows) AS SIGNED), CAST(SUM(clicks) AS SIGNED) FROM ad_hour_count WHERE style_id = ?",
        )
        .bind(style["id"].as_u64())
        .fetch_one(&self.db.pool)
        .await
        .expect("sum");
        (
            u64::try_from(row.0.unwrap_or(0)).unwrap_or(0),
            u64::try_from(row.1.unwrap_or(0)).unwrap_or(0),
        )
    }
}

fn fold_settings() -> FoldSettings {
    FoldSettings {
        shards: 4,
        zone: ZONE,
        ledger_days: 15,
        click_block_ms: 0,
    }
}

fn message(id: usize, body: String) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(format!("m-{id}"));
    m.body = Some(body);
    m
}

fn code(style: &Value, kind: &str) -> String {
    style[format!("{kind}_code")]
        .as_str()
        .expect("code")
        .to_owned()
}

#[tokio::test]
async fn admin_routes_validate_and_deletes_keep_the_counts() {
    let ads = Ads::new().await;
    // A form body, as the seed's admin page sends.
    let group = ads
        .form("POST", "/v1/advert/group", "group=spring&note=campaign")
        .await;
    assert_eq!(group.status, StatusCode::OK, "{}", group.body);
    assert_eq!(group.body["code"], 1000);
    assert_eq!(group.data()["group"], "spring");
    let created = group.data()["create_time"].as_str().expect("time");
    assert_eq!(created.len(), 19, "{created}");
    let duplicate = ads.form("POST", "/v1/advert/group", "group=spring").await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let no_group = ads
        .admin(
            "POST",
            "/v1/advert/image",
            Some(
                json!({"image_name": "a", "image_url": "https://x.org/a.png", "group_id": 999_999}),
            ),
        )
        .await;
    assert_eq!(no_group.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_group.data()["field"], "group_id");
    let group_id = group.data()["id"].clone();
    let bad_url = ads
        .admin("POST", "/v1/advert/image", Some(json!({"image_name": "a", "image_url": "javascript:alert(1)", "group_id": group_id})))
        .await;
    assert_eq!(bad_url.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_url.data()["field"], "image_url");
    let image = ads
        .admin("POST", "/v1/advert/image", Some(json!({"image_name": "a", "image_url": "https://x.org/a.png", "group_id": group_id})))
        .await;
    assert_eq!(image.status, StatusCode::OK);
    let image_id = image.data()["id"].clone();
    let no_image = ads
        .admin(
            "POST",
            "/v1/advert/style",
            Some(json!({"system": "web", "image_id": 999_999, "link_url": "https://x.org"})),
        )
        .await;
    assert_eq!(no_image.data()["field"], "image_id");
    let backwards = ads
        .admin(
            "POST",
            "/v1/advert/style",
            Some(
                json!({"system": "web", "image_id": image_id, "link_url": "https://x.org",
            "up_time": "2030-01-02 00:00:00", "down_time": "2030-01-01 00:00:00"}),
            ),
        )
        .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    assert_eq!(backwards.data()["field"], "down_time");
    let style = ads
        .admin("POST", "/v1/advert/style", Some(json!({"system": "web", "image_id": image_id, "link_url": "https://x.org", "device": "mobile"})))
        .await;
    assert_eq!(style.status, StatusCode::OK, "{}", style.body);
    assert_eq!(style.data()["show_code"].as_str().map(str::len), Some(22));
    assert_ne!(style.data()["show_code"], style.data()["click_code"]);
    let paging = ads.admin("GET", "/v1/advert/group?page_size=0", None).await;
    assert_eq!(paging.status, StatusCode::BAD_REQUEST);
    assert_eq!(paging.data()["field"], "page_size");
    let listed = ads.admin("GET", "/v1/advert/style?system=web", None).await;
    assert_eq!(listed.data()["total"], 1);
    let anonymous = ads
        .send(
            Request::get("/v1/advert/group")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // A counted show, then a forced delete of the group: configuration goes, counts stay.
    let show = ads
        .public(
            "GET",
            &format!("/v1/oper/show?code={}", code(style.data(), "show")),
            "Mozilla/5.0",
            None,
        )
        .await;
    assert_eq!(show.status, StatusCode::OK, "{}", show.body);
    ads.drain(100).await;
    let refused = ads
        .admin("DELETE", &format!("/v1/advert/group?id={group_id}"), None)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let forced = ads
        .admin(
            "DELETE",
            &format!("/v1/advert/group?id={group_id}&force=true"),
            None,
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.body);
    assert_eq!(forced.data()["images"], 1);
    assert_eq!(forced.data()["styles"], 1);
    assert_eq!(ads.db.count("ad_style").await, 0);
    assert_eq!(ads.totals(style.data()).await, (1, 0));
}

#[tokio::test]
async fn public_routes_honour_live_times_at_read_time_and_cache_within_a_window() {
    // A window longer than the test: a slow machine must not see it expire midway.
    let ads = Ads::with(|s| s.cache_ttl = Duration::from_secs(600)).await;
    let live = ads
        .style(
            "shop",
            json!({"up_time": "2020-01-01 00:00:00", "weight": 5}),
        )
        .await;
    let pc_only = ads.style("shop", json!({"device": "pc"})).await;
    let later = ads
        .style("shop", json!({"up_time": "2099-01-01 00:00:00"}))
        .await;
    let disabled = ads.style("shop", json!({"enabled": false})).await;
    let listed = ads
        .public(
            "GET",
            "/v1/oper/ad_style?system=shop&device=mobile",
            "Mozilla/5.0",
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let ids: Vec<u64> = listed
        .data()
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["style_id"].as_u64())
        .collect();
    assert_eq!(
        ids,
        vec![live["id"].as_u64().expect("id")],
        "{}",
        listed.body
    );
    let cache = listed.headers[header::CACHE_CONTROL]
        .to_str()
        .expect("header");
    let max_age: u64 = cache
        .trim_start_matches("public, max-age=")
        .parse()
        .expect("seconds");
    assert!((1..=600).contains(&max_age), "{cache}");
    let all = ads
        .public("GET", "/v1/oper/ad_style?system=shop", "Mozilla/5.0", None)
        .await;
    assert_eq!(all.data().as_array().map(Vec::len), Some(2), "{}", all.body);
    assert_eq!(all.data()[0]["style_id"], live["id"], "heaviest first");
    let _ = pc_only;
    for (style, kind) in [(&later, "show"), (&disabled, "show"), (&later, "click")] {
        let reply = ads
            .public(
                "GET",
                &format!("/v1/oper/{kind}?code={}", code(style, kind)),
                "Mozilla/5.0",
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{kind}: {}",
            reply.body
        );
    }
    let unknown = ads
        .public("GET", "/v1/oper/show?code=nope", "Mozilla/5.0", None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // A show code is not a click code.
    let crossed = ads
        .public(
            "GET",
            &format!("/v1/oper/click?code={}", code(&live, "show")),
            "Mozilla/5.0",
            None,
        )
        .await;
    assert_eq!(crossed.status, StatusCode::NOT_FOUND);
    assert!(ads.drain(10).await.is_empty(), "nothing refused was queued");

    // A burst of hits reads the database once per window.
    let loads = ads.state.catalog.loads();
    for _ in 0..200 {
        let reply = ads
            .public(
                "GET",
                &format!("/v1/oper/show?code={}", code(&live, "show")),
                "Mozilla/5.0",
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let unknown = ads
            .public("GET", "/v1/oper/show?code=made-up", "Mozilla/5.0", None)
            .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(ads.state.catalog.loads(), loads, "no query per hit");
    assert_eq!(ads.drain(100).await.len(), 200);
    assert_eq!(ads.totals(&live).await, (200, 0));
}

#[tokio::test]
async fn clicks_redirect_bots_are_ignored_and_the_cookie_keeps_a_visitor() {
    let ads = Ads::new().await;
    let style = ads.style("app", json!({})).await;
    let click = code(&style, "click");
    let first = ads
        .public(
            "GET",
            &format!("/v1/oper/click?code={click}"),
            "Mozilla/5.0",
            None,
        )
        .await;
    assert_eq!(first.status, StatusCode::FOUND);
    assert_eq!(
        first.headers[header::LOCATION],
        "https://shop.example.com/landing?x=1"
    );
    let cookie = first.headers[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.contains("SameSite=None") && cookie.contains("Secure"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let quiet = ads
        .public(
            "GET",
            &format!("/v1/oper/click?code={click}&redirect=0"),
            "Mozilla/5.0",
            Some(&pair),
        )
        .await;
    assert_eq!(quiet.status, StatusCode::NO_CONTENT);
    assert!(
        quiet.headers.get(header::SET_COOKIE).is_none(),
        "a known visitor gets no new cookie"
    );
    let posted = ads
        .public(
            "POST",
            &format!("/v1/oper/click?code={click}"),
            "Mozilla/5.0",
            None,
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK);
    let bot = ads
        .public(
            "GET",
            &format!("/v1/oper/show?code={}", code(&style, "show")),
            "Mozilla/5.0 (compatible; Googlebot/2.1)",
            None,
        )
        .await;
    assert_eq!(bot.status, StatusCode::OK);
    assert_eq!(bot.data()["counted"], false);
    let bad = ads
        .public(
            "GET",
            &format!("/v1/oper/click?code={click}&redirect=maybe"),
            "Mozilla/5.0",
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let messages = ads.drain(100).await;
    assert_eq!(messages.len(), 3);
    let visitors: std::collections::HashSet<String> = messages
        .iter()
        .filter_map(|m| HitEvent::parse(m.body.as_deref().unwrap_or_default()).ok())
        .map(|e| e.visitor.to_hex())
        .collect();
    // The cookie holds the hash the first hit had, and the POST came from the same
    // address and agent: one visitor. No raw address in any event.
    assert_eq!(visitors.len(), 1, "{visitors:?}");
    assert!(messages.iter().all(|m| {
        !m.body
            .as_deref()
            .unwrap_or_default()
            .contains("203.0.113.7")
    }));
    assert_eq!(ads.totals(&style).await, (0, 3));
}

#[tokio::test]
async fn a_hit_the_queue_cannot_take_answers_503() {
    let ads = Ads::with(|s| s.queue_url = "http://127.0.0.1:1/000000000000/missing".into()).await;
    let style = ads.style("web", json!({})).await;
    let reply = ads
        .public(
            "GET",
            &format!("/v1/oper/show?code={}", code(&style, "show")),
            "Mozilla/5.0",
            None,
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["code"], 5030);
}

#[tokio::test]
async fn a_thousand_concurrent_hits_on_one_code_count_exactly_a_thousand() {
    let ads = Ads::new().await;
    let style = ads.style("web", json!({})).await;
    let uri = format!("/v1/oper/show?code={}", code(&style, "show"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let router = ads.router.clone();
        let uri = format!("{uri}&uid=u{i}");
        tasks.spawn(async move {
            router
                .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
                .await
                .expect("infallible")
                .status()
        });
    }
    let started = std::time::Instant::now();
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("task"), StatusCode::OK);
    }
    eprintln!("1000 hits in {:?}", started.elapsed());
    ads.drain(250).await;
    eprintln!("drained at {:?}", started.elapsed());
    assert_eq!(ads.totals(&style).await, (1000, 0));
}

fn events(style: u64, n: u64, at: chrono::DateTime<Utc>) -> Vec<HitEvent> {
    (0..n)
        .map(|i| {
            let mut e = HitEvent::new(
                if i % 10 == 0 {
                    HitKind::Click
                } else {
                    HitKind::Show
                },
                style,
                VisitorId(i % 37),
            );
            e.at = (at + TimeDelta::milliseconds(i64::try_from(i).unwrap_or(0))).timestamp_millis();
            e
        })
        .collect()
}

#[tokio::test]
async fn redelivered_and_overlapping_batches_count_once() {
    let db = TestDb::new().await;
    let settings = fold_settings();
    let batch = events(7, 1000, Utc::now() - TimeDelta::minutes(5));
    let first = fold(&db.pool, batch.clone(), &settings)
        .await
        .expect("fold");
    assert_eq!((first.counted, first.duplicates), (1000, 0));
    // The same batch again: a worker killed after its commit, before SQS deleted it.
    let again = fold(&db.pool, batch.clone(), &settings)
        .await
        .expect("fold");
    assert_eq!((again.counted, again.duplicates), (0, 1000));
    // Overlapping: half old, half new, plus an in-batch repeat.
    let mut overlap: Vec<HitEvent> = batch[500..].to_vec();
    let fresh = events(7, 300, Utc::now() - TimeDelta::minutes(1));
    overlap.extend(fresh.iter().cloned());
    overlap.push(fresh[0].clone());
    let third = fold(&db.pool, overlap, &settings).await.expect("fold");
    assert_eq!((third.counted, third.duplicates), (300, 501));
    let (shows, clicks): (i64, i64) = sqlx::query_as(
        "SELECT CAST(SUM(shows) AS SIGNED), CAST(SUM(clicks) AS SIGNED) FROM ad_hour_count WHERE style_id = 7",
    )
    .fetch_one(&db.pool)
    .await
    .expect("sum");
    assert_eq!((shows, clicks), (900 + 270, 100 + 30));
    // Parallel workers folding overlapping batches of the same hot cells stay exact.
    let shared = events(8, 2000, Utc::now() - TimeDelta::minutes(2));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let pool = db.pool.clone();
        let settings = settings.clone();
        let part: Vec<HitEvent> = shared[w * 400..w * 400 + 800].to_vec();
        tasks.spawn(async move { fold(&pool, part, &settings).await.expect("fold") });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let total: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(shows + clicks) AS SIGNED) FROM ad_hour_count WHERE style_id = 8",
    )
    .fetch_one(&db.pool)
    .await
    .expect("sum");
    assert_eq!(total, 2000);
}

#[tokio::test]
async fn a_malformed_message_fails_alone() {
    let ads = Ads::new().await;
    let good: Vec<SqsMessage> = events(3, 5, Utc::now())
        .into_iter()
        .enumerate()
        .map(|(i, e)| message(i, serde_json::to_string(&e).expect("json")))
        .collect();
    let mut batch = good;
    batch.push(message(99, "{\"id\": \"not a uuid\"}".into()));
    let old = {
        let mut e = HitEvent::new(HitKind::Show, 3, VisitorId(1));
        e.at = (Utc::now() - TimeDelta::days(20)).timestamp_millis();
        e
    };
    batch.push(message(98, serde_json::to_string(&old).expect("json")));
    let failed = ads.fold_messages(batch).await;
    assert_eq!(failed, vec!["m-99".to_owned(), "m-98".to_owned()]);
    let total: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(shows + clicks) AS SIGNED) FROM ad_hour_count WHERE style_id = 3",
    )
    .fetch_one(&ads.db.pool)
    .await
    .expect("sum");
    assert_eq!(total, 5);
}

#[tokio::test]
async fn a_hundred_thousand_distinct_visitors_are_estimated_within_two_percent() {
    let db = TestDb::new().await;
    let at = Utc::now() - TimeDelta::minutes(10);
    let all: Vec<HitEvent> = (0..100_000_u64)
        .map(|v| {
            let mut e = HitEvent::new(
                HitKind::Show,
                11,
                VisitorId(v.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            );
            e.at = at.timestamp_millis();
            e
        })
        .collect();
    for chunk in all.chunks(10_000) {
        fold(&db.pool, chunk.to_vec(), &fold_settings())
            .await
            .expect("fold");
    }
    let day = at.with_timezone(&ZONE).date_naive();
    let figures = common::ads::live_day_figures(
        &mut db.pool.acquire().await.expect("conn"),
        day,
        ZONE,
        &common::ads::StyleFilter::All,
    )
    .await
    .expect("figures");
    let visitors = figures[&11].visitors;
    #[allow(clippy::cast_precision_loss)]
    let error = (visitors as f64 - 100_000.0).abs() / 100_000.0;
    assert!(error <= 0.02, "estimate {visitors}: error {error:.4}");
    assert_eq!(figures[&11].shows, 100_000);
}

#[tokio::test]
async fn the_archive_fills_days_once_and_redoes_a_day_a_late_event_reopens() {
    let ads = Ads::new().await;
    let style = ads.style("web", json!({})).await;
    let id = style["id"].as_u64().expect("id");
    let now = Utc::now();
    let today = now.with_timezone(&ZONE).date_naive();
    let yesterday = today.pred_opt().expect("day");
    let (day_start, _) = common::ads::day_bounds(yesterday, ZONE);
    let noon = day_start.and_utc() + TimeDelta::hours(12);
    fold(&ads.db.pool, events(id, 200, noon), &fold_settings())
        .await
        .expect("fold");
    fold(&ads.db.pool, events(id, 50, now), &fold_settings())
        .await
        .expect("fold");
    let run = |payload: Value| {
        let pool = ads.db.pool.clone();
        async move {
            ad_archive::handle(
                &pool,
                payload,
                now,
                ZONE,
                15,
                common::job::Deadline::after(Duration::from_secs(600)),
            )
            .await
            .expect("archive")
        }
    };
    let first = run(json!({})).await;
    assert_eq!(first["days"], 1, "{first}");
    let archived: (u64, u64, Option<f64>, u64) = sqlx::query_as(
        "SELECT shows, clicks, ctr, visitors FROM ad_ctr WHERE day = ? AND style_id = ?",
    )
    .bind(yesterday)
    .bind(id)
    .fetch_one(&ads.db.pool)
    .await
    .expect("row");
    assert_eq!((archived.0, archived.1), (180, 20));
    assert_eq!(archived.2, Some(20.0 / 180.0));
    assert_eq!(archived.3, 37);
    let sketches: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM ad_hour_visitors WHERE hour_utc < ?")
            .bind(day_start + TimeDelta::hours(24))
            .fetch_one(&ads.db.pool)
            .await
            .expect("count");
    assert_eq!(
        sketches, 1,
        "yesterday's sketch rows compacted to one per style and hour"
    );
    let rerun = run(json!({})).await;
    assert_eq!(rerun["days"], 0, "{rerun}");
    // A late event for yesterday reopens it; the next run redoes it.
    let late = fold(
        &ads.db.pool,
        events(id, 1, noon + TimeDelta::minutes(1)),
        &fold_settings(),
    )
    .await
    .expect("fold");
    assert_eq!(late.days_reopened, 1);
    let redo = run(json!({})).await;
    assert_eq!(redo["days"], 1, "{redo}");
    // The day route: yesterday from the archive, today live from the hourly counts.
    let day = ads
        .admin(
            "GET",
            &format!("/v1/advert/day?from={yesterday}&to={today}&style_id={id}"),
            None,
        )
        .await;
    assert_eq!(day.status, StatusCode::OK, "{}", day.body);
    let rows = day.data().as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{}", day.body);
    assert_eq!(rows[0]["archived"], true);
    assert_eq!(rows[0]["clicks"], 21);
    assert_eq!(rows[1]["archived"], false);
    assert_eq!(
        rows[1]["shows"].as_u64().unwrap_or(0) + rows[1]["clicks"].as_u64().unwrap_or(0),
        50
    );
    let hours = ads
        .admin(
            "GET",
            &format!("/v1/advert/hour?date={yesterday}&style_id={id}"),
            None,
        )
        .await;
    assert_eq!(hours.status, StatusCode::OK, "{}", hours.body);
    assert_eq!(hours.data()["hours"].as_array().map(Vec::len), Some(24));
    assert_eq!(hours.data()["shows"]["12"], 180);
    assert_eq!(hours.data()["clicks"]["12"], 21);
    let bad = ads
        .admin("GET", "/v1/advert/day?from=2024-05-02&to=2024-05-01", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let two = ads
        .admin(
            "GET",
            "/v1/advert/day?from=2024-05-01&to=2024-05-01&style_id=1&system=web",
            None,
        )
        .await;
    assert_eq!(two.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn clicks_within_the_block_window_count_once_per_visitor_and_ad() {
    let db = TestDb::new().await;
    let settings = FoldSettings {
        click_block_ms: 60_000,
        ..fold_settings()
    };
    let start = Utc::now() - TimeDelta::minutes(10);
    let click = |visitor: u64, seconds: i64| {
        let mut e = HitEvent::new(HitKind::Click, 21, VisitorId(visitor));
        e.at = (start + TimeDelta::seconds(seconds)).timestamp_millis();
        e
    };
    // Visitor 1 clicks at 0 s and 30 s (blocked); visitor 2 at 10 s.
    let first = fold(
        &db.pool,
        vec![click(1, 30), click(1, 0), click(2, 10)],
        &settings,
    )
    .await
    .expect("fold");
    assert_eq!((first.counted, first.clicks_blocked), (2, 1));
    // A later batch: visitor 1 at 100 s (a minute after its counted click: counts), visitor
    // 2 at 40 s (within a minute of its counted click at 10 s: blocked).
    let second = fold(&db.pool, vec![click(1, 100), click(2, 40)], &settings)
        .await
        .expect("fold");
    assert_eq!((second.counted, second.clicks_blocked), (1, 1));
    let clicks: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(clicks) AS SIGNED) FROM ad_hour_count WHERE style_id = 21",
    )
    .fetch_one(&db.pool)
    .await
    .expect("sum");
    assert_eq!(clicks, 3);
    // Off (the default), every click counts.
    let off = fold(&db.pool, vec![click(3, 0), click(3, 1)], &fold_settings())
        .await
        .expect("fold");
    assert_eq!((off.counted, off.clicks_blocked), (2, 0));
}
