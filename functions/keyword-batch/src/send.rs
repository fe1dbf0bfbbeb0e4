//! Putting a date's chosen questions on the work queue, each exactly once.
//!
//! The chosen hashes (from the survey) are matched against a second stream of the date's
//! grouped texts, most asked first, which gives each its text. Every [`FLUSH_QUESTIONS`]
//! questions are claimed in the work ledger and sent:
//! 1. one multi-row `INSERT … ON DUPLICATE KEY UPDATE` writes a `queued` row per question
//!    with this flush's claim token; an existing row takes the token only when it is a
//!    `queued` row older than the re-queue age (its message was lost). A row another run
//!    has just written keeps that run's token;
//! 2. the rows holding this token are read back: only those are sent, so two runs over
//!    one date at once never send a question twice;
//! 3. the messages go out with `SendMessageBatch` (several requests in flight); questions
//!    whose messages SQS refused lose their ledger rows again, so the next run sends them.
//!
//! A run killed between 1 and 3 leaves `queued` rows without messages: they count as
//! queued until the re-queue age, then as lost, and `missing` sends them again.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use common::{
    chat::{Normalization, QuestionHash, WorkItem, WorkMessage},
    job::Deadline,
    sqs::{BatchSender, OutgoingMessage, Producer, SendError},
};
use futures_util::TryStreamExt;
use sqlx::{MySql, MySqlPool, QueryBuilder, Row};

use crate::survey::{UNIQUE_QUESTIONS_SQL, day_bounds, ledger_now};

/// Questions claimed and sent together.
pub const FLUSH_QUESTIONS: usize = 500;

/// Keeps a message well under the producer's 256 KiB limit whatever the texts' lengths.
const MESSAGE_BUDGET_BYTES: usize = 200 * 1024;

/// What sending one date came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Questions put on the queue by this run.
    pub sent: u64,
    /// Chosen, but another run claimed them first (or they were sent meanwhile).
    pub claimed_elsewhere: u64,
    /// Chosen, but their texts no longer exist (chats deleted between survey and send).
    pub vanished: u64,
    /// Stopped by the deadline before every chosen question was sent.
    pub stopped: bool,
}

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
pub enum SendFailure {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("work queue: {0}")]
    Queue(#[from] SendError),
}

/// Where to send, and how.
pub struct Outbox<'a, S> {
    pub pool: &'a MySqlPool,
    pub producer: &'a Producer<S>,
    pub normalization: Normalization,
    pub questions_per_message: usize,
    /// A stale `queued` row is re-claimed when it was queued before this.
    pub requeue_before: chrono::NaiveDateTime,
    pub deadline: Deadline,
}

impl<S: BatchSender> Outbox<'_, S> {
    /// Sends the `chosen` questions of `date` (hash → total count).
    ///
    /// # Errors
    /// [`SendFailure`]: the questions of the failed flush are not left claimed when the
    /// queue refused them; earlier flushes stay sent.
    pub async fn send_date(
        &self,
        date: NaiveDate,
        mut chosen: HashMap<QuestionHash, u32>,
    ) -> Result<Sent, SendFailure> {
        let mut sent = Sent::default();
        if chosen.is_empty() {
            return Ok(sent);
        }
        let (start, end) = day_bounds(date);
        let mut rows = sqlx::query(UNIQUE_QUESTIONS_SQL)
            .bind(start)
            .bind(end)
            .fetch(self.pool);
        let mut pending = Vec::with_capacity(FLUSH_QUESTIONS);
        while let Some(row) = rows.try_next().await? {
            let text: String = row.try_get(0)?;
            let Some(question) = self.normalization.question(&text) else {
                continue;
            };
            let hash = QuestionHash::of(&question);
            let Some(total_count) = chosen.remove(&hash) else {
                continue;
            };
            pending.push(WorkItem {
                date,
                hash,
                text: question,
                total_count,
            });
            if pending.len() >= FLUSH_QUESTIONS {
                self.flush(date, std::mem::take(&mut pending), &mut sent)
                    .await?;
                if self.deadline.reached() && !chosen.is_empty() {
                    sent.stopped = true;
                    break;
                }
            }
            if chosen.is_empty() {
                break;
            }
        }
        drop(rows);
        if !pending.is_empty() {
            self.flush(date, pending, &mut sent).await?;
        }
        if !sent.stopped {
            sent.vanished = chosen.len() as u64;
        }
        Ok(sent)
    }

    async fn flush(
        &self,
        date: NaiveDate,
        items: Vec<WorkItem>,
        sent: &mut Sent,
    ) -> Result<(), SendFailure> {
        let claim = uuid::Uuid::new_v4().to_string();
        let claimed = self.claim(date, &items, &claim).await?;
        let (mine, theirs): (Vec<WorkItem>, Vec<WorkItem>) = items
            .into_iter()
            .partition(|item| claimed.contains(&item.hash));
        sent.claimed_elsewhere += theirs.len() as u64;
        let messages = self.messages(&mine);
        match self
            .producer
            .send_all(messages.iter().map(|(m, _)| m.clone()).collect())
            .await
        {
            Ok(_) => {
                sent.sent += mine.len() as u64;
                Ok(())
            }
            Err(error) => {
                // Unclaim what did not go out; with an outright request failure nothing is
                // known to have gone out, and a question sent twice is harmless to the
                // worker (it finds its row), while one left claimed would wait out the
                // re-queue age.
                let unsent: Vec<QuestionHash> = match &error {
                    SendError::Partial { failed, .. } => failed
                        .iter()
                        .flat_map(|(index, _, _)| messages[*index].1.iter().copied())
                        .collect(),
                    _ => mine.iter().map(|item| item.hash).collect(),
                };
                sent.sent += (mine.len() - unsent.len()) as u64;
                if let Err(undo) = self.unclaim(date, &claim, &unsent).await {
                    tracing::warn!(error = %undo, questions = unsent.len(), "could not release the ledger rows of unsent questions; they are re-sent after the re-queue age");
                }
                Err(error.into())
            }
        }
    }

    /// Writes the ledger rows of `items` with `claim` and answers the hashes it holds.
    async fn claim(
        &self,
        date: NaiveDate,
        items: &[WorkItem],
        claim: &str,
    ) -> Result<HashSet<QuestionHash>, sqlx::Error> {
        let now = ledger_now();
        let mut insert: QueryBuilder<MySql> = QueryBuilder::new(
            "INSERT INTO keyword_work \
             (chat_date, query_hash, status, total_count, sends, attempts, queued_at, updated_at, claim) ",
        );
        insert.push_values(items, |mut row, item| {
            row.push_bind(date)
                .push_bind(item.hash.0.as_slice())
                .push("'queued'")
                .push_bind(item.total_count)
                .push("1, 0")
                .push_bind(now)
                .push_bind(now)
                .push_bind(claim);
        });
        // MySQL and MariaDB assign left to right and later assignments see earlier ones, so
        // every column after `claim` asks whether this flush took the row.
        insert
            .push(" ON DUPLICATE KEY UPDATE claim = IF(status = 'queued' AND queued_at < ")
            .push_bind(self.requeue_before)
            .push(
                ", VALUES(claim), claim), \
                 sends = IF(claim = VALUES(claim), sends + 1, sends), \
                 total_count = IF(claim = VALUES(claim), VALUES(total_count), total_count), \
                 queued_at = IF(claim = VALUES(claim), VALUES(queued_at), queued_at), \
                 updated_at = IF(claim = VALUES(claim), VALUES(updated_at), updated_at)",
            );
        insert.build().execute(self.pool).await?;
        let rows = sqlx::query("SELECT query_hash FROM keyword_work WHERE claim = ?")
            .bind(claim)
            .fetch_all(self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let bytes: Vec<u8> = row.try_get(0)?;
                QuestionHash::from_slice(&bytes).map_err(|reason| sqlx::Error::ColumnDecode {
                    index: "query_hash".into(),
                    source: reason.into(),
                })
            })
            .collect()
    }

    async fn unclaim(
        &self,
        date: NaiveDate,
        claim: &str,
        hashes: &[QuestionHash],
    ) -> Result<(), sqlx::Error> {
        if hashes.is_empty() {
            return Ok(());
        }
        let mut delete: QueryBuilder<MySql> =
            QueryBuilder::new("DELETE FROM keyword_work WHERE status = 'queued' AND claim = ");
        delete
            .push_bind(claim)
            .push(" AND chat_date = ")
            .push_bind(date);
        delete.push(" AND query_hash IN (");
        let mut list = delete.separated(", ");
        for hash in hashes {
            list.push_bind(hash.0.as_slice());
        }
        delete.push(")");
        delete.build().execute(self.pool).await?;
        Ok(())
    }

    /// Groups items into messages of at most `questions_per_message` and the byte budget;
    /// each message with the hashes it carries.
    fn messages(&self, items: &[WorkItem]) -> Vec<(OutgoingMessage, Vec<QuestionHash>)> {
        let mut messages = Vec::new();
        let mut group: Vec<WorkItem> = Vec::new();
        let mut bytes = 0;
        let close = |group: &mut Vec<WorkItem>, messages: &mut Vec<_>| {
            if group.is_empty() {
                return;
            }
            let hashes = group.iter().map(|item| item.hash).collect();
            let body = serde_json::to_string(&WorkMessage {
                questions: std::mem::take(group),
            })
            .unwrap_or_default();
            messages.push((OutgoingMessage::new(body), hashes));
        };
        for item in items {
            let size = item.text.len() + 160;
            if group.len() >= self.questions_per_message
                || (!group.is_empty() && bytes + size > MESSAGE_BUDGET_BYTES)
            {
                close(&mut group, &mut messages);
                bytes = 0;
            }
            bytes += size;
            group.push(item.clone());
        }
        close(&mut group, &mut messages);
        messages
    }
}
