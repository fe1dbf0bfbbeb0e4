//! Writing batches into the learning tables with bounded multi-row `INSERT IGNORE`s.
//!
//! `INSERT IGNORE` on the primary key is what makes a re-import insert nothing: a statement
//! id, a dimension id or a (statement, seq) pair that is already stored is skipped. Every
//! value is validated and cut to its column width before it gets here (see
//! `statement.rs`), so IGNORE has no data errors left to hide.

use sqlx::{MySql, MySqlConnection, QueryBuilder, query_builder::Separated};

use crate::batch::Batch;

/// MySQL's prepared statements take at most 65,535 placeholders; stay well below.
const MAX_PLACEHOLDERS: usize = 60_000;

/// What a batch added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    /// `client_event` rows added (statements new to the database).
    pub statements_inserted: u64,
    /// Rows added across all nine tables.
    pub rows: u64,
}

/// Inserts a batch on `conn` (inside the caller's transaction).
///
/// # Errors
/// The database error; the caller rolls the transaction back.
pub async fn write_batch(
    conn: &mut MySqlConnection,
    import_id: u64,
    batch: &Batch,
) -> Result<BatchCounts, sqlx::Error> {
    let mut rows = 0;
    rows += insert(
        conn,
        "actor (id, uid, ifi, object_type, name, category, filename)",
        7,
        &batch.actors,
        |b, a| {
            b.push_bind(a.id)
                .push_bind(&a.uid)
                .push_bind(a.ifi)
                .push_bind(a.object_type)
                .push_bind(&a.name)
                .push_bind(&a.category)
                .push_bind(&a.filename);
        },
    )
    .await?;
    rows += insert(
        conn,
        "action (id, verb_id, verb_display, object_id, object_type, object_name, course_id)",
        7,
        &batch.actions,
        |b, a| {
            b.push_bind(a.id)
                .push_bind(&a.verb_id)
                .push_bind(&a.verb_display)
                .push_bind(&a.object_id)
                .push_bind(&a.object_type)
                .push_bind(&a.object_name)
                .push_bind(&a.course_id);
        },
    )
    .await?;
    rows += insert(
        conn,
        "cookie (id, session_id, cookie_id, user_agent)",
        4,
        &batch.cookies,
        |b, c| {
            b.push_bind(c.id)
                .push_bind(&c.session_id)
                .push_bind(&c.cookie_id)
                .push_bind(&c.user_agent);
        },
    )
    .await?;
    rows += insert(
        conn,
        "tanet_info (id, client_ip, region, school_code)",
        4,
        &batch.tanets,
        |b, t| {
            b.push_bind(t.id)
                .push_bind(&t.client_ip)
                .push_bind(&t.region)
                .push_bind(&t.school_code);
        },
    )
    .await?;
    let statements_inserted = insert(
        conn,
        "client_event (statement_id, import_id, entry_name, log_date, event_time, actor_id, action_id, cookie_id, tanet_info_id)",
        9,
        &batch.events,
        |b, e| {
            b.push_bind(&e.statement_id)
                .push_bind(import_id)
                .push_bind(e.entry_name.as_ref())
                .push_bind(e.log_date)
                .push_bind(e.event_time)
                .push_bind(e.actor_id)
                .push_bind(e.action_id)
                .push_bind(e.cookie_id)
                .push_bind(e.tanet_info_id);
        },
    )
    .await?;
    rows += statements_inserted;
    rows += insert(
        conn,
        "event_info (statement_id, platform, language, registration, event_time, stored_time, version, context_activities, extensions)",
        9,
        &batch.infos,
        |b, (id, i)| {
            b.push_bind(id)
                .push_bind(&i.platform)
                .push_bind(&i.language)
                .push_bind(&i.registration)
                .push_bind(i.event_time)
                .push_bind(i.stored_time)
                .push_bind(&i.version)
                .push_bind(i.context_activities.as_ref().map(|v| v.to_string()))
                .push_bind(i.extensions.as_ref().map(|v| v.to_string()));
        },
    )
    .await?;
    rows += insert(
        conn,
        "result (statement_id, score_scaled, score_raw, score_min, score_max, success, completion, duration, duration_ms, response)",
        10,
        &batch.results,
        |b, (id, r)| {
            b.push_bind(id)
                .push_bind(r.score_scaled)
                .push_bind(r.score_raw)
                .push_bind(r.score_min)
                .push_bind(r.score_max)
                .push_bind(r.success)
                .push_bind(r.completion)
                .push_bind(&r.duration)
                .push_bind(r.duration_ms)
                .push_bind(&r.response);
        },
    )
    .await?;
    rows += insert(
        conn,
        "video_info (statement_id, video_time, time_from, time_to, progress, length, played_segments, speed)",
        8,
        &batch.videos,
        |b, (id, v)| {
            b.push_bind(id)
                .push_bind(v.video_time)
                .push_bind(v.time_from)
                .push_bind(v.time_to)
                .push_bind(v.progress)
                .push_bind(v.length)
                .push_bind(&v.played_segments)
                .push_bind(&v.speed);
        },
    )
    .await?;
    rows += insert(
        conn,
        "sentences (statement_id, seq, sentence, score, detail)",
        5,
        &batch.sentences,
        |b, (id, s)| {
            b.push_bind(id)
                .push_bind(s.seq)
                .push_bind(&s.sentence)
                .push_bind(s.score)
                .push_bind(s.detail.as_ref().map(|v| v.to_string()));
        },
    )
    .await?;
    Ok(BatchCounts {
        statements_inserted,
        rows,
    })
}

/// `INSERT IGNORE INTO <table_and_columns> VALUES …` in chunks that respect the
/// placeholder limit; returns the rows added.
async fn insert<T>(
    conn: &mut MySqlConnection,
    table_and_columns: &'static str,
    columns: usize,
    rows: &[T],
    mut bind: impl FnMut(&mut Separated<'_, MySql, &'static str>, &T),
) -> Result<u64, sqlx::Error> {
    let mut added = 0;
    for chunk in rows.chunks(MAX_PLACEHOLDERS / columns) {
        let mut builder: QueryBuilder<MySql> = QueryBuilder::new("INSERT IGNORE INTO ");
        builder.push(table_and_columns).push(" ");
        builder.push_values(chunk, |mut separated, row| bind(&mut separated, row));
        added += builder.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(added)
}
