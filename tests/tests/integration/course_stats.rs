//! course-stats against the original system's SQL on the same generated data.

use chrono::NaiveDate;
use common::job::Deadline;
use serde_json::json;

use crate::support::{TestDb, import_generated_day};

// `export_ai_course_stats.py`'s query, unchanged (it runs on MySQL 8.0 and MariaDB 10.11 as
// written, against the same table and column names); the benchmark runs it too.
use xtask::bench_course_stats::ORIGINAL_QUERY;

type StatRow = (String, String, String, i64);

/// Imports generated days (shared user pool, so users repeat across days and months).
async fn import_days(db: &TestDb, days: &[(i32, u32, u32)]) {
    for (n, (y, m, d)) in days.iter().enumerate() {
        let date = NaiveDate::from_ymd_opt(*y, *m, *d).expect("date");
        let report = import_generated_day(&db.pool, date, 1_500, 120, 100 + n as u64).await;
        assert_eq!(report.status, import::report::ImportStatus::Completed);
    }
}

async fn stats(db: &TestDb) -> Vec<StatRow> {
    let mut rows: Vec<StatRow> = sqlx::query_as(
        "SELECT ai_course_name, student_level, CAST(month AS CHAR), CAST(user_count AS SIGNED) FROM ai_course_monthly_users",
    )
    .fetch_all(&db.pool)
    .await
    .expect("stats");
    rows.sort();
    rows
}

#[tokio::test]
async fn the_numbers_equal_the_original_sql_row_for_row() {
    let db = TestDb::new().await;
    import_days(&db, &[(2024, 4, 10), (2024, 4, 28), (2024, 5, 3)]).await;
    let zone = chrono_tz::Asia::Taipei;

    let answer = course_stats::handle(
        &db.pool,
        json!({"from": "2024-04", "to": "2024-05"}),
        chrono::Utc::now(),
        zone,
        Deadline::none(),
    )
    .await
    .expect("stats");

    let mut original: Vec<StatRow> = sqlx::query_as(ORIGINAL_QUERY)
        .fetch_all(&db.pool)
        .await
        .expect("original query");
    original.sort();
    let ours = stats(&db).await;
    assert!(
        ours.len() > 40,
        "a realistic spread of courses and levels: {}",
        ours.len()
    );
    assert_eq!(ours, original);
    assert!(ours.iter().any(|r| r.2 == "2024-04") && ours.iter().any(|r| r.2 == "2024-05"));
    let months = answer["months"].as_array().expect("months");
    assert_eq!(months.len(), 2);
    assert_eq!(
        months
            .iter()
            .map(|m| m["rows"].as_i64().expect("rows"))
            .sum::<i64>(),
        ours.len() as i64
    );
    // Teachers and unknown levels are left out, as in the original.
    assert!(
        ours.iter()
            .all(|r| course_stats::STUDENT_LEVELS.contains(&r.1.as_str()))
    );
}

#[tokio::test]
async fn re_running_a_month_replaces_it_without_duplicates() {
    let db = TestDb::new().await;
    import_days(&db, &[(2024, 5, 3)]).await;
    let zone = chrono_tz::Asia::Taipei;
    let payload = json!({"from": "2024-05", "to": "2024-05"});
    course_stats::handle(
        &db.pool,
        payload.clone(),
        chrono::Utc::now(),
        zone,
        Deadline::none(),
    )
    .await
    .expect("first");
    let first = stats(&db).await;
    course_stats::handle(
        &db.pool,
        payload,
        chrono::Utc::now(),
        zone,
        Deadline::none(),
    )
    .await
    .expect("second");
    assert_eq!(stats(&db).await, first);
    // The scheduled run on 1 June (Taipei) computes May.
    let june_first: chrono::DateTime<chrono::Utc> =
        "2024-05-31T17:00:00Z".parse().expect("instant");
    let answer = course_stats::handle(&db.pool, json!({}), june_first, zone, Deadline::none())
        .await
        .expect("scheduled");
    assert_eq!(answer["months"][0]["month"], "2024-05");
    assert_eq!(stats(&db).await, first);
}

#[tokio::test]
async fn an_operator_added_course_id_counts_without_a_deploy() {
    let db = TestDb::new().await;
    import_days(&db, &[(2024, 5, 3)]).await;
    let zone = chrono_tz::Asia::Taipei;
    let payload = json!({"from": "2024-05", "to": "2024-05"});
    course_stats::handle(
        &db.pool,
        payload.clone(),
        chrono::Utc::now(),
        zone,
        Deadline::none(),
    )
    .await
    .expect("before");
    let other_course: String = sqlx::query_scalar(
        "SELECT ac.course_id FROM action ac WHERE ac.course_id NOT IN (SELECT course_id FROM ai_course) AND ac.course_id IS NOT NULL LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a non-AI course in the data");
    let before = users_of(&db, "Linggle Write").await;
    sqlx::query("INSERT INTO ai_course (course_id, ai_course_name) VALUES (?, 'Linggle Write')")
        .bind(&other_course)
        .execute(&db.pool)
        .await
        .expect("add id");
    course_stats::handle(
        &db.pool,
        payload,
        chrono::Utc::now(),
        zone,
        Deadline::none(),
    )
    .await
    .expect("after");
    let after = users_of(&db, "Linggle Write").await;
    assert!(after > before, "{after} > {before}");
}

async fn users_of(db: &TestDb, course: &str) -> i64 {
    sqlx::query_scalar("SELECT CAST(COALESCE(SUM(user_count), 0) AS SIGNED) FROM ai_course_monthly_users WHERE ai_course_name = ?")
        .bind(course)
        .fetch_one(&db.pool)
        .await
        .expect("sum")
}

#[tokio::test]
async fn a_bad_payload_is_refused_and_writes_nothing() {
    let db = TestDb::new().await;
    let error = course_stats::handle(
        &db.pool,
        json!({"from": "May", "to": "2024-05"}),
        chrono::Utc::now(),
        chrono_tz::Asia::Taipei,
        Deadline::none(),
    )
    .await
    .expect_err("refused");
    assert!(
        error.to_string().contains("from: \"May\" is not a month"),
        "{error}"
    );
    assert_eq!(db.count("ai_course_monthly_users").await, 0);
}

#[tokio::test]
async fn a_run_past_its_deadline_answers_the_months_left() {
    let db = TestDb::new().await;
    import_days(&db, &[(2024, 4, 10), (2024, 5, 3)]).await;
    // A deadline already passed: the run still does one month, then stops.
    let answer = course_stats::handle(
        &db.pool,
        json!({"from": "2024-04", "to": "2024-06"}),
        chrono::Utc::now(),
        chrono_tz::Asia::Taipei,
        Deadline::after(std::time::Duration::ZERO),
    )
    .await
    .expect("partial run");
    assert_eq!(answer["complete"], false, "{answer}");
    assert_eq!(answer["stopped_by_deadline"], true);
    assert_eq!(answer["months"][0]["month"], "2024-04");
    assert_eq!(answer["remaining"]["months"], json!(["2024-05", "2024-06"]));
    let months: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT month FROM ai_course_monthly_users")
            .fetch_all(&db.pool)
            .await
            .expect("months");
    assert_eq!(months, ["2024-04"], "only the month it did is written");
}
