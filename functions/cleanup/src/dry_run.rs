//! `{"dry_run": true}`: what a run would delete, counted with reads only.
//!
//! The counts follow the run's rules exactly: an event before the cut-off with its details;
//! a dimension row referenced by such an event (or already a candidate) and by no event
//! that stays; a completed import of before the cut-off none of whose events stay.

use chrono::NaiveDate;
use sqlx::MySqlPool;

use crate::{Outcome, purge::Dimension};

/// Fills `outcome.deleted` and `outcome.import_files_purged` with what a run would do.
///
/// # Errors
/// The database error.
pub async fn count(
    pool: &MySqlPool,
    cutoff: NaiveDate,
    outcome: &mut Outcome,
) -> Result<(), sqlx::Error> {
    let events = scalar(
        pool,
        "SELECT COUNT(*) FROM client_event WHERE log_date < ?".into(),
        cutoff,
        1,
    )
    .await?;
    outcome.add("client_event", events);
    for table in ["event_info", "result", "video_info", "sentences"] {
        let rows = scalar(
            pool,
            format!(
                "SELECT COUNT(*) FROM {table} d
                 JOIN client_event e ON e.statement_id = d.statement_id
                 WHERE e.log_date < ?"
            ),
            cutoff,
            1,
        )
        .await?;
        outcome.add(table, rows);
    }
    for dimension in Dimension::ALL {
        let (table, column) = (dimension.table(), dimension.event_column());
        let rows = scalar(
            pool,
            format!(
                "SELECT COUNT(*) FROM {table} t
                 WHERE NOT EXISTS (SELECT 1 FROM client_event e WHERE e.{column} = t.id AND e.log_date >= ?)
                   AND (EXISTS (SELECT 1 FROM client_event e WHERE e.{column} = t.id AND e.log_date < ?)
                        OR EXISTS (SELECT 1 FROM cleanup_candidate c WHERE c.dimension = '{table}' AND c.id = t.id))"
            ),
            cutoff,
            2,
        )
        .await?;
        outcome.add(table, rows);
    }
    outcome.import_files_purged = scalar(
        pool,
        "SELECT COUNT(*) FROM import_file f
         WHERE f.purged_at IS NULL AND f.status = 'completed'
           AND COALESCE(f.log_date, DATE(f.first_seen_at)) < ?
           AND NOT EXISTS (SELECT 1 FROM client_event e WHERE e.import_id = f.id AND e.log_date >= ?)"
            .into(),
        cutoff,
        2,
    )
    .await?;
    Ok(())
}

/// A `COUNT(*)` whose placeholders all take the cut-off.
async fn scalar(
    pool: &MySqlPool,
    sql: String,
    cutoff: NaiveDate,
    placeholders: usize,
) -> Result<u64, sqlx::Error> {
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql));
    for _ in 0..placeholders {
        query = query.bind(cutoff);
    }
    let count = query.fetch_one(pool).await?;
    Ok(u64::try_from(count).unwrap_or(0))
}
