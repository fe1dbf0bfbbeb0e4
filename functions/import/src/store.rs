//! Writing batches into the learning tables with bounded multi-row `INSERT IGNORE`s.
//!
//! `INSERT IGNORE` on the primary key is what makes a re-import insert nothing: a statement
//! id, a dimension id or a (statement, seq) pair that is already stored is skipped. Every
//! value is validated and cut to its column width before it gets here (see
//! `statement.rs`), so IGNORE has no data errors left to hide.
//!
//! The statements are sent as SQL text with literal values, the way `mysqldump` writes
//! them, not as prepared statements: each batch has a different number of rows per table,
//! so prepared statements would be prepared anew for almost every insert, and the
//! benchmark measured that as the import's largest cost. Literals are written by
//! [`SqlText`], which quotes strings so that their meaning does not depend on the server's
//! `NO_BACKSLASH_ESCAPES` mode (strings holding a backslash or NUL go as `_utf8mb4 X'…'`).

use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveDateTime};
use sqlx::{Executor, MySqlConnection};

use crate::batch::Batch;

/// Largest statement sent, well below MySQL's default `max_allowed_packet` (64 MiB on
/// MySQL 8.0, 16 MiB on MariaDB 10.11).
const MAX_STATEMENT_BYTES: usize = 4 << 20;

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
        &batch.actors,
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
        &batch.actions,
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
        &batch.cookies,
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
        &batch.tanets,
        |t, n| {
            t.u64(n.id)
                .opt_text(n.client_ip.as_deref())
                .opt_text(n.region.as_deref())
                .opt_text(n.school_code.as_deref());
        },
    )
    .await?;
    let statements_inserted = insert(
        conn,
        "client_event (statement_id, import_id, entry_name, log_date, event_time, actor_id, action_id, cookie_id, tanet_info_id)",
        &batch.events,
        |t, e| {
            t.text(&e.statement_id)
                .u64(import_id)
                .text(&e.entry_name)
                .date(e.log_date)
                .datetime(Some(e.event_time))
                .u64(e.actor_id)
                .u64(e.action_id)
                .opt_u64(e.cookie_id)
                .opt_u64(e.tanet_info_id);
        },
    )
    .await?;
    rows += statements_inserted;
    rows += insert(
        conn,
        "event_info (statement_id, platform, language, registration, event_time, stored_time, version, context_activities, extensions)",
        &batch.infos,
        |t, (id, i)| {
            t.text(id)
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
    rows += insert(
        conn,
        "result (statement_id, score_scaled, score_raw, score_min, score_max, success, completion, duration, duration_ms, response)",
        &batch.results,
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
    rows += insert(
        conn,
        "video_info (statement_id, video_time, time_from, time_to, progress, length, played_segments, speed)",
        &batch.videos,
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
    rows += insert(
        conn,
        "sentences (statement_id, seq, sentence, score, detail)",
        &batch.sentences,
        |t, (id, s)| {
            t.text(id)
                .u64(u64::from(s.seq))
                .text(&s.sentence)
                .f64(s.score)
                .opt_text(s.detail.as_ref().map(ToString::to_string).as_deref());
        },
    )
    .await?;
    Ok(BatchCounts {
        statements_inserted,
        rows,
    })
}

/// `INSERT IGNORE INTO <table_and_columns> VALUES (…), (…)` in statements of at most
/// [`MAX_STATEMENT_BYTES`]; returns the rows added.
async fn insert<T>(
    conn: &mut MySqlConnection,
    table_and_columns: &'static str,
    rows: &[T],
    mut row: impl FnMut(&mut SqlText, &T),
) -> Result<u64, sqlx::Error> {
    let mut added = 0;
    let mut rows = rows.iter().peekable();
    while rows.peek().is_some() {
        let mut sql = SqlText::default();
        sql.sql.push_str("INSERT IGNORE INTO ");
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
        added += conn
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.sql)))
            .await?
            .rows_affected();
    }
    Ok(added)
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
        let _ = write!(self.sql, "{value}");
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
                let _ = write!(self.sql, "{v}");
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
        let _ = write!(self.sql, "'{}'", value.format("%Y-%m-%d"));
        self
    }

    fn datetime(&mut self, value: Option<NaiveDateTime>) -> &mut Self {
        match value {
            Some(v) => {
                self.separator();
                let _ = write!(self.sql, "'{}'", v.format("%Y-%m-%d %H:%M:%S%.3f"));
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
        if value.bytes().any(|b| b == b'\\' || b == 0) {
            self.sql.push_str("_utf8mb4 X'");
            for byte in value.bytes() {
                let _ = write!(self.sql, "{byte:02X}");
            }
            self.sql.push('\'');
        } else {
            self.sql.reserve(value.len() + 2);
            self.sql.push('\'');
            for c in value.chars() {
                if c == '\'' {
                    self.sql.push('\'');
                }
                self.sql.push(c);
            }
            self.sql.push('\'');
        }
        self
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
