//! Each table's mapping, checked on a statement whose values are known.

// Row tuples mirror the SELECT lists column by column, which is what makes them readable here.
#![allow(clippy::type_complexity)]

use serde_json::json;

use crate::support::{self, TestDb};

#[tokio::test]
async fn a_known_statement_lands_in_every_table_as_documented() {
    let db = TestDb::new().await;
    let deps = support::deps(&db).await;
    let base = "https://www.coolenglish.edu.tw/xapi/extensions/";
    let video = "https://w3id.org/xapi/video/extensions/";
    let statement = json!({
        "id": "7C0F8F5E-1B6A-4B7B-9C1D-0E2F3A4B5C6D",
        "actor": {"objectType": "Agent", "name": "王小明", "account": {"homePage": "https://www.coolenglish.edu.tw", "name": "s1234"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored", "display": {"en-US": "scored", "zh-TW": "評分"}},
        "object": {"id": "https://www.coolenglish.edu.tw/mod/speech/view.php?id=55", "objectType": "Activity",
                   "definition": {"type": "http://adlnet.gov/expapi/activities/assessment", "name": {"zh-TW": "口說評測"},
                                  "extensions": {"http://example.org/difficulty": 3}}},
        "result": {"score": {"scaled": 0.85, "raw": 85, "min": 0, "max": 100}, "success": true, "completion": true,
                   "duration": "PT1M30.5S", "response": "I like apples",
                   "extensions": {
                       format!("{base}sentences"): [{"text": "I like apples.", "score": 88.5, "fluency": 4}, {"text": "Me too.", "score": 70}],
                       format!("{video}time"): 42.5, format!("{video}progress"): 0.5, format!("{video}played-segments"): "0[.]42.5",
                       "http://example.org/result-extra": "kept"}},
        "context": {
            "registration": "11111111-2222-3333-4444-555555555555",
            "platform": "CoolEnglish", "language": "zh-TW",
            "contextActivities": {"parent": [{"id": "https://www.coolenglish.edu.tw/course/view.php?id=941"}]},
            "extensions": {
                format!("{base}student-level"): "國中",
                format!("{base}session-id"): "sess-9", format!("{base}cookie-id"): "ck-1", format!("{base}user-agent"): "Mozilla/5.0",
                format!("{base}client-ip"): "140.115.1.2", format!("{base}tanet-region"): "桃園區網", format!("{base}school-code"): "034501",
                format!("{video}length"): 85.0, format!("{video}speed"): "1.5x",
                "http://example.org/context-extra": {"a": [1, 2]}}},
        "timestamp": "2024-05-01T23:30:00.250+08:00",
        "stored": "2024-05-01T15:31:00Z",
        "version": "1.0.3"
    });
    let zip = support::zip_of(&[("logs/20240501.json", format!("[{statement}]").as_bytes())]);
    let bucket = support::bucket(&deps.s3).await;
    let key = "uploads/2024-05-01.zip";
    let etag = support::put(&deps.s3, &bucket, key, zip.clone()).await;
    let answer = import::handler::handle(support::s3_event(&bucket, key, &etag, zip.len()), &deps)
        .await
        .expect("imported");
    assert_eq!(answer[0]["status"], "completed", "{answer}");
    let id = "7c0f8f5e-1b6a-4b7b-9c1d-0e2f3a4b5c6d";
    let import_id: u64 = sqlx::query_scalar("SELECT id FROM import_file")
        .fetch_one(&db.pool)
        .await
        .expect("ledger");

    let event: (String, u64, String, String, String, u64, u64, Option<u64>, Option<u64>) = sqlx::query_as(
        "SELECT statement_id, import_id, entry_name, CAST(log_date AS CHAR), CAST(event_time AS CHAR), actor_id, action_id, cookie_id, tanet_info_id FROM client_event",
    )
    .fetch_one(&db.pool)
    .await
    .expect("client_event");
    assert_eq!(
        (event.0.as_str(), event.1, event.2.as_str()),
        (id, import_id, "logs/20240501.json")
    );
    assert_eq!(
        (event.3.as_str(), event.4.as_str()),
        ("2024-05-01", "2024-05-01 15:30:00.250")
    );

    let actor: (
        u64,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    ) = sqlx::query_as("SELECT id, uid, ifi, object_type, name, category, filename FROM actor")
        .fetch_one(&db.pool)
        .await
        .expect("actor");
    assert_eq!(actor.0, event.5);
    assert_eq!(
        (
            actor.1.as_str(),
            actor.2.as_str(),
            actor.3.as_str(),
            actor.4.as_deref(),
            actor.5.as_deref(),
            actor.6.as_str()
        ),
        (
            "https://www.coolenglish.edu.tw|s1234",
            "account",
            "Agent",
            Some("王小明"),
            Some("國中"),
            "20240501.json"
        )
    );

    let action: (u64, String, Option<String>, String, Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT id, verb_id, verb_display, object_id, object_type, object_name, course_id FROM action")
            .fetch_one(&db.pool)
            .await
            .expect("action");
    assert_eq!(action.0, event.6);
    assert_eq!(
        (
            action.1.as_str(),
            action.2.as_deref(),
            action.3.as_str(),
            action.4.as_deref(),
            action.5.as_deref(),
            action.6.as_deref()
        ),
        (
            "http://adlnet.gov/expapi/verbs/scored",
            Some("評分"),
            "https://www.coolenglish.edu.tw/mod/speech/view.php?id=55",
            Some("http://adlnet.gov/expapi/activities/assessment"),
            Some("口說評測"),
            Some("941")
        )
    );

    let result: (Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<bool>, Option<bool>, Option<String>, Option<i64>, Option<String>) =
        sqlx::query_as("SELECT score_scaled, score_raw, score_min, score_max, success, completion, duration, duration_ms, response FROM result WHERE statement_id = ?")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("result");
    assert_eq!(
        result,
        (
            Some(0.85),
            Some(85.0),
            Some(0.0),
            Some(100.0),
            Some(true),
            Some(true),
            Some("PT1M30.5S".into()),
            Some(90_500),
            Some("I like apples".into())
        )
    );

    let video_row: (Option<f64>, Option<f64>, Option<f64>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT video_time, progress, length, played_segments, speed FROM video_info WHERE statement_id = ?")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .expect("video_info");
    assert_eq!(
        video_row,
        (
            Some(42.5),
            Some(0.5),
            Some(85.0),
            Some("0[.]42.5".into()),
            Some("1.5x".into())
        )
    );

    let sentences: Vec<(u16, String, Option<f64>, Option<String>)> =
        sqlx::query_as("SELECT seq, sentence, score, CAST(detail AS CHAR) FROM sentences WHERE statement_id = ? ORDER BY seq")
            .bind(id)
            .fetch_all(&db.pool)
            .await
            .expect("sentences");
    assert_eq!(sentences.len(), 2);
    assert_eq!(
        (sentences[0].0, sentences[0].1.as_str(), sentences[0].2),
        (0, "I like apples.", Some(88.5))
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(sentences[0].3.as_deref().expect("detail"))
            .expect("json"),
        json!({"fluency": 4})
    );
    assert_eq!(
        (
            sentences[1].0,
            sentences[1].1.as_str(),
            sentences[1].2,
            sentences[1].3.as_deref()
        ),
        (1, "Me too.", Some(70.0), None)
    );

    let cookie: (u64, Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT id, session_id, cookie_id, user_agent FROM cookie")
            .fetch_one(&db.pool)
            .await
            .expect("cookie");
    assert_eq!(Some(cookie.0), event.7);
    assert_eq!(
        (
            cookie.1.as_deref(),
            cookie.2.as_deref(),
            cookie.3.as_deref()
        ),
        (Some("sess-9"), Some("ck-1"), Some("Mozilla/5.0"))
    );

    let tanet: (u64, Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT id, client_ip, region, school_code FROM tanet_info")
            .fetch_one(&db.pool)
            .await
            .expect("tanet_info");
    assert_eq!(Some(tanet.0), event.8);
    assert_eq!(
        (tanet.1.as_deref(), tanet.2.as_deref(), tanet.3.as_deref()),
        (Some("140.115.1.2"), Some("桃園區網"), Some("034501"))
    );

    let info: (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT platform, language, registration, CAST(event_time AS CHAR), CAST(stored_time AS CHAR), version,
                CAST(context_activities AS CHAR), CAST(extensions AS CHAR) FROM event_info WHERE statement_id = ?",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("event_info");
    assert_eq!(
        (
            info.0.as_deref(),
            info.1.as_deref(),
            info.2.as_deref(),
            info.3.as_deref(),
            info.4.as_deref(),
            info.5.as_deref()
        ),
        (
            Some("CoolEnglish"),
            Some("zh-TW"),
            Some("11111111-2222-3333-4444-555555555555"),
            Some("2024-05-01 15:30:00.250"),
            Some("2024-05-01 15:31:00.000"),
            Some("1.0.3")
        )
    );
    let activities: serde_json::Value =
        serde_json::from_str(info.6.as_deref().expect("activities")).expect("json");
    assert_eq!(
        activities,
        json!({"parent": [{"id": "https://www.coolenglish.edu.tw/course/view.php?id=941"}]})
    );
    let extensions: serde_json::Value =
        serde_json::from_str(info.7.as_deref().expect("extensions")).expect("json");
    assert_eq!(
        extensions,
        json!({"context": {"http://example.org/context-extra": {"a": [1, 2]}},
               "result": {"http://example.org/result-extra": "kept"},
               "object": {"http://example.org/difficulty": 3}}),
        "only unmapped extensions are kept, each under where it came from"
    );
}
