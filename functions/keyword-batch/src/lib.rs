//! The `keyword-batch` function (source system 002): each day's unique chat questions,
//! put on the work queue for `keyword-worker` to classify, and the original's report of
//! what is processed and what is missing.
//!
//! # Payload
//! `{"mode": "basic|check|missing|complete", "from": "YYYY-MM-DD", "to": "YYYY-MM-DD",
//! "limit": N}`. EventBridge's schedule (no `from`/`to`) runs `complete` for yesterday in
//! the chat system's zone (KEYWORD_TIME_ZONE). A bad mode, a bad date, `from` after `to`, a
//! range longer than KEYWORD_MAX_RANGE_DAYS, a negative or fractional limit, or a limit on a
//! mode that sends nothing, is refused naming the field, and nothing is done.
//!
//! # Modes (the original's)
//! - `basic`: every unique question of each date that has no keyword row and was never
//!   sent goes to the work queue; dates run in parallel (KEYWORD_DATE_CONCURRENCY).
//! - `check`: sends nothing; per date and in total: unique questions, processed, missing
//!   (and of those: queued, failed with reasons, unsent), processing rate %.
//! - `missing`: sends the missing questions that are not on the queue (never sent, or
//!   lost: queued longer ago than KEYWORD_REQUEUE_AFTER_SECS), most asked first, at most
//!   `limit` in all; with a limit the dates go in order, so the limit takes the earliest.
//! - `complete`: basic → check → missing → a final check, which verifies that nothing is
//!   missing or says what still is and why (queued: the worker has not finished; failed:
//!   with the reasons; unsent).
//!
//! Questions that failed for good (a permanent refusal, or the dead-letter queue) are
//! reported, not re-sent: the reason has to be dealt with first (docs/keywords.md).
//!
//! # Once only
//! The work ledger (`keyword_work`, see [`send`]) makes every mode idempotent: a question
//! is sent again only when its message is lost, so any mode run twice, or two runs at once,
//! sends no question twice while the first is queued or done.
//!
//! # Deadline
//! Dates are the units; a date's sending stops between flushes of
//! [`send::FLUSH_QUESTIONS`] when the invocation nears its end, and the answer names the
//! dates left. Everything sent is in the ledger, so the next run picks up where this one
//! stopped.

pub mod send;
pub mod settings;
pub mod survey;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use common::{
    error::FunctionError,
    job::{self, Day, Deadline, JobRun, Limit, Range},
    sqs::{BatchSender, Producer},
};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::MySqlPool;

pub use settings::BatchSettings;
use survey::{DayFigures, Missing};

/// The modes of the original's `run_advanced_batch.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Basic,
    Check,
    Missing,
    Complete,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    mode: Option<Mode>,
    from: Option<Day>,
    to: Option<Day>,
    limit: Option<Limit>,
}

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub mode: Mode,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `missing` and `complete`: the most missing questions to send.
    pub limit: Option<u32>,
    /// Set by the schedule (no range given).
    pub scheduled: bool,
}

/// Reads a payload; `now` and the zone give the scheduled run's yesterday.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] naming the field that is wrong.
pub fn request(
    payload: Value,
    now: DateTime<Utc>,
    settings: &BatchSettings,
) -> Result<Request, FunctionError> {
    let payload: Payload = job::parse_payload(payload)?;
    let range = Range::optional(payload.from, payload.to, settings.max_range_days)?;
    let mode = payload.mode.unwrap_or(Mode::Complete);
    if payload.limit.is_some() && matches!(mode, Mode::Basic | Mode::Check) {
        return Err(job::PayloadError::new(
            "limit",
            "applies to the modes that send missing questions (missing, complete)",
        )
        .into());
    }
    let (from, to, scheduled) = match range {
        Some(range) => (range.from.0, range.to.0, false),
        None => {
            let today = now.with_timezone(&settings.zone).date_naive();
            let yesterday = today - TimeDelta::days(1);
            (yesterday, yesterday, true)
        }
    };
    Ok(Request {
        mode,
        from,
        to,
        limit: payload.limit.map(|l| l.0),
        scheduled,
    })
}

/// The report of `check` (and of `complete`'s two checks).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CheckReport {
    /// 전체 고유 질문.
    pub total_unique: u64,
    /// 기존 처리된 질문.
    pub processed: u64,
    /// 누락된 질문, and where they stand.
    pub missing: u64,
    pub queued: u64,
    pub failed: u64,
    pub unsent: u64,
    pub failed_reasons: BTreeMap<String, u64>,
    /// 처리율.
    pub rate_percent: f64,
    pub chats: u64,
    pub blank_chats: u64,
    pub dates: Vec<DayFigures>,
}

impl CheckReport {
    fn of(mut dates: Vec<DayFigures>) -> Self {
        dates.sort_by_key(|d| d.date);
        let mut report = Self::default();
        for day in &dates {
            report.total_unique += day.unique;
            report.processed += day.processed;
            report.missing += day.missing;
            report.queued += day.queued;
            report.failed += day.failed;
            report.unsent += day.unsent;
            report.chats += day.chats;
            report.blank_chats += day.blank_chats;
            for (reason, n) in &day.failed_reasons {
                *report.failed_reasons.entry(reason.clone()).or_insert(0) += n;
            }
        }
        report.rate_percent = survey::rate(report.processed, report.total_unique);
        report.dates = dates;
        report
    }
}

/// What a sending step (basic or missing) did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SendReport {
    /// Questions chosen to send (new, or lost for `missing`), after the limit.
    pub found: u64,
    /// Put on the queue by this run.
    pub sent: u64,
    /// Chosen but claimed by another run first.
    pub claimed_elsewhere: u64,
    /// Chosen but no longer in the chats.
    pub vanished: u64,
    /// Skipped: already processed, or on the queue, or failed.
    pub skipped_processed: u64,
    pub skipped_queued: u64,
    pub skipped_failed: u64,
    /// Per date: questions sent.
    pub dates: BTreeMap<NaiveDate, u64>,
}

/// The final check of `complete`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Verification {
    /// True when no question of the range is missing.
    pub verified: bool,
    /// What still is, when not.
    pub message: String,
}

/// The function's answer (the job kit adds `complete`, `remaining`, `duration_ms`…).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Answer {
    pub mode: Option<Mode>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub normalize: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic: Option<SendReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<SendReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_check: Option<CheckReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// Handles one invocation.
///
/// # Errors
/// [`FunctionError::InvalidEvent`] for a bad payload (nothing done);
/// [`FunctionError::Retryable`] when the database or the queue fails (what was sent stays
/// in the ledger, so a retry sends only the rest).
pub async fn handle<S: BatchSender>(
    pool: &MySqlPool,
    producer: &Producer<S>,
    settings: &BatchSettings,
    payload: Value,
    now: DateTime<Utc>,
    deadline: Deadline,
) -> Result<Value, FunctionError> {
    let request = request(payload, now, settings)?;
    let mut job = JobRun::start("keyword-batch", deadline);
    let batch = Batch {
        pool,
        producer,
        settings,
        deadline,
    };
    let mut answer = Answer {
        mode: Some(request.mode),
        from: Some(request.from),
        to: Some(request.to),
        normalize: settings.normalization.to_string(),
        ..Answer::default()
    };
    let dates: Vec<NaiveDate> = request
        .from
        .iter_days()
        .take_while(|d| *d <= request.to)
        .collect();
    let mut left: Vec<NaiveDate> = Vec::new();
    match request.mode {
        Mode::Check => {
            let report = batch
                .check(&dates)
                .await
                .map_err(FunctionError::retryable)?;
            job.units_done(dates.len() as u64);
            answer.check = Some(report);
        }
        Mode::Basic | Mode::Missing => {
            let (step, limit) = if request.mode == Mode::Basic {
                (Step::Basic, None)
            } else {
                (Step::Missing, request.limit)
            };
            let (report, stopped) = batch
                .send(&dates, step, limit)
                .await
                .map_err(FunctionError::retryable)?;
            job.units_done((dates.len() - stopped.len()) as u64);
            left = stopped;
            if step == Step::Basic {
                answer.basic = Some(report);
            } else {
                answer.missing = Some(report);
            }
        }
        Mode::Complete => {
            let (basic, stopped) = batch
                .send(&dates, Step::Basic, None)
                .await
                .map_err(FunctionError::retryable)?;
            answer.basic = Some(basic);
            left = stopped;
            if left.is_empty() && !deadline.reached() {
                answer.check = Some(
                    batch
                        .check(&dates)
                        .await
                        .map_err(FunctionError::retryable)?,
                );
                let (missing, stopped) = batch
                    .send(&dates, Step::Missing, request.limit)
                    .await
                    .map_err(FunctionError::retryable)?;
                answer.missing = Some(missing);
                left = stopped;
            }
            if left.is_empty() && !deadline.reached() {
                let report = batch
                    .check(&dates)
                    .await
                    .map_err(FunctionError::retryable)?;
                answer.verification = Some(verify(&report));
                answer.final_check = Some(report);
            }
            if answer.final_check.is_none() && left.is_empty() {
                left = dates.clone();
            }
            job.units_done((dates.len() - left.len()) as u64);
        }
    }
    for report in [&answer.basic, &answer.missing].into_iter().flatten() {
        job.add("questions_sent", report.sent);
    }
    if let Some(check) = answer.final_check.as_ref().or(answer.check.as_ref()) {
        job.add("questions_unique", check.total_unique);
        job.add("questions_missing", check.missing);
    }
    if !left.is_empty() {
        job.mark_stopped_by_deadline();
    }
    let remaining = (!left.is_empty()).then(|| {
        serde_json::json!({
            "dates": left.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "note": "stopped near the invocation's deadline; run the same payload again: what was sent is in the ledger",
        })
    });
    job.finish(&answer, remaining)
}

fn verify(report: &CheckReport) -> Verification {
    if report.missing == 0 {
        return Verification {
            verified: true,
            message: format!(
                "every one of the {} unique questions has its keywords",
                report.total_unique
            ),
        };
    }
    let mut why = Vec::new();
    if report.queued > 0 {
        why.push(format!(
            "{} still queued (the worker has not finished them)",
            report.queued
        ));
    }
    if report.failed > 0 {
        let reasons: Vec<String> = report
            .failed_reasons
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        why.push(format!(
            "{} failed ({}; see the dead-letter queue and keyword_work.reason)",
            report.failed,
            reasons.join(", ")
        ));
    }
    if report.unsent > 0 {
        why.push(format!(
            "{} not sent (the run stopped, or the queue refused them)",
            report.unsent
        ));
    }
    Verification {
        verified: false,
        message: format!(
            "{} of {} unique questions missing: {}",
            report.missing,
            report.total_unique,
            why.join("; ")
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Questions never sent.
    Basic,
    /// Questions never sent or lost on the way.
    Missing,
}

struct Batch<'a, S> {
    pool: &'a MySqlPool,
    producer: &'a Producer<S>,
    settings: &'a BatchSettings,
    deadline: Deadline,
}

impl<S: BatchSender> Batch<'_, S> {
    /// Surveys every date (in parallel) into the check report.
    async fn check(&self, dates: &[NaiveDate]) -> Result<CheckReport, sqlx::Error> {
        let now = survey::ledger_now();
        let figures: Vec<DayFigures> = stream::iter(dates.iter().copied())
            .map(|date| async move {
                let questions =
                    survey::count_questions(self.pool, date, self.settings.normalization).await?;
                let state = survey::load_state(self.pool, date).await?;
                Ok::<_, sqlx::Error>(DayFigures::of(
                    date,
                    &questions,
                    &state,
                    now,
                    self.settings.requeue_after,
                ))
            })
            .buffer_unordered(self.settings.date_concurrency)
            .try_collect()
            .await?;
        Ok(CheckReport::of(figures))
    }

    /// Sends what `step` chooses of every date; answers the report and the dates the
    /// deadline left.
    async fn send(
        &self,
        dates: &[NaiveDate],
        step: Step,
        limit: Option<u32>,
    ) -> Result<(SendReport, Vec<NaiveDate>), send::SendFailure> {
        let budget = std::sync::Mutex::new(limit.map(u64::from));
        // The first date always starts, so a run that begins late still makes progress.
        let started = std::sync::atomic::AtomicUsize::new(0);
        let requeue_before = survey::ledger_now()
            - TimeDelta::from_std(self.settings.requeue_after).unwrap_or(TimeDelta::MAX);
        let outbox = send::Outbox {
            pool: self.pool,
            producer: self.producer,
            normalization: self.settings.normalization,
            questions_per_message: self.settings.questions_per_message,
            requeue_before,
            deadline: self.deadline,
        };
        // With a limit the dates go one by one in order, so which questions the limit takes
        // does not depend on timing.
        let concurrency = if limit.is_some() {
            1
        } else {
            self.settings.date_concurrency
        };
        let results: Vec<(NaiveDate, Option<(DateReport, send::Sent)>)> =
            stream::iter(dates.iter().copied())
                .map(|date| {
                    let outbox = &outbox;
                    let budget = &budget;
                    let started = &started;
                    async move {
                        if started.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0
                            && self.deadline.reached()
                        {
                            return Ok::<_, send::SendFailure>((date, None));
                        }
                        let (report, chosen) = self.choose(date, step, budget).await?;
                        let sent = outbox.send_date(date, chosen).await?;
                        Ok((date, Some((report, sent))))
                    }
                })
                .buffer_unordered(concurrency)
                .try_collect()
                .await?;
        let mut report = SendReport::default();
        let mut left = Vec::new();
        for (date, result) in results {
            let Some((chosen, sent)) = result else {
                left.push(date);
                continue;
            };
            report.found += chosen.found;
            report.skipped_processed += chosen.processed;
            report.skipped_queued += chosen.queued;
            report.skipped_failed += chosen.failed;
            report.sent += sent.sent;
            report.claimed_elsewhere += sent.claimed_elsewhere;
            report.vanished += sent.vanished;
            report.dates.insert(date, sent.sent);
            if sent.stopped {
                left.push(date);
            }
        }
        left.sort();
        Ok((report, left))
    }

    /// Surveys one date and picks what `step` sends, most asked first, within the budget.
    async fn choose(
        &self,
        date: NaiveDate,
        step: Step,
        budget: &std::sync::Mutex<Option<u64>>,
    ) -> Result<(DateReport, HashMap<common::chat::QuestionHash, u32>), sqlx::Error> {
        let questions =
            survey::count_questions(self.pool, date, self.settings.normalization).await?;
        let state = survey::load_state(self.pool, date).await?;
        let now = survey::ledger_now();
        let mut report = DateReport::default();
        let mut candidates: Vec<(u32, common::chat::QuestionHash)> = Vec::new();
        for (hash, count) in &questions.counts {
            if state.processed.contains(hash) {
                report.processed += 1;
                continue;
            }
            match (state.missing(hash, now, self.settings.requeue_after), step) {
                (Missing::New, _) | (Missing::Lost, Step::Missing) => {
                    candidates.push((*count, *hash));
                }
                (Missing::Queued | Missing::Lost, _) => report.queued += 1,
                (Missing::Failed, _) => report.failed += 1,
            }
        }
        // Most asked first; the hash breaks ties so the choice is the same every run.
        candidates.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let take = {
            let mut budget = budget
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match budget.as_mut() {
                None => candidates.len(),
                Some(left) => {
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(candidates.len());
                    *left -= take as u64;
                    take
                }
            }
        };
        candidates.truncate(take);
        report.found = candidates.len() as u64;
        Ok((
            report,
            candidates
                .into_iter()
                .map(|(count, hash)| (hash, count))
                .collect(),
        ))
    }
}

#[derive(Debug, Default)]
struct DateReport {
    found: u64,
    processed: u64,
    queued: u64,
    failed: u64,
}
