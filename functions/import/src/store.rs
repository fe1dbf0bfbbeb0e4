//! Writing batches into the learning tables, deciding for every statement copy whether it
//! is new, an exact repeat, or a conflicting copy of a stored statement id.
//!
//! No `INSERT IGNORE`: it would turn any data error (a zero date for an impossible
//! instant, a JSON document the server refuses, a cut string) into a warning and a silently
//! changed or dropped row. Instead each batch inserts its events with a plain `INSERT`;
//! when the primary key refuses one (a duplicate rolls back only that statement), it reads
//! which of its statement ids are stored (inside the import's transaction, so earlier
//! batches of the same file are seen too) and inserts only what is missing. A data error
//! then fails the file loudly. Dimension rows that exist are share-locked, missing ones
//! inserted with `ON DUPLICATE KEY UPDATE id = id`, which only absorbs the one expected
//! duplicate: the same content-addressed row written by a concurrent import. Two
//! concurrent imports of the same new statement id make the later one fail on the primary
//! key and be retried, when it finds the id stored.
//!
//! The statements are sent as SQL text with literal values, the way `mysqldump` writes
//! them, not as prepared statements: each batch has a different number of rows per table,
//! so prepared statements would be prepared anew for almost every insert, and the
//! benchmark measured that as the import's largest cost. Literals are written by
//! [`SqlText`], which quotes strings so that their meaning does not depend on the server's
//! `NO_BACKSLASH_ESCAPES` mode (strings holding a backslash or NUL go as `_utf8mb4 X'…'`).

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
};

/// Maps and sets of ids and hashes the import builds per batch: SipHash's protection
/// against chosen keys is not needed for ids this process derives, and it showed in the
/// profile.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use sqlx::{Executor, MySqlConnection, Row};

use crate::{
    batch::{Batch, StatementRows},
    report::Reject,
};

/// Largest statement sent, well below MySQL's default `max_allowed_packet` (64 MiB on
/// MySQL 8.0, 16 MiB on MariaDB 10.11).
const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// Most values in one `IN (…)` list: below MariaDB's `in_predicate_conversion_threshold`
/// (1,000), so MariaDB and MySQL alike look each value up in the primary key.
const MAX_IN_LIST: usize = 500;

/// Dimension ids remembered as stored during one import (8 bytes each); past the limit the
/// set starts over, which only costs a redundant look-up.
const WRITTEN_DIMENSIONS_LIMIT: usize = 400_000;

/// What a batch did with its statements.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// `client_event` rows added (statements new to the database).
    pub inserted: u64,
    /// Statements stored by another file before, with the same content.
    pub already_present: u64,
    /// Exact repeats of a statement stored earlier by this same file.
    pub duplicates_in_file: u64,
    /// Conflicting copies, each with its archive position for ordering the report.
    pub conflicts: Vec<(u64, Reject)>,
    /// Rows added across all nine tables.
    pub rows: u64,
}

/// What the database (or this file) already holds under a statement id.
#[derive(Debug, Clone, Copy)]
struct Known {
    /// `None` for rows imported before content hashes existed: they cannot be compared,
    /// so an equal id counts as already present.
    hash: Option<[u8; 16]>,
    this_file: bool,
}

/// Makes the session strict whatever the server's default: a value the validation missed
/// must fail the file, not be stored cut or zeroed. (`sql_mode` is a set of flags, so
/// adding one that is already there changes nothing.)
///
/// # Errors
/// The database error.
pub async fn strict_mode(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    conn.execute(
        "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')",
    )
    .await?;
    Ok(())
}

/// Writes the batches of one import, inside its transaction.
#[derive(Debug)]
pub struct Writer {
    import_id: u64,
    written_dimensions: FastSet<u64>,
}

impl Writer {
    pub fn new(import_id: u64) -> Self {
        Self {
            import_id,
            written_dimensions: FastSet::default(),
        }
    }

    /// Classifies and inserts a batch on `conn` (inside the caller's transaction).
    ///
    /// # Errors
    /// The database error; the caller rolls the transaction back.
    pub async fn write(
        &mut self,
        conn: &mut MySqlConnection,
        batch: &Batch,
    ) -> Result<BatchOutcome, sqlx::Error> {
        // Most batches hold only statements new to the database: their events go in at
        // once, and what is stored is read only when the primary key says some are not.
        let firsts = first_copies(batch);
        self.lock_stored_dimensions(conn, &firsts).await?;
        let inserted_at_once = self.insert_if_all_new(conn, &firsts).await?;
        let stored = match inserted_at_once {
            Some(_) => FastMap::default(),
            None => self.stored_statements(conn, batch).await?,
        };
        let mut outcome = BatchOutcome::default();
        let mut new = Vec::with_capacity(batch.statements.len());
        // The content of each id first seen new in this batch (borrowed: no copy per row).
        let mut new_in_batch: FastMap<&str, [u8; 16]> =
            FastMap::with_capacity_and_hasher(batch.statements.len(), Default::default());
        for statement in &batch.statements {
            let event = &statement.event;
            let id = event.statement_id.as_str();
            let known = match new_in_batch.get(id) {
                Some(hash) => Known {
                    hash: Some(*hash),
                    this_file: true,
                },
                None => match stored.get(id) {
                    Some(k) => *k,
                    None => {
                        new_in_batch.insert(id, event.content_hash);
                        new.push(statement);
                        continue;
                    }
                },
            };
            if known.hash.is_none_or(|h| h == event.content_hash) {
                if known.this_file {
                    outcome.duplicates_in_file += 1;
                } else {
                    outcome.already_present += 1;
                }
            } else {
                outcome.conflicts.push(conflict(statement, known.this_file));
            }
        }
        outcome.inserted = match inserted_at_once {
            Some(n) => n,
            None => self.insert_events(conn, &new).await?,
        };
        outcome.rows += outcome.inserted;
        outcome.rows += self.insert_missing_dimensions(conn, batch, &new).await?;
        outcome.rows += write_details(conn, &new).await?;
        Ok(outcome)
    }

    /// Inserts the events of `firsts` in one statement when none of their ids is stored;
    /// `None` (and nothing inserted: a duplicate key rolls back only its statement) when
    /// some are, or when one statement would be too large.
    async fn insert_if_all_new(
        &self,
        conn: &mut MySqlConnection,
        firsts: &[&StatementRows],
    ) -> Result<Option<u64>, sqlx::Error> {
        let mut sql = SqlText::default();
        sql.sql.push_str("INSERT INTO ");
        sql.sql.push_str(EVENT_COLUMNS);
        sql.sql.push_str(" VALUES ");
        for (i, statement) in firsts.iter().enumerate() {
            if i > 0 {
                sql.sql.push(',');
            }
            sql.sql.push('(');
            sql.first_value = true;
            event_values(&mut sql, self.import_id, statement);
            sql.sql.push(')');
            if sql.sql.len() > MAX_STATEMENT_BYTES {
                return Ok(None);
            }
        }
        if firsts.is_empty() {
            return Ok(Some(0));
        }
        match conn
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.sql)))
            .await
        {
            Ok(result) => Ok(Some(result.rows_affected())),
            Err(e) if is_duplicate_key(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Inserts the events of the statements found new.
    async fn insert_events(
        &self,
        conn: &mut MySqlConnection,
        new: &[&StatementRows],
    ) -> Result<u64, sqlx::Error> {
        let import_id = self.import_id;
        insert(conn, EVENT_COLUMNS, new, |t, s| {
            event_values(t, import_id, s);
        })
        .await
    }

    /// The stored rows under the batch's statement ids.
    async fn stored_statements(
        &self,
        conn: &mut MySqlConnection,
        batch: &Batch,
    ) -> Result<FastMap<String, Known>, sqlx::Error> {
        let ids: FastSet<&str> = batch
            .statements
            .iter()
            .map(|s| s.event.statement_id.as_str())
            .collect();
        let mut known = FastMap::with_capacity_and_hasher(ids.len(), Default::default());
        let ids: Vec<&str> = ids.into_iter().collect();
        for chunk in ids.chunks(MAX_IN_LIST) {
            let mut sql = SqlText::default();
            sql.sql.push_str(
                "SELECT statement_id, content_hash, import_id FROM client_event WHERE statement_id IN (",
            );
            sql.first_value = true;
            for id in chunk {
                sql.text(id);
            }
            sql.sql.push(')');
            let rows = conn
                .fetch_all(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.sql)))
                .await?;
            for row in rows {
                let id: String = row.try_get(0)?;
                let hash: Option<Vec<u8>> = row.try_get(1)?;
                let import_id: u64 = row.try_get(2)?;
                let hash = hash.and_then(|h| <[u8; 16]>::try_from(h.as_slice()).ok());
                known.insert(
                    id,
                    Known {
                        hash,
                        this_file: import_id == self.import_id,
                    },
                );
            }
        }
        Ok(known)
    }

    /// Share-locks the stored dimension rows that the `firsts` refer to, before any of
    /// their events is inserted: the cleanup skips locked rows, so none of them can be
    /// purged before the events that refer to them are committed (see
    /// functions/cleanup/src/purge.rs). Locked ids count as written.
    async fn lock_stored_dimensions(
        &mut self,
        conn: &mut MySqlConnection,
        firsts: &[&StatementRows],
    ) -> Result<(), sqlx::Error> {
        if self.written_dimensions.len() > WRITTEN_DIMENSIONS_LIMIT {
            self.written_dimensions.clear();
        }
        let mut by_table: [Vec<u64>; 4] = Default::default();
        let mut seen = FastSet::default();
        for s in firsts {
            let e = &s.event;
            let ids = [
                Some(e.actor_id),
                Some(e.action_id),
                e.cookie_id,
                e.tanet_info_id,
            ];
            for (table, id) in ids.into_iter().enumerate() {
                if let Some(id) = id
                    && !self.written_dimensions.contains(&id)
                    && seen.insert((table, id))
                {
                    by_table[table].push(id);
                }
            }
        }
        for (table, ids) in DIMENSION_TABLES.iter().zip(&by_table) {
            for chunk in ids.chunks(MAX_IN_LIST) {
                let sql = format!(
                    "SELECT id FROM {table} WHERE {} LOCK IN SHARE MODE",
                    unsigned_in_list(chunk)
                );
                for row in conn
                    .fetch_all(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
                    .await?
                {
                    self.written_dimensions.insert(row.try_get::<u64, _>(0)?);
                }
            }
        }
        Ok(())
    }

    /// Inserts the dimension rows that `new` statements refer to and that were not found
    /// stored; returns the rows added.
    async fn insert_missing_dimensions(
        &mut self,
        conn: &mut MySqlConnection,
        batch: &Batch,
        new: &[&StatementRows],
    ) -> Result<u64, sqlx::Error> {
        let mut wanted = FastSet::default();
        for s in new {
            let e = &s.event;
            wanted.extend([e.actor_id, e.action_id]);
            wanted.extend(e.cookie_id);
            wanted.extend(e.tanet_info_id);
        }
        wanted.retain(|id| !self.written_dimensions.contains(id));
        if wanted.is_empty() {
            return Ok(0);
        }
        let actors: Vec<_> = batch
            .actors
            .iter()
            .filter(|a| wanted.contains(&a.id))
            .collect();
        let actions: Vec<_> = batch
            .actions
            .iter()
            .filter(|a| wanted.contains(&a.id))
            .collect();
        let cookies: Vec<_> = batch
            .cookies
            .iter()
            .filter(|c| wanted.contains(&c.id))
            .collect();
        let tanets: Vec<_> = batch
            .tanets
            .iter()
            .filter(|n| wanted.contains(&n.id))
            .collect();
        let mut rows = insert(
            conn,
            "actor (id, uid, ifi, object_type, name, category, filename)",
            &actors,
            |t, a| {
                t.u64(a.id)
                    .text(&a.uid)
                    .text(a.ifi)
                    .text(a.object_type)
                    .opt_text(a.name.as_deref())
                    .opt_text(a.category.as_deref())
                    .text(&a.filename);
            },
        )
        .await?;
        rows += insert(
            conn,
            "action (id, verb_id, verb_display, object_id, object_type, object_name, course_id)",
            &actions,
            |t, a| {
                t.u64(a.id)
                    .text(&a.verb_id)
                    .opt_text(a.verb_display.as_deref())
                    .text(&a.object_id)
                    .opt_text(a.object_type.as_deref())
                    .opt_text(a.object_name.as_deref())
                    .opt_text(a.course_id.as_deref());
            },
        )
        .await?;
        rows += insert(
            conn,
            "cookie (id, session_id, cookie_id, user_agent)",
            &cookies,
            |t, c| {
                t.u64(c.id)
                    .opt_text(c.session_id.as_deref())
                    .opt_text(c.cookie_id.as_deref())
                    .opt_text(c.user_agent.as_deref());
            },
        )
        .await?;
        rows += insert(
            conn,
            "tanet_info (id, client_ip, region, school_code)",
            &tanets,
            |t, n| {
                t.u64(n.id)
                    .opt_text(n.client_ip.as_deref())
                    .opt_text(n.region.as_deref())
                    .opt_text(n.school_code.as_deref());
            },
        )
        .await?;
        self.written_dimensions.extend(wanted);
        Ok(rows)
    }
}

/// Inserts the detail rows (event_info, result, video_info, sentences) of the new
/// statements; returns the rows added.
async fn write_details(
    conn: &mut MySqlConnection,
    new: &[&StatementRows],
) -> Result<u64, sqlx::Error> {
    let mut rows = insert(
        conn,
        "event_info (statement_id, platform, language, registration, event_time, stored_time, version, context_activities, extensions)",
        new,
        |t, s| {
            let i = &s.info;
            t.text(&s.event.statement_id)
                .opt_text(i.platform.as_deref())
                .opt_text(i.language.as_deref())
                .opt_text(i.registration.as_deref())
                .datetime(i.event_time)
                .datetime(i.stored_time)
                .opt_text(i.version.as_deref())
                .opt_text(i.context_activities.as_ref().map(ToString::to_string).as_deref())
                .opt_text(i.extensions.as_ref().map(ToString::to_string).as_deref());
        },
    )
    .await?;
    let results: Vec<_> = new
        .iter()
        .filter_map(|s| s.result.as_ref().map(|r| (&s.event.statement_id, r)))
        .collect();
    rows += insert(
        conn,
        "result (statement_id, score_scaled, score_raw, score_min, score_max, success, completion, duration, duration_ms, response)",
        &results,
        |t, (id, r)| {
            t.text(id)
                .f64(r.score_scaled)
                .f64(r.score_raw)
                .f64(r.score_min)
                .f64(r.score_max)
                .bool(r.success)
                .bool(r.completion)
                .opt_text(r.duration.as_deref())
                .opt_i64(r.duration_ms)
                .opt_text(r.response.as_deref());
        },
    )
    .await?;
    let videos: Vec<_> = new
        .iter()
        .filter_map(|s| s.video.as_ref().map(|v| (&s.event.statement_id, v)))
        .collect();
    rows += insert(
        conn,
        "video_info (statement_id, video_time, time_from, time_to, progress, length, played_segments, speed)",
        &videos,
        |t, (id, v)| {
            t.text(id)
                .f64(v.video_time)
                .f64(v.time_from)
                .f64(v.time_to)
                .f64(v.progress)
                .f64(v.length)
                .opt_text(v.played_segments.as_deref())
                .opt_text(v.speed.as_deref());
        },
    )
    .await?;
    let sentences: Vec<_> = new
        .iter()
        .flat_map(|s| s.sentences.iter().map(|x| (&s.event.statement_id, x)))
        .collect();
    rows += insert(
        conn,
        "sentences (statement_id, seq, sentence, score, detail)",
        &sentences,
        |t, (id, s)| {
            t.text(id)
                .u64(u64::from(s.seq))
                .text(&s.sentence)
                .f64(s.score)
                .opt_text(s.detail.as_ref().map(ToString::to_string).as_deref());
        },
    )
    .await?;
    Ok(rows)
}

/// The dimension tables, in the order of an event's references (actor, action, cookie,
/// tanet_info).
const DIMENSION_TABLES: [&str; 4] = ["actor", "action", "cookie", "tanet_info"];

/// `client_event` and its columns, in the order [`event_values`] writes them.
const EVENT_COLUMNS: &str = "client_event (statement_id, import_id, entry_name, log_date, event_time, actor_id, action_id, cookie_id, tanet_info_id, content_hash)";

fn event_values(t: &mut SqlText, import_id: u64, s: &StatementRows) {
    let e = &s.event;
    t.text(&e.statement_id)
        .u64(import_id)
        .text(&e.entry_name)
        .date(e.log_date)
        .datetime(Some(e.event_time))
        .u64(e.actor_id)
        .u64(e.action_id)
        .opt_u64(e.cookie_id)
        .opt_u64(e.tanet_info_id)
        .bytes(&e.content_hash);
}

/// The first copy of each statement id in the batch, in order.
fn first_copies(batch: &Batch) -> Vec<&StatementRows> {
    let mut seen = FastSet::with_capacity_and_hasher(batch.statements.len(), Default::default());
    batch
        .statements
        .iter()
        .filter(|s| seen.insert(s.event.statement_id.as_str()))
        .collect()
}

/// The reject for a copy whose content differs from what is stored under its id.
fn conflict(statement: &StatementRows, this_file: bool) -> (u64, Reject) {
    let id = &statement.event.statement_id;
    let reason = if this_file {
        format!("id {id} appears earlier in this file with different content")
    } else {
        format!("id {id} already stored with different content")
    };
    let reject = Reject {
        entry: statement.event.entry_name.to_string(),
        location: statement.location,
        reason,
    };
    (statement.ordinal, reject)
}

/// Whether `error` is MySQL's 1062, a duplicate primary or unique key.
fn is_duplicate_key(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .is_some_and(|e| e.number() == 1062)
}

/// `id IN (…)` over 64-bit unsigned ids, as one list of ids below 2⁶³ and one of the rest.
/// A list that mixes both is compared as DECIMAL by MariaDB, which then cannot look the
/// ids up in the primary key and scans the whole table instead (under a locking read,
/// locking every row).
fn unsigned_in_list(ids: &[u64]) -> String {
    let (small, large): (Vec<u64>, Vec<u64>) = ids.iter().partition(|id| **id <= i64::MAX as u64);
    let list = |ids: &[u64]| {
        let mut text = String::from("id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let _ = write!(text, "{id}");
        }
        text.push(')');
        text
    };
    match (small.is_empty(), large.is_empty()) {
        (false, false) => format!("{} OR {}", list(&small), list(&large)),
        (false, true) => list(&small),
        (true, _) => list(&large),
    }
}

/// `INSERT INTO <table_and_columns> VALUES (…), (…)` in statements of at most
/// [`MAX_STATEMENT_BYTES`]; returns the rows added. Dimension tables (whose ids are hashes
/// of their content) absorb a concurrent import's identical row; fact tables do not.
async fn insert<T>(
    conn: &mut MySqlConnection,
    table_and_columns: &'static str,
    rows: &[T],
    mut row: impl FnMut(&mut SqlText, &T),
) -> Result<u64, sqlx::Error> {
    let dimension = ["actor ", "action ", "cookie ", "tanet_info "]
        .iter()
        .any(|t| table_and_columns.starts_with(t));
    let mut added = 0;
    let mut rows = rows.iter().peekable();
    while rows.peek().is_some() {
        let mut sql = SqlText::default();
        sql.sql.push_str("INSERT INTO ");
        sql.sql.push_str(table_and_columns);
        sql.sql.push_str(" VALUES ");
        let mut first = true;
        while let Some(next) = rows.next_if(|_| sql.sql.len() < MAX_STATEMENT_BYTES) {
            if !first {
                sql.sql.push(',');
            }
            first = false;
            sql.sql.push('(');
            sql.first_value = true;
            row(&mut sql, next);
            sql.sql.push(')');
        }
        if dimension {
            sql.sql.push_str(" ON DUPLICATE KEY UPDATE id = id");
        }
        let result = conn
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.sql)))
            .await?;
        // With CLIENT_FOUND_ROWS (sqlx sets it) a duplicate absorbed by the UPDATE counts
        // one; rows were checked missing just before, so this is exact but for races.
        added += result.rows_affected();
    }
    Ok(added)
}

/// `YYYY-MM-DD` (validation keeps years within 1000..=9999).
fn push_date(out: &mut String, date: NaiveDate) {
    push_digits(out, u32::try_from(date.year()).unwrap_or(0), 4);
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
}

/// `value` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(value);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

/// A statement being written, one literal value at a time.
#[derive(Debug, Default)]
pub struct SqlText {
    sql: String,
    first_value: bool,
}

impl SqlText {
    fn separator(&mut self) {
        if self.first_value {
            self.first_value = false;
        } else {
            self.sql.push(',');
        }
    }

    fn null(&mut self) -> &mut Self {
        self.separator();
        self.sql.push_str("NULL");
        self
    }

    fn u64(&mut self, value: u64) -> &mut Self {
        self.separator();
        self.sql.push_str(itoa::Buffer::new().format(value));
        self
    }

    fn opt_u64(&mut self, value: Option<u64>) -> &mut Self {
        match value {
            Some(v) => self.u64(v),
            None => self.null(),
        }
    }

    fn opt_i64(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => {
                self.separator();
                self.sql.push_str(itoa::Buffer::new().format(v));
                self
            }
            None => self.null(),
        }
    }

    /// Doubles print as their shortest round-trip form; non-finite values were rejected
    /// during validation and are stored as NULL should one ever get here.
    fn f64(&mut self, value: Option<f64>) -> &mut Self {
        match value.filter(|v| v.is_finite()) {
            Some(v) => {
                self.separator();
                let _ = write!(self.sql, "{v:?}");
                self
            }
            None => self.null(),
        }
    }

    fn bool(&mut self, value: Option<bool>) -> &mut Self {
        match value {
            Some(v) => {
                self.separator();
                self.sql.push(if v { '1' } else { '0' });
                self
            }
            None => self.null(),
        }
    }

    fn date(&mut self, value: NaiveDate) -> &mut Self {
        self.separator();
        self.sql.push('\'');
        push_date(&mut self.sql, value);
        self.sql.push('\'');
        self
    }

    /// `'YYYY-MM-DD HH:MM:SS.mmm'`, written by hand: chrono's `format` parses its pattern
    /// on every call, which the benchmark showed among the import's costs.
    fn datetime(&mut self, value: Option<NaiveDateTime>) -> &mut Self {
        match value {
            Some(v) => {
                self.separator();
                self.sql.push('\'');
                push_date(&mut self.sql, v.date());
                self.sql.push(' ');
                push_digits(&mut self.sql, v.hour(), 2);
                self.sql.push(':');
                push_digits(&mut self.sql, v.minute(), 2);
                self.sql.push(':');
                push_digits(&mut self.sql, v.second(), 2);
                self.sql.push('.');
                // A leap second's nanoseconds exceed 10^9; validation refuses those.
                push_digits(&mut self.sql, (v.nanosecond() / 1_000_000).min(999), 3);
                self.sql.push('\'');
                self
            }
            None => self.null(),
        }
    }

    /// A string literal. Quotes are doubled (standard SQL, valid in every `sql_mode`);
    /// strings with a backslash or NUL, whose reading depends on `NO_BACKSLASH_ESCAPES`,
    /// are written as hex instead.
    fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        if memchr::memchr2(b'\\', 0, value.as_bytes()).is_some() {
            self.sql.push_str("_utf8mb4 X'");
            self.hex(value.as_bytes());
            self.sql.push('\'');
        } else {
            self.sql.reserve(value.len() + 2);
            self.sql.push('\'');
            let mut rest = value;
            while let Some(quote) = memchr::memchr(b'\'', rest.as_bytes()) {
                self.sql.push_str(&rest[..=quote]);
                self.sql.push('\'');
                rest = &rest[quote + 1..];
            }
            self.sql.push_str(rest);
            self.sql.push('\'');
        }
        self
    }

    /// Binary data as a hex literal.
    fn bytes(&mut self, value: &[u8]) -> &mut Self {
        self.separator();
        self.sql.push_str("X'");
        self.hex(value);
        self.sql.push('\'');
        self
    }

    fn hex(&mut self, value: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        self.sql.reserve(value.len() * 2);
        for byte in value {
            self.sql.push(char::from(DIGITS[usize::from(byte >> 4)]));
            self.sql.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
        }
    }

    fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(write: impl FnOnce(&mut SqlText)) -> String {
        let mut text = SqlText {
            sql: String::new(),
            first_value: true,
        };
        write(&mut text);
        text.sql
    }

    #[test]
    fn strings_are_quoted_the_same_way_in_every_sql_mode() {
        assert_eq!(
            one(|t| {
                t.text("it's");
            }),
            "'it''s'"
        );
        assert_eq!(
            one(|t| {
                t.text("國中");
            }),
            "'國中'"
        );
        assert_eq!(
            one(|t| {
                t.text("a\\b");
            }),
            "_utf8mb4 X'615C62'"
        );
        assert_eq!(
            one(|t| {
                t.text("nul\0");
            }),
            "_utf8mb4 X'6E756C00'"
        );
    }

    #[test]
    fn id_lists_keep_signed_and_unsigned_ranges_apart() {
        assert_eq!(
            unsigned_in_list(&[1, u64::MAX, 2]),
            "id IN (1,2) OR id IN (18446744073709551615)"
        );
        assert_eq!(unsigned_in_list(&[7]), "id IN (7)");
        assert_eq!(
            unsigned_in_list(&[u64::MAX]),
            "id IN (18446744073709551615)"
        );
    }

    #[test]
    fn values_are_separated_and_nulls_spelled_out() {
        let sql = one(|t| {
            t.u64(u64::MAX)
                .opt_u64(None)
                .f64(Some(0.1))
                .f64(Some(f64::NAN))
                .bool(Some(true))
                .opt_i64(Some(-5));
        });
        assert_eq!(sql, "18446744073709551615,NULL,0.1,NULL,1,-5");
        let date = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
        let time = date.and_hms_milli_opt(7, 8, 9, 10).expect("time");
        assert_eq!(
            one(|t| {
                t.date(date).datetime(Some(time));
            }),
            "'2024-05-01','2024-05-01 07:08:09.010'"
        );
    }
}
