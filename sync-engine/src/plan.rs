//! A job's work cut into tasks (DataX's "task" / "slice"), each one a range of the source
//! that one reader–writer pair copies: a table, a `splitPk` range of a table, the
//! `splitPk IS NULL` slice, a `querySql`, or a streamreader slice. Tasks serialise, so a
//! later part can hand them to other invocations through a queue.
//!
//! DataX's split rule: with `splitPk`, each table is cut into about `channel` × `splitFactor`
//! (default 5) ranges of equal key width between `MIN(pk)` and `MAX(pk)` (the last range
//! closed at the top), plus one slice for the rows whose key is NULL; without it, a table
//! is one task. The ranges here are read in key order, so a task that stops midway can say
//! where it stopped (`resume_after`).

use serde::{Deserialize, Serialize};

use crate::job::{DbReader, is_star};

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Position in the job's plan, from 0.
    pub index: usize,
    #[serde(flatten)]
    pub kind: TaskKind,
}

/// What a task reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskKind {
    /// A table of the reader's connection `connection`, whole or one key range of it.
    Table {
        connection: usize,
        table: String,
        range: Option<KeyRange>,
    },
    /// One `querySql` of connection `connection`.
    Query { connection: usize, sql: String },
    /// `records` records of streamreader.
    Stream { records: u64 },
}

/// A `splitPk` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "range", rename_all = "snake_case")]
pub enum KeyRange {
    /// `low <= pk < high`, or `low <= pk <= high` for the last range.
    Span { low: i64, high: i64, last: bool },
    /// `pk IS NULL`.
    Null,
}

impl KeyRange {
    /// The range's condition on `pk`.
    pub fn condition(&self, pk: &str) -> String {
        match self {
            KeyRange::Span { low, high, last } => {
                let op = if *last { "<=" } else { "<" };
                format!("{pk} >= {low} AND {pk} {op} {high}")
            }
            KeyRange::Null => format!("{pk} IS NULL"),
        }
    }

    /// The part of the range after key `after` (for a task that stopped there).
    pub fn after(&self, after: i64) -> Option<KeyRange> {
        match *self {
            KeyRange::Span { high, last, .. } => {
                let low = after.checked_add(1)?;
                (low < high || (last && low == high)).then_some(KeyRange::Span { low, high, last })
            }
            KeyRange::Null => None,
        }
    }
}

impl Task {
    /// The rest of a ranged task after key `after` (`None`: nothing is left). A task
    /// without a key range has no "after" and is returned whole.
    pub fn after(&self, after: i64) -> Option<Task> {
        match &self.kind {
            TaskKind::Table {
                connection,
                table,
                range: Some(range @ KeyRange::Span { .. }),
            } => range.after(after).map(|rest| Task {
                index: self.index,
                kind: TaskKind::Table {
                    connection: *connection,
                    table: table.clone(),
                    range: Some(rest),
                },
            }),
            _ => Some(self.clone()),
        }
    }

    /// Whether the task reads in key order, so that it can stop and resume at a key.
    pub fn resumable(&self) -> bool {
        matches!(
            self.kind,
            TaskKind::Table {
                range: Some(KeyRange::Span { .. }),
                ..
            }
        )
    }

    /// One line for the log: `task 3: city [id >= 10 AND id < 20]`.
    pub fn describe(&self, split_pk: Option<&str>) -> String {
        match &self.kind {
            TaskKind::Table { table, range, .. } => match (range, split_pk) {
                (Some(range), Some(pk)) => {
                    format!("task {}: {table} [{}]", self.index, range.condition(pk))
                }
                _ => format!("task {}: {table}", self.index),
            },
            TaskKind::Query { sql, .. } => format!("task {}: querySql {sql}", self.index),
            TaskKind::Stream { records } => {
                format!("task {}: streamreader, {records} records", self.index)
            }
        }
    }
}

/// DataX's equal-width split of `[min, max]` into at most `pieces` ranges (fewer when the
/// key span is narrower), the last one closed at the top.
pub fn split_range(min: i64, max: i64, pieces: u64) -> Vec<KeyRange> {
    if max < min {
        return Vec::new();
    }
    let span = i128::from(max) - i128::from(min);
    let pieces = i128::from(pieces.max(1)).min(span.max(1));
    let mut bounds: Vec<i64> = (0..=pieces)
        .map(|i| (i128::from(min) + span * i / pieces) as i64)
        .collect();
    bounds.dedup();
    if bounds.len() == 1 {
        return vec![KeyRange::Span {
            low: min,
            high: max,
            last: true,
        }];
    }
    let count = bounds.len() - 1;
    bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| KeyRange::Span {
            low: w[0],
            high: w[1],
            last: i + 1 == count,
        })
        .collect()
}

/// The SELECT of a table task: the job's columns, its `where`, the range, in key order
/// when ranged.
pub fn select_sql(reader: &DbReader, table: &str, range: Option<&KeyRange>) -> String {
    let columns = if is_star(&reader.columns) {
        "*".to_owned()
    } else {
        reader.columns.join(",")
    };
    let mut conditions = Vec::new();
    if let Some(w) = &reader.where_clause {
        conditions.push(format!("({w})"));
    }
    if let (Some(range), Some(pk)) = (range, &reader.split_pk) {
        conditions.push(range.condition(pk));
    }
    let mut sql = format!("SELECT {columns} FROM {table}");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    if let (Some(KeyRange::Span { .. }), Some(pk)) = (range, &reader.split_pk) {
        sql.push_str(" ORDER BY ");
        sql.push_str(pk);
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_datax_and_covers_every_key_once() {
        let ranges = split_range(1, 100, 5);
        assert_eq!(ranges.len(), 5);
        assert_eq!(
            ranges[0],
            KeyRange::Span {
                low: 1,
                high: 20,
                last: false
            }
        );
        assert_eq!(
            ranges[4],
            KeyRange::Span {
                low: 80,
                high: 100,
                last: true
            }
        );
        for key in 1..=100_i64 {
            let holding = ranges
                .iter()
                .filter(|r| match r {
                    KeyRange::Span { low, high, last } => {
                        key >= *low && (key < *high || (*last && key == *high))
                    }
                    KeyRange::Null => false,
                })
                .count();
            assert_eq!(holding, 1, "key {key}");
        }
        assert_eq!(split_range(7, 7, 10).len(), 1);
        assert_eq!(split_range(1, 3, 10).len(), 2);
        assert!(split_range(5, 1, 3).is_empty());
        assert_eq!(split_range(i64::MIN, i64::MAX, 4).len(), 4);
    }

    #[test]
    fn a_stopped_range_resumes_after_its_last_key() {
        let range = KeyRange::Span {
            low: 1,
            high: 20,
            last: false,
        };
        assert_eq!(
            range.after(9),
            Some(KeyRange::Span {
                low: 10,
                high: 20,
                last: false
            })
        );
        assert_eq!(range.after(19), None);
        let last = KeyRange::Span {
            low: 1,
            high: 20,
            last: true,
        };
        assert_eq!(
            last.after(19),
            Some(KeyRange::Span {
                low: 20,
                high: 20,
                last: true
            })
        );
        assert_eq!(last.after(20), None);
    }

    #[test]
    fn tasks_serialise_for_a_queue() {
        let task = Task {
            index: 2,
            kind: TaskKind::Table {
                connection: 0,
                table: "city".into(),
                range: Some(KeyRange::Null),
            },
        };
        let text = serde_json::to_string(&task).expect("serialises");
        assert_eq!(serde_json::from_str::<Task>(&text).expect("parses"), task);
        assert_eq!(task.describe(Some("id")), "task 2: city [id IS NULL]");
    }
}
