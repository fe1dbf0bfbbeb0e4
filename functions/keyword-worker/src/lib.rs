//! The `keyword-worker` function (source system 002): classifies the questions that
//! `keyword-batch` put on the work queue and stores one `admin_chat_keywords` row per
//! (chat date, question).
//!
//! # Per question
//! 1. A question whose row exists (a redelivery, a second send) is marked done and
//!    skipped: no second API call, no second row. One the classifier refused for good is
//!    skipped too (a redrive from the dead-letter queue is still tried).
//! 2. The same question classified on another day by the same classifier version is
//!    answered from that row (`cached_from` says which day): the original called HCX again.
//! 3. Otherwise the classifier answers: HCX chat completions ([`hcx`]) when an API key is
//!    configured, the built-in classifier ([`builtin`]) when not.
//! 4. The row and the ledger's `done` are written in one transaction; the unique key on
//!    (date, hash) keeps a race between two workers to one row.
//!
//! # Failures
//! | what | the question | the message |
//! | --- | --- | --- |
//! | a body that is not a work message, a hash that does not match its text | — | permanent: to the dead-letter queue |
//! | HCX refuses this question (4xx such as 40003 context too long) | `failed` with the reason | done (not retried) |
//! | the model's answer is not the JSON asked for, even after one repair | row with `status = invalid` and the answer | done |
//! | 429 / 5xx / time-outs after the client's retries, or the database | stays `queued`, attempt and reason recorded | retried by SQS; at the last receive (KEYWORD_MAX_RECEIVES) the ledger says `failed: dead_letter` |
//! | account-wide: 401 / 403, quota exhausted | untouched (`queued`) | this and every later message of the batch fail without another API call: the run stops instead of marking every question failed |

pub mod builtin;
pub mod classification;
pub mod hcx;
pub mod settings;
pub mod store;

use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use common::{
    chat::{QuestionHash, WorkItem, WorkMessage},
    job::Deadline,
    sqs::{MessageError, handle_batch},
};
use sqlx::MySqlPool;

use builtin::BuiltinClassifier;
use classification::Classification;
pub use settings::WorkerSettings;
use store::{Provenance, Stored};

/// The classifier of this execution environment.
pub enum Classifier {
    /// HCX chat completions (an API key is configured).
    Hcx(hcx::HcxClient),
    /// The built-in classifier; its rules are read from the database for every batch, so
    /// an operator's edit applies at once.
    Builtin,
}

/// One classifier's answer for one question.
enum Answer {
    Classified(Classification),
    Invalid { answer: String },
    Refused { reason: String },
    AccountWide { reason: String },
    Transient { reason: String },
}

/// What happened to one question, for the batch's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Classified,
    Cached,
    AlreadyPresent,
    Invalid,
    Refused,
}

/// The worker: built once per execution environment.
pub struct Worker {
    pub pool: MySqlPool,
    pub classifier: Classifier,
    pub settings: WorkerSettings,
}

impl Worker {
    /// Handles one SQS batch; answers the messages to redeliver. Near `deadline` the
    /// questions not yet started are handed back (their messages fail unrecorded; the
    /// questions already stored are skipped when they come back).
    pub async fn handle(&self, event: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
        let builtin = match &self.classifier {
            Classifier::Builtin => match BuiltinClassifier::load(&self.pool).await {
                Ok(builtin) => Some(builtin),
                Err(error) => {
                    tracing::error!(error = %error, "could not read the classifier's rules; the batch is retried");
                    return fail_all(&event);
                }
            },
            Classifier::Hcx(_) => None,
        };
        let stopped = AtomicBool::new(false);
        let (builtin, stopped) = (&builtin, &stopped);
        handle_batch(event, self.settings.concurrency, |message| async move {
            self.message(message, builtin.as_ref(), stopped, deadline)
                .await
        })
        .await
    }

    async fn message(
        &self,
        message: SqsMessage,
        builtin: Option<&BuiltinClassifier>,
        stopped: &AtomicBool,
        deadline: Deadline,
    ) -> Result<(), MessageError> {
        let work = parse(&message)?;
        let last_receive = receive_count(&message) >= self.settings.max_receives;
        for item in &work.questions {
            if stopped.load(Ordering::SeqCst) {
                return Err(MessageError::retryable(std::io::Error::other(
                    "not attempted: the classifier stopped the batch (account-wide failure)",
                )));
            }
            if deadline.reached() {
                return Err(MessageError::retryable(std::io::Error::other(
                    "not finished: the invocation nears its deadline",
                )));
            }
            match self.question(item, builtin).await {
                Ok(outcome) => {
                    common::metrics::count(outcome.metric(), 1);
                    tracing::debug!(date = %item.date, hash = %item.hash.to_hex(), ?outcome, "question done");
                }
                Err(QuestionError::AccountWide(reason)) => {
                    stopped.store(true, Ordering::SeqCst);
                    tracing::error!(reason = %reason, "the classifier refuses the account; the batch stops and its questions stay queued");
                    return Err(MessageError::retryable(std::io::Error::other(reason)));
                }
                Err(QuestionError::Retry(reason)) => {
                    let for_good = last_receive;
                    let recorded = if for_good {
                        format!("dead_letter: {reason}")
                    } else {
                        format!("retrying: {reason}")
                    };
                    if let Err(error) =
                        store::record_failure(&self.pool, item, &recorded, for_good).await
                    {
                        tracing::warn!(error = %error, "could not record the failed attempt");
                    }
                    return Err(MessageError::retryable(std::io::Error::other(reason)));
                }
            }
        }
        Ok(())
    }

    async fn question(
        &self,
        item: &WorkItem,
        builtin: Option<&BuiltinClassifier>,
    ) -> Result<Outcome, QuestionError> {
        let db = |e: sqlx::Error| QuestionError::Retry(format!("database: {e}"));
        if store::exists(&self.pool, item).await.map_err(db)? {
            store::mark_done(&self.pool, item).await.map_err(db)?;
            return Ok(Outcome::AlreadyPresent);
        }
        if store::refused(&self.pool, item).await.map_err(db)? {
            return Ok(Outcome::Refused);
        }
        let by = self.provenance();
        // The built-in classifier's rules change under an operator's hand and it costs
        // nothing to run: only API answers are reused.
        if matches!(self.classifier, Classifier::Hcx(_))
            && let Some((classification, day)) = store::cached(&self.pool, &item.hash, &by)
                .await
                .map_err(db)?
        {
            let stored = Stored::Classified {
                classification,
                cached_from: Some(day),
            };
            store::store(&self.pool, item, &stored, &by)
                .await
                .map_err(db)?;
            return Ok(Outcome::Cached);
        }
        let (stored, outcome) = match self.classify(&item.text, builtin).await {
            Answer::Classified(classification) => (
                Stored::Classified {
                    classification,
                    cached_from: None,
                },
                Outcome::Classified,
            ),
            Answer::Invalid { answer } => (Stored::Invalid { answer }, Outcome::Invalid),
            Answer::Refused { reason } => {
                store::record_failure(&self.pool, item, &reason, true)
                    .await
                    .map_err(db)?;
                return Ok(Outcome::Refused);
            }
            Answer::AccountWide { reason } => return Err(QuestionError::AccountWide(reason)),
            Answer::Transient { reason } => return Err(QuestionError::Retry(reason)),
        };
        store::store(&self.pool, item, &stored, &by)
            .await
            .map_err(db)?;
        Ok(outcome)
    }

    fn provenance(&self) -> Provenance {
        match &self.classifier {
            Classifier::Hcx(client) => Provenance {
                provider: hcx::PROVIDER.into(),
                model: client.model().into(),
                prompt_version: hcx::PROMPT_VERSION.into(),
            },
            Classifier::Builtin => Provenance {
                provider: BuiltinClassifier::PROVIDER.into(),
                model: BuiltinClassifier::MODEL.into(),
                prompt_version: "rules".into(),
            },
        }
    }

    async fn classify(&self, text: &str, builtin: Option<&BuiltinClassifier>) -> Answer {
        match (&self.classifier, builtin) {
            (Classifier::Hcx(client), _) => match client.classify(text).await {
                Ok(classified) => Answer::Classified(classified.classification),
                Err(hcx::ClassifyError::InvalidAnswer { answer, reason }) => {
                    tracing::warn!(reason = %reason, "the model's answer is not the JSON asked for; kept for review");
                    Answer::Invalid { answer }
                }
                Err(hcx::ClassifyError::Permanent {
                    status,
                    code,
                    message,
                }) => Answer::Refused {
                    reason: format!("{}: HTTP {status} {code} {message}", refusal_kind(&code)),
                },
                Err(hcx::ClassifyError::AccountWide {
                    status,
                    code,
                    message,
                }) => Answer::AccountWide {
                    reason: format!("HTTP {status} {code} {message}"),
                },
                Err(hcx::ClassifyError::Transient { reason }) => Answer::Transient { reason },
            },
            (Classifier::Builtin, Some(builtin)) => Answer::Classified(builtin.classify(text)),
            (Classifier::Builtin, None) => Answer::Transient {
                reason: "the built-in classifier's rules are not loaded".into(),
            },
        }
    }
}

/// The kind of an HCX refusal, as the batch's report groups failures.
fn refusal_kind(code: &str) -> &'static str {
    match code {
        "40003" => "context_too_long",
        "40001" => "invalid_parameter",
        _ => "refused",
    }
}

enum QuestionError {
    /// The run must stop: every further call would fail the same way.
    AccountWide(String),
    /// This attempt failed; a redelivery may succeed.
    Retry(String),
}

impl Outcome {
    fn metric(self) -> &'static str {
        match self {
            Self::Classified => "questions_classified",
            Self::Cached => "questions_cached",
            Self::AlreadyPresent => "questions_already_present",
            Self::Invalid => "questions_invalid",
            Self::Refused => "questions_refused",
        }
    }
}

/// Reads and checks a work message.
///
/// # Errors
/// [`MessageError::Permanent`] for a body that is not a work message, an empty one, or a
/// question whose hash is not its text's.
pub fn parse(message: &SqsMessage) -> Result<WorkMessage, MessageError> {
    let body = message.body.as_deref().unwrap_or_default();
    let work: WorkMessage = serde_json::from_str(body)
        .map_err(|e| MessageError::permanent(format!("not a work message: {e}")))?;
    if work.questions.is_empty() {
        return Err(MessageError::permanent("a work message without questions"));
    }
    for (index, item) in work.questions.iter().enumerate() {
        if item.text.trim().is_empty() {
            return Err(MessageError::permanent(format!(
                "questions[{index}]: blank text"
            )));
        }
        if QuestionHash::of(&item.text) != item.hash {
            return Err(MessageError::permanent(format!(
                "questions[{index}]: hash is not the SHA-256 of its text"
            )));
        }
    }
    Ok(work)
}

fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Every message of a batch reported failed (the batch could not start).
fn fail_all(event: &SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = event
        .records
        .iter()
        .map(|m| {
            let mut failure = aws_lambda_events::sqs::BatchItemFailure::default();
            failure.item_identifier = m.message_id.clone().unwrap_or_default();
            failure
        })
        .collect();
    response
}
