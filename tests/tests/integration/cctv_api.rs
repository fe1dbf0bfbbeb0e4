//! cctv-api through its router in process: the envelope, every bad input, auth, upserts,
//! outliers, the read routes and the sample API Gateway payloads.

use axum::http::StatusCode;
use cctv_api::CctvSettings;
use chrono::Duration;
use common::http::auth;
use serde_json::{Value, json};
use tower::ServiceExt;
use utoipa::OpenApi;

use crate::cctv_support::{Api, at, count};

fn three_counts() -> Vec<Value> {
    let t = at("2024-05-01T09:00:00+09:00");
    vec![
        count("cam-1", t, 5, 10, 2),
        count("cam-1", t + Duration::minutes(5), 5, 12, 3),
        count("cam-2", t, 5, 4, 9),
    ]
}

#[tokio::test]
async fn a_batch_is_stored_in_utc_and_a_repost_upserts() {
    let api = Api::new().await;
    let first = api.post_counts(&three_counts()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.code(), 1000);
    assert!(first.body["errmsg"].is_null());
    let data = &first.body["data"];
    assert_eq!(
        (
            data["inserted"].as_u64(),
            data["updated"].as_u64(),
            data["unchanged"].as_u64()
        ),
        (Some(3), Some(0), Some(0))
    );
    assert_eq!(data["cameras_registered"], 2);

    // The same batch again: nothing doubles.
    let again = api.post_counts(&three_counts()).await;
    let data = &again.body["data"];
    assert_eq!(
        (
            data["inserted"].as_u64(),
            data["updated"].as_u64(),
            data["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3))
    );
    assert_eq!(data["cameras_registered"], 0);

    // One count corrected: one update.
    let mut corrected = three_counts();
    corrected[1]["people"] = json!(13);
    let third = api.post_counts(&corrected).await;
    let data = &third.body["data"];
    assert_eq!(
        (
            data["inserted"].as_u64(),
            data["updated"].as_u64(),
            data["unchanged"].as_u64()
        ),
        (Some(0), Some(1), Some(2))
    );
    assert_eq!(api.db.count("cctv_count").await, 3);
    let (start, people): (chrono::NaiveDateTime, u32) = sqlx::query_as(
        "SELECT start_utc, people FROM cctv_count WHERE camera_id = 'cam-1' ORDER BY start_utc DESC LIMIT 1",
    )
    .fetch_one(api.pool())
    .await
    .expect("row");
    assert_eq!(start.to_string(), "2024-05-01 00:05:00", "stored in UTC");
    assert_eq!(people, 13);
}

#[tokio::test]
async fn malformed_json_is_a_400_envelope() {
    let api = Api::new().await;
    let answer = api
        .raw(
            "POST",
            "/cctv/counts",
            Some(&api.writer),
            Some("application/json"),
            "{\"counts\": [",
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), 4000);
    assert!(
        answer.errmsg().contains("malformed JSON"),
        "{}",
        answer.body
    );
    let no_type = api
        .raw("POST", "/cctv/counts", Some(&api.writer), None, "{}")
        .await;
    assert_eq!(no_type.status, StatusCode::BAD_REQUEST);
    assert!(
        no_type.errmsg().contains("application/json"),
        "{}",
        no_type.body
    );
    assert_eq!(api.db.count("cctv_count").await, 0);
}

#[tokio::test]
async fn wrong_types_and_missing_fields_name_the_field() {
    let api = Api::new().await;
    let mut counts = three_counts();
    counts[2]["people"] = json!("twelve");
    let answer = api.post_counts(&counts).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.field(), "counts[2].people", "{}", answer.body);
    assert!(answer.reason().contains("invalid type"), "{}", answer.body);

    let mut counts = three_counts();
    counts[0]["people"] = json!(1.5);
    assert_eq!(api.post_counts(&counts).await.field(), "counts[0].people");

    let missing = api
        .post(
            Some(&api.writer),
            &json!({"counts": [{"camera_id": "cam-1"}]}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.reason().contains("missing field"),
        "{}",
        missing.body
    );

    let mut renamed = three_counts();
    renamed[0]["vehicle"] = json!(1);
    let unknown = api.post_counts(&renamed).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.reason().contains("unknown field `vehicle`"),
        "{}",
        unknown.body
    );

    let not_a_list = api.post(Some(&api.writer), &json!({"counts": 3})).await;
    assert_eq!(not_a_list.field(), "counts");
    assert_eq!(api.db.count("cctv_count").await, 0);
}

#[tokio::test]
async fn negative_counts_are_refused() {
    let api = Api::new().await;
    let mut counts = three_counts();
    counts[1]["vehicles"] = json!(-1);
    let answer = api.post_counts(&counts).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), 4000);
    assert_eq!(answer.field(), "counts[1].vehicles");
    assert_eq!(answer.reason(), "must not be negative");
    assert_eq!(api.db.count("cctv_count").await, 0, "all or nothing");
}

#[tokio::test]
async fn an_end_before_the_start_or_without_offset_is_refused() {
    let api = Api::new().await;
    let mut counts = three_counts();
    counts[0]["end"] = json!("2024-05-01T08:59:00+09:00");
    let answer = api.post_counts(&counts).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.field(), "counts[0].end");
    assert_eq!(answer.reason(), "must be after start");

    let mut counts = three_counts();
    counts[0]["end"] = counts[0]["start"].clone();
    assert_eq!(
        api.post_counts(&counts).await.reason(),
        "must be after start"
    );

    let mut counts = three_counts();
    counts[1]["start"] = json!("2024-05-01T09:05:00");
    let local = api.post_counts(&counts).await;
    assert_eq!(local.field(), "counts[1].start");
    assert!(local.reason().contains("with an offset"));

    let mut counts = three_counts();
    counts[2]["start"] = counts[0]["start"].clone();
    counts[2]["camera_id"] = json!("cam-1");
    let duplicate = api.post_counts(&counts).await;
    assert_eq!(duplicate.field(), "counts[2].start");
    assert!(duplicate.reason().contains("counts[0]"));
    assert_eq!(api.db.count("cctv_count").await, 0);
}

#[tokio::test]
async fn an_oversized_batch_is_400_and_an_oversized_body_413() {
    let api = Api::with_settings(CctvSettings {
        max_batch: 10,
        max_body_bytes: 4096,
        ..CctvSettings::default()
    })
    .await;
    let t = at("2024-05-01T00:00:00Z");
    let eleven: Vec<Value> = (0..11)
        .map(|i| count("cam-1", t + Duration::minutes(5 * i), 5, 1, 1))
        .collect();
    let answer = api.post_counts(&eleven).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.field(), "counts");
    assert!(answer.reason().contains("at most 10"), "{}", answer.body);

    let huge = json!({"counts": [], "padding": "x".repeat(5000)});
    let answer = api.post(Some(&api.writer), &huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.code(), 4130);
    assert_eq!(api.db.count("cctv_count").await, 0);
}

#[tokio::test]
async fn tokens_are_required_checked_scoped_and_revocable() {
    let api = Api::new().await;
    let body = json!({ "counts": three_counts() });

    let none = api.post(None, &body).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.code(), 4010);
    assert_eq!(none.www_authenticate.as_deref(), Some("Bearer"));

    let malformed = api
        .raw(
            "POST",
            "/cctv/counts",
            Some("not-a-token"),
            Some("application/json"),
            body.to_string(),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);
    let basic = api
        .send(
            axum::http::Request::builder()
                .method("POST")
                .uri("/cctv/counts")
                .header("authorization", "Basic dXNlcjpwYXNz")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .expect("request"),
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.errmsg(), "malformed bearer token");

    // Well-formed but never minted; and one character off a real token.
    let forged = format!("dp_{}", "0".repeat(64));
    assert_eq!(
        api.post(Some(&forged), &body).await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut off_by_one = api.writer.clone();
    let last = off_by_one.pop().expect("token");
    off_by_one.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(
        api.post(Some(&off_by_one), &body).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Missing scope: the reader may not post, the writer may not read.
    let reader_posts = api.post(Some(&api.reader), &body).await;
    assert_eq!(reader_posts.status, StatusCode::FORBIDDEN);
    assert_eq!(reader_posts.code(), 4030);
    assert!(reader_posts.errmsg().contains("cctv:write"));
    let writer_reads = api
        .get(
            "/cctv/counts?from=2024-05-01&to=2024-05-01",
            Some(&api.writer),
        )
        .await;
    assert_eq!(writer_reads.status, StatusCode::FORBIDDEN);
    assert_eq!(api.db.count("cctv_count").await, 0);

    // Valid, then revoked.
    assert_eq!(
        api.post(Some(&api.writer), &body).await.status,
        StatusCode::OK
    );
    assert!(auth::revoke(api.pool(), "writer").await.expect("revoke"));
    let revoked = api.post(Some(&api.writer), &body).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.errmsg(), "revoked token");
    assert!(
        !auth::revoke(api.pool(), "writer")
            .await
            .expect("revoke twice")
    );

    // Only the hash is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_token")
        .fetch_all(api.pool())
        .await
        .expect("hashes");
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 64 && !h.contains(&api.reader[3..]))
    );
}

#[tokio::test]
async fn every_documented_route_but_the_document_needs_a_token() {
    let api = Api::new().await;
    let doc = cctv_api::ApiDoc::openapi();
    let mut checked = 0;
    for (path, item) in &doc.paths.paths {
        let uri = path.replace("{camera_id}", "cam-1");
        for (method, operation) in [("GET", &item.get), ("POST", &item.post)] {
            if operation.is_none() {
                continue;
            }
            let answer = api
                .raw(method, &uri, None, Some("application/json"), "{}")
                .await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "the four API routes are documented");

    let public = api.get("/openapi.json", None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.body["paths"]["/cctv/counts"]["post"].is_object());
    assert_eq!(
        public.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let api = Api::new().await;
    let missing = api.get("/cctv/nothing", Some(&api.both)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), 4040);
    let method = api
        .raw("DELETE", "/cctv/counts", Some(&api.both), None, "")
        .await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(method.code(), 4050);
}

#[tokio::test]
async fn another_end_for_a_stored_start_is_a_conflict() {
    let api = Api::new().await;
    assert_eq!(
        api.post_counts(&three_counts()).await.status,
        StatusCode::OK
    );
    let mut longer = three_counts();
    longer[0]["end"] = json!("2024-05-01T09:10:00+09:00");
    let answer = api.post_counts(&longer).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.code(), 4090);
    assert!(answer.errmsg().contains("counts[0].end"), "{}", answer.body);
}

#[tokio::test]
async fn unknown_cameras_are_registered_or_refused_by_setting() {
    let api = Api::with_settings(CctvSettings {
        auto_register_cameras: false,
        ..CctvSettings::default()
    })
    .await;
    let answer = api.post_counts(&three_counts()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.field(), "counts[0].camera_id");
    assert!(answer.reason().contains("unknown camera"));
    sqlx::query("INSERT INTO cctv_camera (camera_id, registered_at) VALUES ('cam-1', NOW()), ('cam-2', NOW())")
        .execute(api.pool())
        .await
        .expect("register");
    let answer = api.post_counts(&three_counts()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["data"]["cameras_registered"], 0);
}

#[tokio::test]
async fn a_form_post_carries_one_count() {
    let api = Api::new().await;
    let form = "camera_id=cam-9&start=2024-05-01T09%3A00%3A00%2B09%3A00&end=2024-05-01T09%3A05%3A00%2B09%3A00&people=4&vehicles=1";
    let form_type = Some("application/x-www-form-urlencoded");
    let answer = api
        .raw("POST", "/cctv/counts", Some(&api.writer), form_type, form)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["data"]["inserted"], 1);
    let bad = api
        .raw(
            "POST",
            "/cctv/counts",
            Some(&api.writer),
            form_type,
            form.replace("people=4", "people=-4"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.field(), "people");
    let typed = api
        .raw(
            "POST",
            "/cctv/counts",
            Some(&api.writer),
            form_type,
            form.replace("people=4", "people=four"),
        )
        .await;
    assert_eq!(typed.status, StatusCode::BAD_REQUEST, "{}", typed.body);
}

async fn insert_stats(api: &Api, kind: &str, start: &str, people_ref: f64, vehicles_ref: f64) {
    sqlx::query(
        "INSERT INTO cctv_stats (camera_id, period_kind, period_start, weekday, period_end, samples,
             people_avg, people_ref, vehicles_avg, vehicles_ref, computed_at)
         VALUES ('cam-1', ?, ?, 0, ?, 1, 1, ?, 1, ?, NOW())",
    )
    .bind(kind)
    .bind(start)
    .bind(start)
    .bind(people_ref)
    .bind(vehicles_ref)
    .execute(api.pool())
    .await
    .expect("stats row");
}

#[tokio::test]
async fn outliers_follow_the_original_rule_made_to_work() {
    let api = Api::new().await;
    let t = at("2024-06-01T00:00:00Z");
    // No stats yet: even a huge count is not flagged.
    let early = api
        .post_counts(&[count("cam-1", t, 5, 10_000, 10_000)])
        .await;
    assert_eq!(early.body["data"]["outliers"], json!([]));
    assert_eq!(api.db.count("cctv_outlier").await, 0);

    // Day stats only: their mean reference is used (two day rows: 20 and 30 -> 25).
    insert_stats(&api, "day", "2024-05-01", 20.0, 8.0).await;
    insert_stats(&api, "day", "2024-05-02", 30.0, 12.0).await;
    let batch = [
        count("cam-1", t + Duration::minutes(5), 5, 26, 1),
        count("cam-1", t + Duration::minutes(10), 5, 1, 11),
        count("cam-1", t + Duration::minutes(15), 5, 26, 11),
        count("cam-1", t + Duration::minutes(20), 5, 25, 10),
    ];
    let answer = api.post_counts(&batch).await;
    let flagged = answer.body["data"]["outliers"]
        .as_array()
        .expect("list")
        .clone();
    let kinds: Vec<(u64, &str, &str)> = flagged
        .iter()
        .map(|f| {
            (
                f["index"].as_u64().expect("index"),
                f["outlier"].as_str().expect("kind"),
                f["reference_kind"].as_str().expect("ref"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (0, "people", "day"),
            (1, "vehicle", "day"),
            (2, "both", "day")
        ],
        "equal to the reference is not above it"
    );
    assert_eq!(flagged[0]["people_reference"], 25.0);
    assert_eq!(flagged[0]["vehicle_reference"], 10.0);

    // Week beats day, month beats week, year beats all.
    for (kind, start, reference) in [
        ("week", "2024-04-29", 100.0),
        ("month", "2024-05-01", 200.0),
        ("year", "2023-01-01", 300.0),
    ] {
        insert_stats(&api, kind, start, reference, reference).await;
        let probe = api
            .post_counts(&[count("cam-1", t + Duration::minutes(30), 5, 1000, 0)])
            .await;
        let flag = &probe.body["data"]["outliers"][0];
        assert_eq!(flag["reference_kind"], kind);
        assert_eq!(flag["people_reference"], reference);
    }

    // A camera's stats do not apply to another camera.
    let other = api.post_counts(&[count("cam-2", t, 5, 1000, 1000)]).await;
    assert_eq!(other.body["data"]["outliers"], json!([]));

    // Recorded with the reference used; a corrected re-post clears the flag.
    let listed = api
        .get(
            "/cctv/cameras/cam-1/outliers?from=2024-06-01&to=2024-06-01",
            Some(&api.reader),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["data"]["total"], 4);
    assert_eq!(listed.body["data"]["items"][0]["outlier"], "people");
    assert_eq!(
        listed.body["data"]["items"][0]["start"],
        "2024-06-01T00:05:00Z"
    );
    let fixed = api
        .post_counts(&[count("cam-1", t + Duration::minutes(5), 5, 1, 1)])
        .await;
    assert_eq!(fixed.body["data"]["updated"], 1);
    assert_eq!(api.db.count("cctv_outlier").await, 3);
}

#[tokio::test]
async fn stats_are_read_by_kind_and_range() {
    let api = Api::new().await;
    insert_stats(&api, "day", "2024-05-01", 20.0, 8.0).await;
    insert_stats(&api, "day", "2024-05-02", 30.0, 12.0).await;
    insert_stats(&api, "week", "2024-04-29", 25.0, 10.0).await;
    let days = api
        .get(
            "/cctv/cameras/cam-1/stats?kind=day&from=2024-05-02&to=2024-05-31",
            Some(&api.reader),
        )
        .await;
    // cam-1 is not registered yet: 404.
    assert_eq!(days.status, StatusCode::NOT_FOUND);
    assert_eq!(days.code(), 4040);
    sqlx::query("INSERT INTO cctv_camera (camera_id, registered_at) VALUES ('cam-1', NOW())")
        .execute(api.pool())
        .await
        .expect("camera");
    let days = api
        .get(
            "/cctv/cameras/cam-1/stats?kind=day&from=2024-05-02&to=2024-05-31",
            Some(&api.reader),
        )
        .await;
    assert_eq!(days.status, StatusCode::OK, "{}", days.body);
    let rows = days.body["data"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["period_start"], "2024-05-02");
    assert_eq!(rows[0]["people_reference"], 30.0);
    assert!(rows[0]["weekday"].is_null());
    let weeks = api
        .get(
            "/cctv/cameras/cam-1/stats?kind=week&from=2024-04-01&to=2024-05-31",
            Some(&api.reader),
        )
        .await;
    assert_eq!(weeks.body["data"].as_array().map(Vec::len), Some(1));

    let bad_kind = api
        .get(
            "/cctv/cameras/cam-1/stats?kind=fortnight&from=2024-05-01&to=2024-05-31",
            Some(&api.reader),
        )
        .await;
    assert_eq!(bad_kind.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_kind.reason().contains("unknown variant"),
        "{}",
        bad_kind.body
    );
    let bad_date = api
        .get(
            "/cctv/cameras/cam-1/stats?kind=day&from=2024-13-01&to=2024-05-31",
            Some(&api.reader),
        )
        .await;
    assert_eq!(bad_date.field(), "from");
    let backwards = api
        .get(
            "/cctv/cameras/cam-1/stats?kind=day&from=2024-05-31&to=2024-05-01",
            Some(&api.reader),
        )
        .await;
    assert_eq!(backwards.field(), "to");
    let missing = api
        .get("/cctv/cameras/cam-1/stats?kind=day", Some(&api.reader))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn raw_counts_are_paged() {
    let api = Api::new().await;
    let t = at("2024-05-01T00:00:00+09:00");
    let counts: Vec<Value> = (0..250)
        .map(|i| count("cam-1", t + Duration::minutes(5 * i), 5, i, 1))
        .collect();
    assert_eq!(api.post_counts(&counts).await.status, StatusCode::OK);
    let last = api
        .get(
            "/cctv/counts?from=2024-05-01&to=2024-05-01&page=3&page_size=100",
            Some(&api.reader),
        )
        .await;
    assert_eq!(last.status, StatusCode::OK, "{}", last.body);
    assert_eq!(last.body["data"]["total"], 250);
    let items = last.body["data"]["items"].as_array().expect("items");
    assert_eq!(items.len(), 50);
    assert_eq!(items[0]["people"], 200);
    assert_eq!(items[0]["start"], "2024-05-01T07:40:00Z");
    // One local day of Seoul is 288 five-minute intervals: 250 fit in it.
    let instant_range = api
        .get(
            "/cctv/counts?from=2024-04-30T15:00:00Z&to=2024-04-30T16:00:00Z&camera_id=cam-1",
            Some(&api.reader),
        )
        .await;
    assert_eq!(instant_range.body["data"]["total"], 12);
    let too_big = api
        .get(
            "/cctv/counts?from=2024-05-01&to=2024-05-01&page_size=5000",
            Some(&api.reader),
        )
        .await;
    assert_eq!(too_big.field(), "page_size");
    let wrong_type = api
        .get(
            "/cctv/counts?from=2024-05-01&to=2024-05-01&page=two",
            Some(&api.reader),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.code(), 4000);
}

#[tokio::test]
async fn a_database_failure_is_a_generic_500() {
    let api = Api::new().await;
    // Every POST reads the camera references from cctv_stats after upserting the counts:
    // without the table it fails mid-transaction.
    sqlx::query("DROP TABLE cctv_stats")
        .execute(api.pool())
        .await
        .expect("drop");
    let answer = api.post_counts(&three_counts()).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.code(), 5000);
    assert_eq!(answer.errmsg(), "internal error");
    assert!(!answer.body.to_string().contains("cctv_stats"));
    assert_eq!(api.db.count("cctv_count").await, 0, "the batch rolled back");
}

/// The sample API Gateway v2 events, through lambda_http's conversion, reach the routes.
#[tokio::test]
async fn the_sample_api_gateway_events_reach_the_router() {
    let api = Api::new().await;
    let call = |name: &str, sample: &str, token: &str| {
        let event = sample.replace("REPLACE_WITH_TOKEN", token);
        let request = lambda_http::request::from_str(&event)
            .unwrap_or_else(|e| panic!("{name} is an API Gateway v2 event: {e}"));
        let (parts, body) = request.into_parts();
        let body = axum::body::Body::from(body.to_vec());
        api.router
            .clone()
            .oneshot(axum::http::Request::from_parts(parts, body))
    };
    let both = api.both.clone();
    let samples = [
        (
            "post-counts",
            include_str!("../../../events/cctv-api/post-counts.json"),
            StatusCode::OK,
        ),
        (
            "post-count-form",
            include_str!("../../../events/cctv-api/post-count-form.json"),
            StatusCode::OK,
        ),
        (
            "post-counts-no-token",
            include_str!("../../../events/cctv-api/post-counts-no-token.json"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "get-counts",
            include_str!("../../../events/cctv-api/get-counts.json"),
            StatusCode::OK,
        ),
        (
            "get-stats",
            include_str!("../../../events/cctv-api/get-stats.json"),
            StatusCode::OK,
        ),
        (
            "get-outliers",
            include_str!("../../../events/cctv-api/get-outliers.json"),
            StatusCode::OK,
        ),
        (
            "openapi",
            include_str!("../../../events/cctv-api/openapi.json"),
            StatusCode::OK,
        ),
    ];
    for (name, sample, expected) in samples {
        let response = call(name, sample, &both).await.expect("infallible");
        assert_eq!(response.status(), expected, "{name}");
    }
    let listed = api
        .get(
            "/cctv/counts?from=2024-05-01&to=2024-05-01",
            Some(&api.reader),
        )
        .await;
    assert_eq!(
        listed.body["data"]["total"], 4,
        "three JSON counts and one form count"
    );
}

// --- Issue 9: defects found by trying the API as a new user would. Each test failed before
// its fix.

/// The rows of `cctv_count` as (camera, start as stored) pairs.
async fn stored_starts(api: &Api) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT camera_id, DATE_FORMAT(start_utc, '%Y-%m-%d %H:%i:%s.%f') FROM cctv_count ORDER BY camera_id, start_utc",
    )
    .fetch_all(api.pool())
    .await
    .expect("rows")
}

#[tokio::test]
async fn a_leap_second_is_refused_and_nothing_is_stored() {
    let api = Api::new().await;
    let leap = json!({"camera_id": "cam-1", "start": "2016-12-31T23:59:60Z",
        "end": "2017-01-01T00:05:00Z", "people": 1, "vehicles": 0});
    let answer = api.post_counts(std::slice::from_ref(&leap)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.code(), 4000);
    assert_eq!(answer.field(), "counts[0].start");
    assert!(answer.reason().contains("leap second"), "{}", answer.body);
    // Re-posting it is the same 400, not a 500.
    assert_eq!(
        api.post_counts(&[leap]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.db.count("cctv_count").await, 0);
    assert_eq!(api.db.count("cctv_camera").await, 0);
}

#[tokio::test]
async fn year_zero_and_implausible_dates_answer_400_in_the_envelope() {
    let api = Api::new().await;
    assert_eq!(
        api.post_counts(&three_counts()).await.status,
        StatusCode::OK
    );
    let reader = Some(api.reader.as_str());
    for uri in [
        "/cctv/counts?from=0000-01-01&to=2024-01-01",
        "/cctv/counts?from=0000-01-01T00:00:00%2B09:00&to=2024-01-01",
        "/cctv/counts?from=1999-12-31&to=2024-01-01",
        "/cctv/cameras/cam-1/outliers?from=0000-01-01&to=2024-01-01",
        "/cctv/cameras/cam-1/stats?kind=day&from=0000-01-01&to=2024-01-01",
    ] {
        let answer = api.get(uri, reader).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(answer.code(), 4000, "{uri}");
        assert_eq!(answer.field(), "from", "{uri}");
    }
    let far = api
        .get("/cctv/counts?from=2024-01-01&to=9999-12-31", reader)
        .await;
    assert_eq!(far.field(), "to", "{}", far.body);
    assert!(far.reason().contains("plausible window"), "{}", far.body);

    let mut ancient = three_counts();
    ancient[1]["start"] = json!("0000-01-01T00:00:00+09:00");
    ancient[1]["end"] = json!("0000-01-01T00:05:00+09:00");
    let answer = api.post_counts(&ancient).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.field(), "counts[1].start");
    // The window is a setting.
    let narrow = Api::with_settings(CctvSettings {
        date_window: common::instant::DateWindow::new(
            "2024-01-01".parse().expect("date"),
            "2025-01-01".parse().expect("date"),
        )
        .expect("window"),
        ..CctvSettings::default()
    })
    .await;
    let mut early = three_counts();
    early[0]["start"] = json!("2023-12-31T23:00:00Z");
    early[0]["end"] = json!("2023-12-31T23:05:00Z");
    assert_eq!(narrow.post_counts(&early).await.field(), "counts[0].start");
}

#[tokio::test]
async fn a_korean_camera_works_in_every_route() {
    let api = Api::new().await;
    let t = at("2024-06-01T09:00:00+09:00");
    let camera = "정문-카메라";
    let posted = api.post_counts(&[count(camera, t, 5, 10, 1)]).await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    assert_eq!(posted.body["data"]["cameras_registered"], 1);
    assert_eq!(posted.body["data"]["stored"][0]["camera_id"], camera);

    // The same name typed as jamo (NFD) is the same camera: an update, not a new one.
    let decomposed: String = "\u{110C}\u{1165}\u{11BC}\u{1106}\u{116E}\u{11AB}-카메라".into();
    let again = api.post_counts(&[count(&decomposed, t, 5, 11, 1)]).await;
    assert_eq!(again.body["data"]["updated"], 1, "{}", again.body);
    assert_eq!(again.body["data"]["cameras_registered"], 0);
    assert_eq!(api.db.count("cctv_camera").await, 1);

    let reader = Some(api.reader.as_str());
    let encoded = percent_encoding::utf8_percent_encode(camera, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let listed = api
        .get(
            &format!("/cctv/counts?from=2024-06-01&to=2024-06-01&camera_id={encoded}"),
            reader,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["data"]["total"], 1);
    assert_eq!(listed.body["data"]["items"][0]["camera_id"], camera);
    assert_eq!(listed.body["data"]["items"][0]["people"], 11);

    // Stats: one day row for the camera, then a spike is flagged against it.
    sqlx::query(
        "INSERT INTO cctv_stats (camera_id, period_kind, period_start, weekday, period_end, samples,
             people_avg, people_ref, vehicles_avg, vehicles_ref, computed_at)
         VALUES (?, 'day', '2024-05-31', 0, '2024-05-31', 1, 5, 20, 1, 2, NOW())",
    )
    .bind(camera)
    .execute(api.pool())
    .await
    .expect("stats row");
    let stats = api
        .get(
            &format!("/cctv/cameras/{encoded}/stats?kind=day&from=2024-05-01&to=2024-05-31"),
            reader,
        )
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    assert_eq!(stats.body["data"][0]["camera_id"], camera);
    assert_eq!(stats.body["data"][0]["kind"], "day");
    let nfd_path =
        percent_encoding::utf8_percent_encode(&decomposed, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let same = api
        .get(
            &format!("/cctv/cameras/{nfd_path}/stats?kind=day&from=2024-05-01&to=2024-05-31"),
            reader,
        )
        .await;
    assert_eq!(same.body["data"], stats.body["data"]);

    let spike = api
        .post_counts(&[count(camera, t + Duration::minutes(5), 5, 500, 0)])
        .await;
    assert_eq!(spike.body["data"]["outliers"][0]["outlier"], "people");
    let outliers = api
        .get(
            &format!("/cctv/cameras/{encoded}/outliers?from=2024-06-01&to=2024-06-01"),
            reader,
        )
        .await;
    assert_eq!(outliers.status, StatusCode::OK, "{}", outliers.body);
    assert_eq!(outliers.body["data"]["total"], 1);
    assert_eq!(outliers.body["data"]["items"][0]["camera_id"], camera);

    // Another Korean camera that is not registered is a 404, not a 500.
    let unknown = api
        .get(
            "/cctv/cameras/%EC%B9%B4/stats?kind=day&from=2024-05-01&to=2024-05-31",
            reader,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let unknown = api
        .get(
            "/cctv/cameras/%EC%B9%B4/outliers?from=2024-05-01&to=2024-05-31",
            reader,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let none = api
        .get(
            "/cctv/counts?from=2024-06-01&to=2024-06-01&camera_id=%EC%B9%B4",
            reader,
        )
        .await;
    assert_eq!(none.status, StatusCode::OK, "{}", none.body);
    assert_eq!(none.body["data"]["total"], 0);
}

#[tokio::test]
async fn fractions_of_a_second_are_stored_to_the_millisecond_and_answered() {
    let api = Api::new().await;
    let interval = |start: &str, end: &str, people: i64| json!({"camera_id": "cam-1", "start": start, "end": end, "people": people, "vehicles": 0});
    let batch = [
        interval(
            "2024-05-01T09:00:00.200+09:00",
            "2024-05-01T09:05:00.200+09:00",
            1,
        ),
        interval(
            "2024-05-01T09:00:00.700+09:00",
            "2024-05-01T09:05:00.700+09:00",
            2,
        ),
    ];
    let answer = api.post_counts(&batch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["data"]["inserted"], 2);
    let stored = &answer.body["data"]["stored"];
    assert_eq!(stored[0]["start"], "2024-05-01T00:00:00.200Z");
    assert_eq!(stored[1]["start"], "2024-05-01T00:00:00.700Z");
    assert_eq!(stored[1]["end"], "2024-05-01T00:05:00.700Z");
    assert_eq!(stored[1]["result"], "inserted");
    assert_eq!(
        stored_starts(&api).await,
        [
            ("cam-1".to_owned(), "2024-05-01 00:00:00.200000".to_owned()),
            ("cam-1".to_owned(), "2024-05-01 00:00:00.700000".to_owned())
        ],
        "two rows, neither overwritten"
    );

    // .400 is a third interval; .200 again is the first, unchanged.
    let third = api
        .post_counts(&[interval(
            "2024-05-01T09:00:00.400+09:00",
            "2024-05-01T09:05:00.400+09:00",
            3,
        )])
        .await;
    assert_eq!(third.body["data"]["inserted"], 1, "{}", third.body);
    let repost = api.post_counts(&batch[..1]).await;
    assert_eq!(repost.body["data"]["unchanged"], 1, "{}", repost.body);
    assert_eq!(repost.body["data"]["stored"][0]["result"], "unchanged");
    assert_eq!(api.db.count("cctv_count").await, 3);

    // Finer than a millisecond: refused, not truncated onto the .200 interval.
    let fine = api
        .post_counts(&[interval(
            "2024-05-01T09:00:00.2004+09:00",
            "2024-05-01T09:05:00+09:00",
            9,
        )])
        .await;
    assert_eq!(fine.status, StatusCode::BAD_REQUEST);
    assert_eq!(fine.field(), "counts[0].start");
    assert!(fine.reason().contains("milliseconds"), "{}", fine.body);

    // Read back with the fraction.
    let listed = api
        .get(
            "/cctv/counts?from=2024-05-01&to=2024-05-01",
            Some(&api.reader),
        )
        .await;
    assert_eq!(
        listed.body["data"]["items"][1]["start"],
        "2024-05-01T00:00:00.400Z"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_batches_register_a_camera_once() {
    let api = Api::new().await;
    // A first transaction registers the new camera and holds the row; two batches for the
    // camera arrive meanwhile: both look it up (not there yet), then wait on its insert.
    // When the first commits, theirs are duplicates: the camera was registered once, by
    // the first, and neither batch may claim it (each claimed it before the fix).
    let mut first = api.pool().begin().await.expect("transaction");
    sqlx::query("INSERT INTO cctv_camera (camera_id, registered_at) VALUES ('cam-new', NOW())")
        .execute(&mut *first)
        .await
        .expect("hold the row");
    let t = at("2024-05-01T00:00:00Z");
    let batches: Vec<_> = (0..2)
        .map(|i| {
            let body = json!({"counts": [count("cam-new", t + Duration::minutes(5 * i), 5, 1, 1)]});
            let request = axum::http::Request::builder()
                .method("POST")
                .uri("/cctv/counts")
                .header("authorization", format!("Bearer {}", api.writer))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .expect("request");
            tokio::spawn(api.router.clone().oneshot(request))
        })
        .collect();
    let mut waiting = 0;
    for _ in 0..200 {
        waiting = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM information_schema.processlist
             WHERE db = DATABASE() AND info LIKE 'INSERT IGNORE INTO cctv_camera%'",
        )
        .fetch_one(api.pool())
        .await
        .expect("lock waits");
        if waiting >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, 2, "both batches wait on the camera row");
    first
        .commit()
        .await
        .expect("the first registration commits");
    let mut registered = 1; // the first transaction's
    for batch in batches {
        let response = batch.await.expect("joined").expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("envelope");
        assert_eq!(body["data"]["inserted"], 1, "{body}");
        registered += body["data"]["cameras_registered"].as_u64().expect("count");
    }
    assert_eq!(registered, 1, "one camera, counted once in all");
    assert_eq!(api.db.count("cctv_camera").await, 1);
    assert_eq!(api.db.count("cctv_count").await, 2);
}

#[tokio::test]
async fn a_path_that_is_not_utf8_answers_400_in_the_envelope() {
    let api = Api::new().await;
    for uri in [
        "/cctv/cameras/%FF/stats?kind=day&from=2024-05-01&to=2024-05-02",
        "/cctv/cameras/%C3%28/outliers?from=2024-05-01&to=2024-05-02",
    ] {
        // `send` panics unless the answer is a JSON envelope.
        let answer = api.get(uri, Some(&api.reader)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(answer.code(), 4000);
        assert_eq!(answer.field(), "camera_id");
    }
}

#[tokio::test]
async fn the_form_content_type_is_matched_without_case() {
    let api = Api::new().await;
    let form = "camera_id=cam-9&start=2024-05-01T09%3A00%3A00%2B09%3A00&end=2024-05-01T09%3A05%3A00%2B09%3A00&people=4&vehicles=1";
    let answer = api
        .raw(
            "POST",
            "/cctv/counts",
            Some(&api.writer),
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            form,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["data"]["inserted"], 1);
    let korean = "camera_id=%EC%A0%95%EB%AC%B8&start=2024-05-01T09%3A00%3A00%2B09%3A00&end=2024-05-01T09%3A05%3A00%2B09%3A00&people=4&vehicles=1";
    let answer = api
        .raw(
            "POST",
            "/cctv/counts",
            Some(&api.writer),
            Some("APPLICATION/X-WWW-FORM-URLENCODED"),
            korean,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["data"]["stored"][0]["camera_id"], "정문");
}

#[tokio::test]
async fn the_served_document_has_no_dangling_reference() {
    let api = Api::new().await;
    let doc = api.get("/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert_eq!(
        common::http::dangling_refs(&doc.body),
        Vec::<String>::new(),
        "every $ref resolves"
    );
    assert_eq!(
        doc.body["components"]["schemas"]["PeriodKind"]["enum"],
        json!([
            "day",
            "week",
            "month",
            "year",
            "weekday-of-month",
            "weekday-of-year"
        ])
    );
    let stats = &doc.body["paths"]["/cctv/cameras/{camera_id}/stats"]["get"];
    assert!(stats["responses"]["500"].is_object());
    assert!(stats["responses"]["404"].is_object());
}

/// A body that is not UTF-8 arrives from API Gateway base64-encoded: the function answers
/// 400 in the envelope. (The local runtime answers such a body with its own 500 before any
/// function runs, so the contract fuzzer leaves it out: scripts/lib/contract_hooks.py.)
#[tokio::test]
async fn a_body_that_is_not_utf8_is_a_400_through_api_gateway() {
    let api = Api::new().await;
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/cctv-api/post-counts.json"))
            .expect("sample event");
    event["headers"]["authorization"] = json!(format!("Bearer {}", api.writer));
    event["isBase64Encoded"] = json!(true);
    event["body"] = json!("+vHrCQ=="); // 0xFA 0xF1 0xEB 0x09
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
    let (parts, body) = request.into_parts();
    assert_eq!(body.to_vec(), [0xFA, 0xF1, 0xEB, 0x09]);
    let answer = api
        .send(axum::http::Request::from_parts(
            parts,
            axum::body::Body::from(body.to_vec()),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.code(), 4000);
    assert_eq!(api.db.count("cctv_count").await, 0);
}
