//! One chat date surveyed: its unique questions with their counts, which of them have
//! keywords already, and what the work ledger says of the others.
//!
//! # The unique questions of a date
//! `SELECT input_text, COUNT(*) … WHERE created_at >= ? AND created_at < ? GROUP BY
//! input_text`, with the day's bounds as bound parameters on the `created_at` index. This is
//! the original's window query run for one day: `ROW_NUMBER() OVER (PARTITION BY
//! input_text …)` keeps one row per text with `COUNT(*) OVER (PARTITION BY input_text)`, and
//! both group by the column's collation. The database streams the groups; each text becomes
//! its question ([`Normalization::question`]) and is counted under its [`QuestionHash`], so
//! the run holds 36 bytes per unique question of one date and never a text.
//!
//! # Processed and missing
//! A question is processed when `admin_chat_keywords` has its (date, hash), missing
//! otherwise; a missing question is `queued` (the ledger has it on the queue, sent less
//! than KEYWORD_REQUEUE_AFTER_SECS ago), `failed` (the worker gave up, with the reason) or
//! `unsent` (never sent, or sent so long ago that its message is gone).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use chrono::{NaiveDate, NaiveDateTime, TimeDelta, Utc};
use common::chat::{Normalization, QuestionHash, status};
use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{MySqlPool, Row};

/// The unique questions of one date.
#[derive(Debug, Default)]
pub struct DayQuestions {
    /// Chats of the date.
    pub chats: u64,
    /// Chats that are no question once normalised (blank).
    pub blank_chats: u64,
    /// Chats per question.
    pub counts: HashMap<QuestionHash, u32>,
}

/// The local-time bounds of a chat date (`created_at` is the chat system's local time).
pub fn day_bounds(date: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let start = date.and_time(chrono::NaiveTime::MIN);
    (start, start + TimeDelta::days(1))
}

/// The function's unique-question query: one row per distinct text of the day (as the
/// column's collation groups them) with its count, most asked first.
pub const UNIQUE_QUESTIONS_SQL: &str = "SELECT input_text, COUNT(*) AS total_count \
     FROM chattings WHERE created_at >= ? AND created_at < ? \
     GROUP BY input_text ORDER BY total_count DESC";

/// Counts the questions of `date`, streaming the grouped texts.
///
/// # Errors
/// The database error.
pub async fn count_questions(
    pool: &MySqlPool,
    date: NaiveDate,
    normalization: Normalization,
) -> Result<DayQuestions, sqlx::Error> {
    let (start, end) = day_bounds(date);
    let mut day = DayQuestions::default();
    let mut rows = sqlx::query(UNIQUE_QUESTIONS_SQL)
        .bind(start)
        .bind(end)
        .fetch(pool);
    while let Some(row) = rows.try_next().await? {
        let text: String = row.try_get(0)?;
        let count = u32::try_from(row.try_get::<i64, _>(1)?).unwrap_or(u32::MAX);
        day.chats += u64::from(count);
        match normalization.question(&text) {
            None => day.blank_chats += u64::from(count),
            Some(question) => {
                let total = day.counts.entry(QuestionHash::of(&question)).or_insert(0);
                *total = total.saturating_add(count);
            }
        }
    }
    Ok(day)
}

/// What the ledger says of one question of a date.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub status: String,
    pub queued_at: NaiveDateTime,
    pub reason: Option<String>,
}

/// A date's processed questions and its ledger.
#[derive(Debug, Default)]
pub struct DayState {
    pub processed: HashSet<QuestionHash>,
    pub ledger: HashMap<QuestionHash, LedgerEntry>,
}

/// Reads which questions of `date` have keywords, and the date's ledger.
///
/// # Errors
/// The database error, or a stored hash that is not 32 bytes.
pub async fn load_state(pool: &MySqlPool, date: NaiveDate) -> Result<DayState, sqlx::Error> {
    let mut state = DayState::default();
    let mut rows = sqlx::query("SELECT query_hash FROM admin_chat_keywords WHERE created_at = ?")
        .bind(date)
        .fetch(pool);
    while let Some(row) = rows.try_next().await? {
        state.processed.insert(hash_column(&row, 0)?);
    }
    drop(rows);
    let mut rows = sqlx::query(
        "SELECT query_hash, status, queued_at, reason FROM keyword_work WHERE chat_date = ?",
    )
    .bind(date)
    .fetch(pool);
    while let Some(row) = rows.try_next().await? {
        state.ledger.insert(
            hash_column(&row, 0)?,
            LedgerEntry {
                status: row.try_get(1)?,
                queued_at: row.try_get(2)?,
                reason: row.try_get(3)?,
            },
        );
    }
    Ok(state)
}

fn hash_column(row: &sqlx::mysql::MySqlRow, index: usize) -> Result<QuestionHash, sqlx::Error> {
    let bytes: Vec<u8> = row.try_get(index)?;
    QuestionHash::from_slice(&bytes).map_err(|reason| sqlx::Error::ColumnDecode {
        index: index.to_string(),
        source: reason.into(),
    })
}

/// Where a missing question stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// On the queue, sent recently.
    Queued,
    /// The worker gave up on it.
    Failed,
    /// Never sent.
    New,
    /// Sent so long ago that its message is gone (or the ledger says done without a row).
    Lost,
}

impl DayState {
    /// Where a question without keywords stands, `requeue_after` deciding lost from queued.
    pub fn missing(
        &self,
        hash: &QuestionHash,
        now: NaiveDateTime,
        requeue_after: Duration,
    ) -> Missing {
        match self.ledger.get(hash) {
            None => Missing::New,
            Some(entry) if entry.status == status::FAILED => Missing::Failed,
            Some(entry) if entry.status == status::QUEUED => {
                let age = now - entry.queued_at;
                if age.to_std().is_ok_and(|age| age >= requeue_after) {
                    Missing::Lost
                } else {
                    Missing::Queued
                }
            }
            Some(_) => Missing::Lost,
        }
    }
}

/// The figures of one date, as `check` reports them (the original's report, per date).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DayFigures {
    pub date: NaiveDate,
    /// Chats of the date.
    pub chats: u64,
    /// Chats that are no question (blank once normalised).
    pub blank_chats: u64,
    /// Unique questions (전체 고유 질문).
    pub unique: u64,
    /// With a keyword row (기존 처리된 질문).
    pub processed: u64,
    /// Without one (누락된 질문) = queued + failed + unsent.
    pub missing: u64,
    /// Missing, but on the queue.
    pub queued: u64,
    /// Missing because the worker gave up; the reasons with their counts.
    pub failed: u64,
    pub failed_reasons: BTreeMap<String, u64>,
    /// Missing and not on the queue (never sent, or its message was lost).
    pub unsent: u64,
    /// processed / unique × 100, one decimal (처리율); 100 for a date without questions.
    pub rate_percent: f64,
}

impl DayFigures {
    /// The figures of a surveyed date.
    pub fn of(
        date: NaiveDate,
        questions: &DayQuestions,
        state: &DayState,
        now: NaiveDateTime,
        requeue_after: Duration,
    ) -> Self {
        let mut figures = Self {
            date,
            chats: questions.chats,
            blank_chats: questions.blank_chats,
            unique: questions.counts.len() as u64,
            ..Self::default()
        };
        for hash in questions.counts.keys() {
            if state.processed.contains(hash) {
                figures.processed += 1;
                continue;
            }
            figures.missing += 1;
            match state.missing(hash, now, requeue_after) {
                Missing::Queued => figures.queued += 1,
                Missing::Failed => {
                    figures.failed += 1;
                    let reason = state
                        .ledger
                        .get(hash)
                        .and_then(|e| e.reason.clone())
                        .unwrap_or_else(|| "unknown".into());
                    *figures
                        .failed_reasons
                        .entry(reason_kind(&reason))
                        .or_insert(0) += 1;
                }
                Missing::New | Missing::Lost => figures.unsent += 1,
            }
        }
        figures.rate_percent = rate(figures.processed, figures.unique);
        figures
    }
}

/// The part of a failure reason before its first colon (`context_too_long: …` → its
/// kind), so the report groups reasons instead of listing every message.
fn reason_kind(reason: &str) -> String {
    reason.split(':').next().unwrap_or(reason).trim().to_owned()
}

/// processed / unique in per cent, one decimal; 100 when there is nothing to process.
pub fn rate(processed: u64, unique: u64) -> f64 {
    if unique == 0 {
        return 100.0;
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let percent = processed as f64 * 100.0 / unique as f64;
    (percent * 10.0).floor() / 10.0
}

/// The current time as the ledger stores it (UTC, milliseconds).
pub fn ledger_now() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now - TimeDelta::nanoseconds(i64::from(
        now.and_utc().timestamp_subsec_nanos() % 1_000_000,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_rounded_down_to_one_decimal() {
        assert!((rate(544, 620) - 87.7).abs() < 1e-9);
        assert!((rate(0, 0) - 100.0).abs() < 1e-9);
        assert!((rate(2, 3) - 66.6).abs() < 1e-9);
        assert!((rate(3, 3) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn failure_reasons_group_by_kind() {
        assert_eq!(
            reason_kind("context_too_long: 40003 text too long"),
            "context_too_long"
        );
        assert_eq!(reason_kind("dead_letter"), "dead_letter");
    }

    #[test]
    fn a_queued_question_is_lost_after_the_requeue_age() {
        let hash = QuestionHash::of("q");
        let now = NaiveDate::from_ymd_opt(2025, 6, 12)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("time");
        let mut state = DayState::default();
        let six_hours = Duration::from_secs(6 * 3600);
        assert_eq!(state.missing(&hash, now, six_hours), Missing::New);
        state.ledger.insert(
            hash,
            LedgerEntry {
                status: status::QUEUED.into(),
                queued_at: now - TimeDelta::hours(1),
                reason: None,
            },
        );
        assert_eq!(state.missing(&hash, now, six_hours), Missing::Queued);
        assert_eq!(
            state.missing(&hash, now + TimeDelta::hours(6), six_hours),
            Missing::Lost
        );
    }
}
