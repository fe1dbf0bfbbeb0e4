//! Data sync part 2 end to end: a run planned into ranges, each range one message of the
//! worker's queue, against MariaDB, PostgreSQL and moto. Duplicate deliveries, a worker
//! killed right after a commit (its invocation dropped midway, as a crash or a time-out
//! would end it), an injected deadline, and the three ways a range is kept exactly once.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use sqlx::{Executor, QueryBuilder};
use sync_worker::{Handled, RunMessage, Worker};

use crate::{datasource_api::Api, sync_engine::PgTestDb};

/// Rows of `src`: ids 1..=n with a name and a number.
async fn fill_source(api: &Api, rows: i64) {
    let pool = &api.db.pool;
    pool.execute("CREATE TABLE src (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT NULL, updated_at DATETIME NOT NULL DEFAULT '2026-01-01 00:00:00') DEFAULT CHARSET=utf8mb4")
        .await
        .expect("src");
    for chunk in (1..=rows).collect::<Vec<_>>().chunks(1000) {
        let mut insert = QueryBuilder::new("INSERT INTO src (id, name, n) ");
        insert.push_values(chunk, |mut row, id| {
            row.push_bind(id)
                .push_bind(format!("名前-{id}"))
                .push_bind((id % 7 != 0).then_some(id * 3));
        });
        insert.build().execute(pool).await.expect("rows");
    }
}

/// Count, distinct ids and a checksum of every row of a MySQL table.
async fn mysql_digest(api: &Api, table: &str) -> (i64, i64, i64) {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), COUNT(DISTINCT id), CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', id, name, COALESCE(n, -1)))), 0) AS SIGNED) FROM {table}"
    )))
    .fetch_one(&api.db.pool)
    .await
    .expect("digest")
}

async fn save_datasource(api: &Api, body: Value) -> u64 {
    let saved = api.json("POST", "/api/datasource/save", body).await;
    assert_eq!(saved.status.as_u16(), 200, "{}", saved.body);
    saved.data()["id"].as_u64().expect("id")
}

async fn local_mysql(api: &Api, name: &str, checkpoint_table: bool) -> u64 {
    save_datasource(
        api,
        json!({"source_name": name, "db_type": "mysql", "host": "127.0.0.1", "port": 3306,
            "db_name": api.db.name, "username": "root", "checkpoint_table": checkpoint_table}),
    )
    .await
}

/// Saves a src → `target` job and queues a run; answers the run's id.
async fn queue_run(api: &Api, reader: u64, writer: u64, write_mode: &str, setting: Value) -> u64 {
    let config = save_config(
        api,
        src_job(reader, writer, write_mode, setting, None),
        None,
    )
    .await;
    exec(api, config).await
}

/// The job copying `src` to `dst` (`write_mode` "pg": insert into PostgreSQL).
fn src_job(
    reader: u64,
    writer: u64,
    write_mode: &str,
    setting: Value,
    where_clause: Option<&str>,
) -> Value {
    let mut reader_parameter = json!({"datasourceId": reader,
        "column": ["id", "name", "n"], "splitPk": "id", "connection": [{"table": ["src"]}]});
    if let Some(where_clause) = where_clause {
        reader_parameter["where"] = json!(where_clause);
    }
    json!({"job": {"setting": setting, "content": [{
        "reader": {"name": "mysqlreader", "parameter": reader_parameter},
        "writer": {"name": if write_mode == "pg" { "postgresqlwriter" } else { "mysqlwriter" },
            "parameter": {"datasourceId": writer, "column": ["id", "name", "n"],
            "writeMode": if write_mode == "pg" { "insert" } else { write_mode }, "batchSize": 100,
            "connection": [{"table": ["dst"]}]}}}]}})
}

async fn save_config(api: &Api, job: Value, incremental: Option<Value>) -> u64 {
    let name = format!("ranges-{}", uuid::Uuid::new_v4().simple());
    let mut body = json!({"config_name": name, "content": job});
    if let Some(incremental) = incremental {
        body["incremental"] = incremental;
    }
    let saved = api.json("POST", "/api/config/save", body).await;
    assert_eq!(saved.status.as_u16(), 200, "{}", saved.body);
    saved.data()["id"].as_u64().expect("config id")
}

async fn exec(api: &Api, config: u64) -> u64 {
    let queued = api
        .bare("POST", &format!("/api/config/exec?id={config}"))
        .await;
    assert_eq!(queued.status.as_u16(), 202, "{}", queued.body);
    queued.data()["exec_log_id"].as_u64().expect("run id")
}

fn worker(api: &Api, checkpoint_every: Duration) -> Arc<Worker> {
    let mut worker = api.worker();
    worker.settings.checkpoint_every = checkpoint_every;
    Arc::new(worker)
}

/// The messages the queue holds now (received and deleted).
async fn take_messages(api: &Api) -> Vec<RunMessage> {
    crate::support::take_all(&api.sqs, &api.queue_url)
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap_or_default()).expect("a run message"))
        .collect()
}

async fn deliver(worker: &Worker, message: RunMessage) -> Handled {
    worker
        .handle_message(
            message,
            tokio::time::Instant::now() + Duration::from_secs(120),
        )
        .await
        .unwrap_or_else(|e| panic!("{message:?}: {e}"))
}

/// Plans run `run` and answers its first range messages.
async fn plan(api: &Api, worker: &Worker, run: u64) -> (usize, Vec<RunMessage>) {
    let messages = take_messages(api).await;
    assert_eq!(
        messages,
        [RunMessage {
            exec_log_id: run,
            range: None
        }]
    );
    let Handled::Planned(ranges) = deliver(worker, messages[0]).await else {
        panic!("not planned");
    };
    (ranges, take_messages(api).await)
}

/// Delivers `message` and drops the invocation once `committed` says the range wrote
/// something, the way a crash or the function's time-out ends it. Answers whether the
/// invocation was cut short (rather than finishing first).
async fn kill_after_commit(
    api: &Api,
    worker: &Arc<Worker>,
    message: RunMessage,
    committed: &str,
) -> bool {
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move { deliver(&worker, message).await })
    };
    let started = tokio::time::Instant::now();
    loop {
        let wrote: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(committed.to_owned()))
            .fetch_optional(&api.db.pool)
            .await
            .ok()
            .flatten();
        if wrote.is_some_and(|w| w > 0) || running.is_finished() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no commit");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cut_short = !running.is_finished();
    running.abort();
    let _ = running.await;
    cut_short
}

/// Moves a range's heartbeat an hour back: its worker is presumed dead.
async fn age_lease(api: &Api, run: u64, index: u32) {
    sqlx::query(
        "UPDATE exec_range SET heartbeat_at = heartbeat_at - INTERVAL 1 HOUR WHERE exec_log_id = ? AND task_index = ?",
    )
    .bind(run)
    .bind(index)
    .execute(&api.db.pool)
    .await
    .expect("age");
}

async fn run_row(api: &Api, run: u64) -> (String, u64, Option<String>, String) {
    sqlx::query_as("SELECT status, records_written, error, exec_result FROM exec_log WHERE id = ?")
        .bind(run)
        .fetch_one(&api.db.pool)
        .await
        .expect("run")
}

async fn invocations(api: &Api, run: u64, index: u32) -> u32 {
    sqlx::query_scalar(
        "SELECT invocations FROM exec_range WHERE exec_log_id = ? AND task_index = ?",
    )
    .bind(run)
    .bind(index)
    .fetch_one(&api.db.pool)
    .await
    .expect("range")
}

#[tokio::test]
async fn ranges_across_invocations_write_every_row_once_despite_a_duplicate_and_a_killed_worker() {
    let api = Api::new().await;
    fill_source(&api, 5_000).await;
    // No key on the target: a row written twice would be there twice.
    api.db
        .pool
        .execute("CREATE TABLE dst (id BIGINT, name VARCHAR(64), n INT) DEFAULT CHARSET=utf8mb4")
        .await
        .expect("dst");
    let ds = local_mysql(&api, "local", true).await;
    let run = queue_run(
        &api,
        ds,
        ds,
        "insert",
        json!({"speed": {"channel": 2, "record": 4000}}),
    )
    .await;
    let worker = worker(&api, Duration::from_secs(1));
    let (ranges, first) = plan(&api, &worker, run).await;
    // 2 channels × splitFactor 5, and the NULL slice.
    assert_eq!(ranges, 11);
    assert_eq!(first.len(), 2, "channel 2: two ranges at once");
    // Range 0 delivered twice at once; range 1's worker dies right after a commit.
    let committed = format!(
        "SELECT written FROM datax_sync_checkpoint WHERE task_index = 1 AND run_token = (SELECT run_token FROM exec_log WHERE id = {run})"
    );
    let (dup_a, dup_b, cut_short) = tokio::join!(
        deliver(&worker, first[0]),
        deliver(&worker, first[0]),
        kill_after_commit(&api, &worker, first[1], &committed)
    );
    let mut outcomes = [dup_a, dup_b];
    outcomes.sort_by_key(|h| format!("{h:?}"));
    assert_eq!(
        outcomes,
        [
            Handled::AlreadyTaken("running".into()),
            Handled::Range("done")
        ]
    );
    assert!(cut_short, "range 1 finished before it could be killed");
    // While its lease is fresh, another delivery leaves range 1 alone.
    assert_eq!(
        deliver(&worker, first[1]).await,
        Handled::AlreadyTaken("running".into())
    );
    // SQS delivers the killed invocation's message again after its visibility timeout.
    age_lease(&api, run, 1).await;
    assert_eq!(deliver(&worker, first[1]).await, Handled::Range("done"));
    assert_eq!(invocations(&api, run, 1).await, 2);
    let rest = api.drain(&worker, 2, Duration::from_secs(120)).await;
    assert!(
        rest.iter()
            .all(|(_, h)| matches!(h, Handled::Range("done") | Handled::AlreadyTaken(_))),
        "{rest:?}"
    );
    let (status, written, error, log) = run_row(&api, run).await;
    assert_eq!(status, "succeeded", "{error:?}\n{log}");
    assert_eq!(written, 5_000);
    assert_eq!(
        mysql_digest(&api, "dst").await,
        mysql_digest(&api, "src").await
    );
    assert!(log.contains("resuming after key"), "{log}");
    assert!(log.contains("读出记录总数"), "{log}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM datax_sync_checkpoint")
        .fetch_one(&api.db.pool)
        .await
        .expect("checkpoints");
    assert_eq!(left, 0, "a finished run removes its checkpoint rows");
    // A late redelivery of any message changes nothing.
    assert_eq!(
        deliver(&worker, first[1]).await,
        Handled::AlreadyTaken("succeeded".into())
    );
}

#[tokio::test]
async fn a_replace_job_resumes_a_killed_range_from_its_last_checkpoint_and_rewrites_in_place() {
    let api = Api::new().await;
    fill_source(&api, 5_000).await;
    api.db
        .pool
        .execute("CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(64), n INT) DEFAULT CHARSET=utf8mb4")
        .await
        .expect("dst");
    let ds = local_mysql(&api, "local", false).await;
    let run = queue_run(
        &api,
        ds,
        ds,
        "replace",
        // 500 rows a second per range: a range of about 455 rows takes most of a second,
        // so its first checkpoint (150 ms) comes well before its end.
        json!({"speed": {"channel": 2, "record": 1000}}),
    )
    .await;
    let worker = worker(&api, Duration::from_millis(150));
    let (_, first) = plan(&api, &worker, run).await;
    let cut_short = kill_after_commit(
        &api,
        &worker,
        first[0],
        &format!("SELECT COUNT(*) FROM exec_range WHERE exec_log_id = {run} AND task_index = 0 AND resume_after IS NOT NULL"),
    )
    .await;
    assert!(cut_short, "range 0 finished before it could be killed");
    age_lease(&api, run, 0).await;
    assert_eq!(deliver(&worker, first[0]).await, Handled::Range("done"));
    assert_eq!(deliver(&worker, first[1]).await, Handled::Range("done"));
    api.drain(&worker, 2, Duration::from_secs(120)).await;
    let (status, written, error, log) = run_row(&api, run).await;
    assert_eq!(status, "succeeded", "{error:?}\n{log}");
    assert_eq!(written, 5_000, "counts resume from the checkpoint too");
    assert_eq!(
        mysql_digest(&api, "dst").await,
        mysql_digest(&api, "src").await
    );
    assert!(log.contains("exactly once: writeMode rewrites"), "{log}");
}

#[tokio::test]
async fn insert_without_a_checkpoint_table_fails_a_killed_range_rather_than_write_twice() {
    let api = Api::new().await;
    fill_source(&api, 2_000).await;
    api.db
        .pool
        .execute("CREATE TABLE dst (id BIGINT, name VARCHAR(64), n INT) DEFAULT CHARSET=utf8mb4")
        .await
        .expect("dst");
    let ds = local_mysql(&api, "local", false).await;
    let run = queue_run(
        &api,
        ds,
        ds,
        "insert",
        json!({"speed": {"channel": 1, "record": 1000}}),
    )
    .await;
    let worker = worker(&api, Duration::from_secs(1));
    let (_, first) = plan(&api, &worker, run).await;
    let cut_short = kill_after_commit(&api, &worker, first[0], "SELECT COUNT(*) FROM dst").await;
    assert!(cut_short, "range 0 finished before it could be killed");
    age_lease(&api, run, 0).await;
    assert_eq!(deliver(&worker, first[0]).await, Handled::Range("failed"));
    let (status, _, error, log) = run_row(&api, run).await;
    assert_eq!(status, "failed", "{log}");
    let error = error.expect("a reason");
    assert!(
        error.contains("cannot resume it without writing rows twice")
            && error.contains("checkpoint table"),
        "{error}"
    );
    assert!(
        log.contains("writeMode insert without a checkpoint table"),
        "{log}"
    );
    let (rows, distinct, _) = mysql_digest(&api, "dst").await;
    assert_eq!(rows, distinct, "no row was written twice");
    assert!(rows < 2_000);
    // The run is over: the rest of its messages do nothing.
    for handled in api.drain(&worker, 2, Duration::from_secs(60)).await {
        assert_eq!(handled.1, Handled::AlreadyTaken("failed".into()));
    }
}

#[tokio::test]
async fn ranges_stopped_at_an_injected_deadline_resume_from_the_targets_checkpoint_in_postgresql() {
    let api = Api::new().await;
    fill_source(&api, 4_000).await;
    let pg = PgTestDb::new().await;
    pg.pool
        .execute("CREATE TABLE dst (id BIGINT, name VARCHAR(64), n INT)")
        .await
        .expect("dst");
    let source = local_mysql(&api, "local", false).await;
    let target = save_datasource(
        &api,
        json!({"source_name": "pg", "db_type": "postgresql", "host": "127.0.0.1", "port": 5432,
            "db_name": pg.name, "username": "postgres", "checkpoint_table": "true"}),
    )
    .await;
    let run = queue_run(
        &api,
        source,
        target,
        "pg",
        json!({"speed": {"channel": 1, "record": 1000}}),
    )
    .await;
    let worker = worker(&api, Duration::from_secs(1));
    // Each invocation stops 1 s (the margin) before a deadline 1.6 s away: ranges of
    // about 800 rows at 1,000 rows/s need at least two invocations each.
    let handled = api.drain(&worker, 1, Duration::from_millis(1_600)).await;
    let continued = handled
        .iter()
        .filter(|(_, h)| *h == Handled::Range("queued"))
        .count();
    assert!(continued >= 3, "{handled:?}");
    let (status, written, error, log) = run_row(&api, run).await;
    assert_eq!(status, "succeeded", "{error:?}\n{log}");
    assert_eq!(written, 4_000);
    assert!(log.contains("stopped at the deadline after key"), "{log}");
    assert!(log.contains("from the target's checkpoint"), "{log}");
    let (rows, distinct, sum): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT id), COALESCE(SUM(id * 7 + COALESCE(n, 0)), 0)::int8 FROM dst",
    )
    .fetch_one(&pg.pool)
    .await
    .expect("pg digest");
    let expected: (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COUNT(DISTINCT id), CAST(COALESCE(SUM(id * 7 + COALESCE(n, 0)), 0) AS SIGNED) FROM src",
    )
    .fetch_one(&api.db.pool)
    .await
    .expect("digest");
    assert_eq!((rows, distinct, sum), expected);
}

async fn mark_of(api: &Api, config: u64) -> Option<String> {
    sqlx::query_scalar("SELECT high_water_mark FROM json_config WHERE id = ?")
        .bind(config)
        .fetch_one(&api.db.pool)
        .await
        .expect("config")
}

async fn records_read(api: &Api, run: u64) -> u64 {
    sqlx::query_scalar("SELECT records_read FROM exec_log WHERE id = ?")
        .bind(run)
        .fetch_one(&api.db.pool)
        .await
        .expect("run")
}

/// Waits until the database's clock is past `mark` (a time window ends at its run's
/// start, exclusive).
async fn wait_past(api: &Api, mark: &str) {
    for _ in 0..50 {
        let past: i64 = sqlx::query_scalar("SELECT NOW() > CAST(? AS DATETIME)")
            .bind(mark)
            .fetch_one(&api.db.pool)
            .await
            .expect("now");
        if past == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the clock never passed {mark}");
}

/// Runs config `config` once through the queue; answers the run and its status.
async fn run_config(api: &Api, worker: &Worker, config: u64) -> (u64, String) {
    let run = exec(api, config).await;
    api.drain(worker, 2, Duration::from_secs(120)).await;
    let (status, _, error, log) = run_row(api, run).await;
    assert!(
        status == "succeeded" || status == "failed",
        "{status}: {error:?}\n{log}"
    );
    (run, status)
}

#[tokio::test]
async fn a_time_increment_copies_inserts_and_updates_between_runs_still_split_and_a_failed_run_keeps_the_mark()
 {
    let api = Api::new().await;
    fill_source(&api, 3_000).await;
    let pool = &api.db.pool;
    pool.execute(
        "CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(64), n INT) DEFAULT CHARSET=utf8mb4",
    )
    .await
    .expect("dst");
    let ds = local_mysql(&api, "local", false).await;
    let job = src_job(
        ds,
        ds,
        "update",
        json!({"speed": {"channel": 2}}),
        Some("updated_at >= ${lastTime} AND updated_at < ${currentTime}"),
    );
    let config = save_config(
        &api,
        job,
        Some(json!({"kind": "time", "column": "updated_at"})),
    )
    .await;
    let worker = worker(&api, Duration::from_secs(1));

    let (run, status) = run_config(&api, &worker, config).await;
    assert_eq!(status, "succeeded");
    assert_eq!(records_read(&api, run).await, 3_000);
    let ranges: u32 = sqlx::query_scalar("SELECT ranges FROM exec_log WHERE id = ?")
        .bind(run)
        .fetch_one(pool)
        .await
        .expect("ranges");
    assert_eq!(ranges, 11, "an incremental run still splits on splitPk");
    let first_mark = mark_of(&api, config).await.expect("a mark after a success");

    // Between runs: 500 rows inserted and 100 updated, stamped at the mark.
    sqlx::query("INSERT INTO src (id, name, n, updated_at) SELECT id + 3000, CONCAT('new-', id), id, ? FROM src WHERE id <= 500")
        .bind(&first_mark)
        .execute(pool)
        .await
        .expect("inserts");
    sqlx::query("UPDATE src SET name = CONCAT(name, '-changed'), updated_at = ? WHERE id BETWEEN 1001 AND 1100")
        .bind(&first_mark)
        .execute(pool)
        .await
        .expect("updates");
    wait_past(&api, &first_mark).await;
    let (run, status) = run_config(&api, &worker, config).await;
    assert_eq!(status, "succeeded");
    assert_eq!(records_read(&api, run).await, 600, "only what changed");
    assert_eq!(
        mysql_digest(&api, "dst").await,
        mysql_digest(&api, "src").await
    );
    let second_mark = mark_of(&api, config).await.expect("a mark");
    assert!(second_mark > first_mark, "{second_mark} > {first_mark}");

    // A run that fails leaves the mark: its window is read again by the next run.
    sqlx::query("INSERT INTO src (id, name, n, updated_at) SELECT id + 4000, CONCAT('later-', id), NULL, ? FROM src WHERE id <= 50")
        .bind(&second_mark)
        .execute(pool)
        .await
        .expect("inserts");
    wait_past(&api, &second_mark).await;
    pool.execute("RENAME TABLE dst TO dst_away")
        .await
        .expect("rename");
    let (_, status) = run_config(&api, &worker, config).await;
    assert_eq!(status, "failed");
    assert_eq!(mark_of(&api, config).await, Some(second_mark.clone()));
    pool.execute("RENAME TABLE dst_away TO dst")
        .await
        .expect("rename back");
    let (run, status) = run_config(&api, &worker, config).await;
    assert_eq!(status, "succeeded");
    assert_eq!(records_read(&api, run).await, 50);
    assert_eq!(
        mysql_digest(&api, "dst").await,
        mysql_digest(&api, "src").await
    );
}

#[tokio::test]
async fn an_id_increment_without_placeholders_copies_only_the_new_rows_once() {
    let api = Api::new().await;
    fill_source(&api, 2_000).await;
    api.db
        .pool
        .execute("CREATE TABLE dst (id BIGINT, name VARCHAR(64), n INT) DEFAULT CHARSET=utf8mb4")
        .await
        .expect("dst");
    let ds = local_mysql(&api, "local", true).await;
    let job = src_job(ds, ds, "insert", json!({"speed": {"channel": 2}}), None);
    let config = save_config(&api, job, Some(json!({"kind": "id", "column": "id"}))).await;
    let worker = worker(&api, Duration::from_secs(1));
    let (run, status) = run_config(&api, &worker, config).await;
    assert_eq!(status, "succeeded");
    assert_eq!(records_read(&api, run).await, 2_000);
    assert_eq!(mark_of(&api, config).await.as_deref(), Some("2000"));
    let mut insert = QueryBuilder::new("INSERT INTO src (id, name, n) ");
    insert.push_values(2001..=2300_i64, |mut row, id| {
        row.push_bind(id)
            .push_bind(format!("added-{id}"))
            .push_bind(id);
    });
    insert.build().execute(&api.db.pool).await.expect("rows");
    let (run, status) = run_config(&api, &worker, config).await;
    assert_eq!(status, "succeeded");
    assert_eq!(records_read(&api, run).await, 300);
    assert_eq!(mark_of(&api, config).await.as_deref(), Some("2300"));
    assert_eq!(
        mysql_digest(&api, "dst").await,
        mysql_digest(&api, "src").await
    );
    // Nothing new: a run reads nothing and the mark stays.
    let (run, status) = run_config(&api, &worker, config).await;
    assert_eq!(status, "succeeded");
    assert_eq!(records_read(&api, run).await, 0);
    assert_eq!(mark_of(&api, config).await.as_deref(), Some("2300"));
}

#[tokio::test]
async fn incremental_settings_that_do_not_fit_the_job_are_refused_naming_the_field() {
    let api = Api::new().await;
    let ds = local_mysql(&api, "local", false).await;
    let placeholders = src_job(
        ds,
        ds,
        "insert",
        json!({"speed": {"channel": 1}}),
        Some("id > ${startId} AND id <= ${endId}"),
    );
    let cases = [
        (placeholders.clone(), None, "the job uses ${startId}"),
        (
            placeholders.clone(),
            Some(json!({"kind": "time", "column": "updated_at"})),
            "startId",
        ),
        (
            placeholders.clone(),
            Some(json!({"kind": "id", "column": "id; DROP TABLE src"})),
            "column",
        ),
        (
            placeholders,
            Some(json!({"kind": "id", "column": "id", "start": "yesterday"})),
            "start",
        ),
        (
            src_job(ds, ds, "insert", json!({}), None),
            Some(json!({"kind": "hour", "column": "id"})),
            "kind",
        ),
    ];
    for (job, incremental, says) in cases {
        let mut body = json!({"config_name": "inc", "content": job});
        if let Some(incremental) = &incremental {
            body["incremental"] = incremental.clone();
        }
        let reply = api.json("POST", "/api/config/save", body).await;
        assert_eq!(
            reply.status.as_u16(),
            400,
            "{incremental:?}: {}",
            reply.body
        );
        assert_eq!(reply.data()["field"], "incremental", "{}", reply.body);
        assert!(
            reply.body["errmsg"]
                .as_str()
                .unwrap_or_default()
                .contains(says),
            "{incremental:?} should say {says}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn the_sample_events_are_read_as_the_queue_delivers_them() {
    let api = Api::new().await;
    let worker = api.worker();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for (name, sample, failures) in [
        // No run 1 or range 0 of it in a fresh database: acknowledged, nothing to do.
        (
            "run",
            include_str!("../../../events/sync-worker/run.json"),
            0,
        ),
        (
            "range",
            include_str!("../../../events/sync-worker/range.json"),
            0,
        ),
        // Not a message of this queue: reported, so it reaches the dead-letter queue.
        (
            "malformed",
            include_str!("../../../events/sync-worker/malformed.json"),
            1,
        ),
    ] {
        let event: aws_lambda_events::sqs::SqsEvent =
            serde_json::from_str(sample).unwrap_or_else(|e| panic!("{name}: {e}"));
        let body = event.records[0].body.clone().unwrap_or_default();
        let response = worker.handle(event, deadline).await;
        assert_eq!(response.batch_item_failures.len(), failures, "{name}");
        if failures == 0 {
            let message: RunMessage = serde_json::from_str(&body).expect("a run message");
            assert_eq!(deliver(&worker, message).await, Handled::Missing, "{name}");
        }
    }
}
