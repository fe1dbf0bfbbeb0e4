//! The course-stats benchmark: one month of stats by the function's query next to the
//! original system's SQL, on the same synthetic data (by default 10,000,000 events over
//! six months), measured in the same run.
//!
//! The data is made with set-based SQL (a digits table cross-joined with itself) because
//! importing ten million generated statements would take most of an hour here; its shape
//! follows the source system: per-day actor rows (uid, level, log file), actions on the
//! AI courses and others, events spread evenly over the days.

use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use common::config::DatabaseSettings;
use sqlx::MySqlPool;

/// Figures of one run.
#[derive(Debug, Clone)]
pub struct CourseStatsFigures {
    pub events: u64,
    pub fill_seconds: f64,
    pub one_month_seconds: f64,
    pub one_month_rows: u64,
    pub all_months_seconds: f64,
    pub original_seconds: f64,
    pub original_rows: u64,
}

const DAYS: u64 = 180;
const ACTORS_PER_DAY: u64 = 3_000;
const ACTIONS: u64 = 2_000;

/// Runs the benchmark on database `bench_course_stats` of `server`.
///
/// # Errors
/// Any failing step, with what was being done.
pub async fn run(server: &DatabaseSettings, events: u64) -> anyhow::Result<CourseStatsFigures> {
    let pool =
        crate::bench_db::fresh_migrated(server, "bench_course_stats", server.max_connections)
            .await?;

    let started = Instant::now();
    fill(&pool, events)
        .await
        .context("filling synthetic data")?;
    let fill_seconds = started.elapsed().as_secs_f64();
    sqlx::raw_sql("ANALYZE TABLE client_event, actor, action, ai_course")
        .execute(&pool)
        .await?;

    let may = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default();
    // Warm the caches the same way for both sides: one untimed run of each first.
    course_stats::compute_month(&pool, may).await?;
    let mut one_month = Vec::new();
    let mut one_month_rows = 0;
    for _ in 0..3 {
        let t = Instant::now();
        one_month_rows = course_stats::compute_month(&pool, may).await?;
        one_month.push(t.elapsed().as_secs_f64());
    }
    one_month.sort_by(f64::total_cmp);
    let t = Instant::now();
    for month in 0..6 {
        course_stats::compute_month(
            &pool,
            NaiveDate::from_ymd_opt(2024, 1 + month, 1).unwrap_or_default(),
        )
        .await?;
    }
    let all_months_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let original: Vec<(Option<String>, String, String, i64)> = sqlx::query_as(ORIGINAL_QUERY)
        .fetch_all(&pool)
        .await
        .context("original query")?;
    let original_seconds = t.elapsed().as_secs_f64();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ai_course_monthly_users")
        .fetch_one(&pool)
        .await?;
    anyhow::ensure!(
        usize::try_from(stored).unwrap_or(0) == original.len(),
        "the function wrote {stored} rows for six months, the original query returns {}",
        original.len()
    );
    Ok(CourseStatsFigures {
        events,
        fill_seconds,
        one_month_seconds: one_month[1],
        one_month_rows,
        all_months_seconds,
        original_seconds,
        original_rows: original.len() as u64,
    })
}

/// Fills a migrated, empty database with `events` synthetic events over six months
/// (2024-01-01 to 2024-06-28), their per-day actors and 2,000 actions.
///
/// # Errors
/// The failing statement.
pub async fn fill(pool: &MySqlPool, events: u64) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE digits (d INT NOT NULL PRIMARY KEY);
         INSERT INTO digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);
         CREATE TABLE levels (k INT NOT NULL PRIMARY KEY, name VARCHAR(8) NOT NULL);
         INSERT INTO levels VALUES (0,'國小'),(1,'國中'),(2,'普高'),(3,'技高'),(4,'大專'),(5,'教師');
         CREATE TABLE courses (k INT NOT NULL PRIMARY KEY AUTO_INCREMENT, course_id VARCHAR(16) NOT NULL);
         INSERT INTO courses (course_id) SELECT course_id FROM ai_course;
         INSERT INTO courses (course_id) SELECT CAST(100 + a.d * 10 + b.d AS CHAR) FROM digits a, digits b;",
    )
    .execute(pool)
    .await?;
    let courses: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM courses")
        .fetch_one(pool)
        .await?;
    // Actions: verbs on objects of every course.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO action (id, verb_id, object_id, course_id)
         SELECT n + 1, 'http://adlnet.gov/expapi/verbs/experienced', CONCAT('https://www.coolenglish.edu.tw/course/view.php?id=', c.course_id, '&n=', n), c.course_id
         FROM (SELECT a.d * 1000 + b.d * 100 + c.d * 10 + e.d AS n FROM digits a, digits b, digits c, digits e) numbers
         JOIN courses c ON c.k = 1 + numbers.n % {courses}
         WHERE n < {ACTIONS}"
    )))
    .execute(pool)
    .await?;
    // Actors: per day, 3,000 of 20,000 users, each with a level (one in six a teacher).
    for day in 0..DAYS {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO actor (id, uid, ifi, object_type, category, filename)
             SELECT {day} * {ACTORS_PER_DAY} + n + 1, CONCAT('https://www.coolenglish.edu.tw|u', u), 'account', 'Agent', l.name,
                    CONCAT(DATE_FORMAT(DATE_ADD('2024-01-01', INTERVAL {day} DAY), '%Y-%m-%d'), '-part-0001.jsonl')
             FROM (SELECT n, (n * 7 + {day} * 131) % 20000 AS u FROM
                     (SELECT a.d * 1000 + b.d * 100 + c.d * 10 + e.d AS n FROM digits a, digits b, digits c, digits e) x
                   WHERE n < {ACTORS_PER_DAY}) users
             JOIN levels l ON l.k = users.u % 6"
        )))
        .execute(pool)
        .await?;
    }
    // Events, a million per statement, sequential keys, spread evenly over the days; each
    // day's events cycle through all of that day's actors.
    let millions = events.div_ceil(1_000_000);
    for chunk in 0..millions {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO client_event (statement_id, import_id, entry_name, log_date, event_time, actor_id, action_id)
             SELECT CONCAT('bench-', LPAD({chunk} * 1000000 + n, 30, '0')), 1, 'synthetic.jsonl',
                    DATE_ADD('2024-01-01', INTERVAL (n % {DAYS}) DAY),
                    DATE_ADD('2024-01-01 02:00:00', INTERVAL (n % {DAYS}) * 86400 + n % 50000 SECOND),
                    (n % {DAYS}) * {ACTORS_PER_DAY} + ((n DIV {DAYS}) * 17) % {ACTORS_PER_DAY} + 1,
                    (n * 31 + {chunk}) % {ACTIONS} + 1
             FROM (SELECT a.d * 100000 + b.d * 10000 + c.d * 1000 + e.d * 100 + f.d * 10 + g.d AS n
                   FROM digits a, digits b, digits c, digits e, digits f, digits g) numbers
             WHERE {chunk} * 1000000 + n < {events}"
        )))
        .execute(pool)
        .await?;
        eprintln!(
            "  {} of {events} events",
            ((chunk + 1) * 1_000_000).min(events)
        );
    }
    Ok(())
}

/// The source system's query (export_ai_course_stats.py), unchanged.
pub const ORIGINAL_QUERY: &str = r"
SELECT
    CASE
        WHEN action.course_id IN ('770', '772', '775', '779') THEN '酷英AI英語聊天機器人'
        WHEN action.course_id IN ('941', '942', '943', '944') THEN '酷英篇章口說評測系統'
        WHEN action.course_id IN ('767', '768', '771', '773', '774', '776', '777', '778', '918', '919', '920', '921', '1358') THEN '酷英語音合成工具/語音合成工具'
        WHEN action.course_id IN ('841', '843', '922', '923', '924', '925') THEN '酷英AI寫作偵錯工具'
        WHEN action.course_id IN ('842', '844', '926', '927', '928', '930') THEN '多益寫作評估工具'
        WHEN action.course_id IN ('862', '864', '868', '937', '938', '939', '940', '1355', '1388') THEN 'Linggle Write'
        WHEN action.course_id IN ('989', '990', '991', '992') THEN '酷英教學＆學習工具區'
        WHEN action.course_id IN ('912', '915', '916', '917') THEN '酷英教師AI特助'
        WHEN action.course_id IN ('972', '973', '974', '975') THEN '酷英沉浸式閱讀工具'
    END AS ai_course_name,
    actor.category AS student_level,
    CASE
        WHEN actor.filename REGEXP '^[0-9]{4}-[0-9]{2}-[0-9]{2}' THEN
            SUBSTRING(actor.filename, 1, 7)
        WHEN actor.filename REGEXP '^[0-9]{6}' THEN
            CONCAT(SUBSTRING(actor.filename, 1, 4), '-', SUBSTRING(actor.filename, 5, 2))
        ELSE SUBSTRING(actor.filename, 1, 7)
    END AS month,
    COUNT(DISTINCT actor.uid) AS user_count
FROM client_event
LEFT JOIN action ON client_event.action_id = action.id
LEFT JOIN actor ON client_event.actor_id = actor.id
WHERE
    actor.filename IS NOT NULL
    AND action.course_id IN (
        '770', '772', '775', '779',
        '941', '942', '943', '944',
        '767', '768', '771', '773', '774', '776', '777', '778', '918', '919', '920', '921', '1358',
        '841', '843', '922', '923', '924', '925',
        '842', '844', '926', '927', '928', '930',
        '862', '864', '868', '937', '938', '939', '940', '1355', '1388',
        '989', '990', '991', '992',
        '912', '915', '916', '917',
        '972', '973', '974', '975'
    )
    AND actor.category IS NOT NULL
    AND actor.category IN ('國小', '國中', '普高', '技高', '大專')
GROUP BY ai_course_name, student_level, month
ORDER BY ai_course_name, month,
    FIELD(actor.category, '國小', '國中', '普高', '技高', '大專')
";
