//! The SQS kit every queue consumer and producer of the platform uses.
//!
//! # Consuming: [`handle_batch`]
//! Lambda hands an SQS consumer a batch; with `ReportBatchItemFailures` the function answers
//! the ids of the messages to redeliver, so one bad message does not redeliver its
//! neighbours. The kit runs a per-message handler over the batch with bounded concurrency
//! (a function's database pool is small), gives each message its own tracing span attached
//! with [`Instrument`] (a span *entered* across an `.await` attributes other tasks' events to
//! it, which tracing documents as producing wrong traces), logs each failure once with its
//! kind and writes one summary line per batch.
//!
//! A handler answers [`MessageError::Permanent`] when redelivery cannot help (a body that
//! is not the expected JSON) and [`MessageError::Retryable`] when it may (the database is
//! down). Both are reported in `batchItemFailures`: a permanent failure still goes back to
//! the queue, so that after `maxReceiveCount` receives it lands in the dead-letter queue
//! instead of vanishing; the kind is in the log line and the metrics, so an operator knows
//! whether a redrive can succeed.
//!
//! FIFO queues (messages carrying `MessageGroupId`) are processed one at a time in order;
//! after the first failure the rest of the batch is reported failed unprocessed, which is
//! what keeps a group's order.
//!
//! [`handle_whole_batch`] is the variant for consumers that fold a whole batch in one
//! transaction: messages are parsed one by one (a bad one fails alone), then folded together.
//!
//! # Producing: [`Producer`]
//! `SendMessageBatch` in groups of at most ten entries and at most [`MAX_MESSAGE_BYTES`] per
//! request, every message checked against the size limit before anything is sent, and the
//! entries a partial failure names retried (with backoff) unless SQS blames the sender.

use std::{
    collections::HashMap,
    future::Future,
    time::{Duration, Instant},
};

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::{StreamExt, stream};
use tracing::Instrument;

use crate::error::{BoxError, error_chain};

/// The largest message body (with its attributes) the producer sends. SQS has accepted up
/// to 1 MiB since 2025, but older tooling and local emulators stop at 256 KiB; staying at
/// the old limit keeps every hop (and the dead-letter queue's redrive) working.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Entries in one `SendMessageBatch` request (the API's limit).
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Why one message failed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Redelivery cannot help (malformed body, a message for something that cannot exist).
    /// Reported failed so that the queue's redrive policy parks it in the dead-letter queue.
    #[error("permanent: {0}")]
    Permanent(String),
    /// A dependency failed; a redelivery may succeed.
    #[error("retryable: {}", error_chain(.0.as_ref()))]
    Retryable(#[source] BoxError),
}

impl MessageError {
    /// A permanent failure with its reason.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent(reason.into())
    }

    /// Wraps any error as retryable.
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::Retryable(error.into())
    }

    /// `permanent` or `retryable`, as logged.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Permanent(_) => "permanent",
            Self::Retryable(_) => "retryable",
        }
    }
}

/// What a batch came to, also logged as its summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub received: usize,
    pub succeeded: usize,
    pub failed_permanent: usize,
    pub failed_retryable: usize,
    /// FIFO only: messages not attempted because an earlier one of the batch failed.
    pub skipped: usize,
}

/// Runs `handler` over every message of `event`, at most `concurrency` at once, and answers
/// the failed ones for redelivery. Each message runs inside a `sqs_message` span carrying
/// its id and receive count; each failure is logged once; one summary line ends the batch.
pub async fn handle_batch<F, Fut>(
    event: SqsEvent,
    concurrency: usize,
    handler: F,
) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), MessageError>>,
{
    let started = Instant::now();
    let fifo = event
        .records
        .iter()
        .any(|m| m.attributes.contains_key("MessageGroupId"));
    let concurrency = if fifo { 1 } else { concurrency.max(1) };
    let mut summary = BatchSummary {
        received: event.records.len(),
        ..BatchSummary::default()
    };
    let ids: Vec<String> = event
        .records
        .iter()
        .map(|m| m.message_id.clone().unwrap_or_default())
        .collect();
    let mut failed: Vec<String> = Vec::new();
    let mut finished = 0;
    let handler = &handler;
    let mut results = stream::iter(event.records.into_iter().map(|message| {
        let id = message.message_id.clone().unwrap_or_default();
        let receives = message
            .attributes
            .get("ApproximateReceiveCount")
            .cloned()
            .unwrap_or_default();
        let span = tracing::info_span!("sqs_message", message_id = %id, receive_count = %receives);
        async move { (id, handler(message).await) }.instrument(span)
    }))
    .buffered(concurrency);
    // `buffered` keeps the batch's order, which the FIFO rule below relies on.
    while let Some((id, result)) = results.next().await {
        finished += 1;
        match result {
            Ok(()) => summary.succeeded += 1,
            Err(error) => {
                match &error {
                    MessageError::Permanent(_) => summary.failed_permanent += 1,
                    MessageError::Retryable(_) => summary.failed_retryable += 1,
                }
                tracing::error!(message_id = %id, kind = error.kind(), error = %error, "message failed");
                failed.push(id);
                if fifo {
                    // Later messages of the group must not overtake this one: they go
                    // back unprocessed (the stream is lazy, so they were never started).
                    let rest = ids.get(finished..).unwrap_or_default();
                    summary.skipped = rest.len();
                    failed.extend_from_slice(rest);
                    break;
                }
            }
        }
    }
    drop(results);
    finish_batch(&summary, fifo, started, failed)
}

/// Runs a consumer that folds a whole batch in one unit of work (one transaction), as the ad
/// counters do: `parse` reads each message on its own, so a malformed one is reported failed
/// alone (it reaches the dead-letter queue after `maxReceiveCount` receives) while the rest
/// is folded; `fold` then gets every parsed message with its id, and when it fails every one
/// of them is reported for redelivery. The same summary line as [`handle_batch`] ends it.
/// Standard queues only: a FIFO batch would need the per-message order [`handle_batch`]
/// keeps.
pub async fn handle_whole_batch<T, P, F, Fut>(
    event: SqsEvent,
    parse: P,
    fold: F,
) -> SqsBatchResponse
where
    P: Fn(&SqsMessage) -> Result<T, MessageError>,
    F: FnOnce(Vec<T>) -> Fut,
    Fut: Future<Output = Result<(), MessageError>>,
{
    let started = Instant::now();
    let mut summary = BatchSummary {
        received: event.records.len(),
        ..BatchSummary::default()
    };
    let mut failed = Vec::new();
    let mut parsed = Vec::with_capacity(event.records.len());
    let mut parsed_ids = Vec::with_capacity(event.records.len());
    for message in &event.records {
        let id = message.message_id.clone().unwrap_or_default();
        match parse(message) {
            Ok(item) => {
                parsed.push(item);
                parsed_ids.push(id);
            }
            Err(error) => {
                match &error {
                    MessageError::Permanent(_) => summary.failed_permanent += 1,
                    MessageError::Retryable(_) => summary.failed_retryable += 1,
                }
                tracing::error!(message_id = %id, kind = error.kind(), error = %error, "message failed");
                failed.push(id);
            }
        }
    }
    if !parsed.is_empty() {
        match fold(parsed).await {
            Ok(()) => summary.succeeded = parsed_ids.len(),
            Err(error) => {
                match &error {
                    MessageError::Permanent(_) => summary.failed_permanent += parsed_ids.len(),
                    MessageError::Retryable(_) => summary.failed_retryable += parsed_ids.len(),
                }
                tracing::error!(messages = parsed_ids.len(), kind = error.kind(), error = %error, "batch failed");
                failed.extend(parsed_ids);
            }
        }
    }
    finish_batch(&summary, false, started, failed)
}

/// The batch's metric and summary line, and its answer naming the failed messages.
fn finish_batch(
    summary: &BatchSummary,
    fifo: bool,
    started: Instant,
    ids: Vec<String>,
) -> SqsBatchResponse {
    crate::metrics::count(
        "messages_failed",
        u64::try_from(ids.len()).unwrap_or(u64::MAX),
    );
    tracing::info!(
        received = summary.received,
        succeeded = summary.succeeded,
        failed_permanent = summary.failed_permanent,
        failed_retryable = summary.failed_retryable,
        skipped = summary.skipped,
        fifo,
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "sqs batch done"
    );
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = ids
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// FIFO queues: the ordering group.
    pub group_id: Option<String>,
    /// FIFO queues without content-based deduplication.
    pub deduplication_id: Option<String>,
}

impl OutgoingMessage {
    /// A message for a standard queue.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            group_id: None,
            deduplication_id: None,
        }
    }

    fn size(&self) -> usize {
        self.body.len()
    }
}

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A message is larger than the limit: nothing was sent.
    #[error("message {index} is {bytes} bytes; the limit is {limit}: nothing was sent")]
    TooLarge {
        index: usize,
        bytes: usize,
        limit: usize,
    },
    /// A message body SQS cannot carry (empty): nothing was sent.
    #[error("message {index} is empty: nothing was sent")]
    Empty { index: usize },
    /// Some entries were still refused after the retries; the others were sent.
    #[error("{} of {total} messages were not sent: {}", failed.len(), summary(failed))]
    Partial {
        total: usize,
        /// (index of the message, SQS error code, sender's fault).
        failed: Vec<(usize, String, bool)>,
    },
    /// The request itself failed (after the SDK's own retries).
    #[error("SendMessageBatch failed: {}", error_chain(.0.as_ref()))]
    Request(#[source] BoxError),
}

fn summary(failed: &[(usize, String, bool)]) -> String {
    failed
        .iter()
        .take(5)
        .map(|(index, code, _)| format!("#{index} {code}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answer of one `SendMessageBatch` call: entry ids (as given) that failed, with the
/// error code and whether SQS blames the sender.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    pub failed: Vec<(String, String, bool)>,
}

/// What sends one batch; the SDK client in production, a scripted fake in unit tests of the
/// retry rule.
pub trait BatchSender: Send + Sync {
    fn send_batch(
        &self,
        queue_url: &str,
        entries: Vec<(String, OutgoingMessage)>,
    ) -> impl Future<Output = Result<BatchOutcome, BoxError>> + Send;
}

impl BatchSender for aws_sdk_sqs::Client {
    async fn send_batch(
        &self,
        queue_url: &str,
        entries: Vec<(String, OutgoingMessage)>,
    ) -> Result<BatchOutcome, BoxError> {
        let entries = entries
            .into_iter()
            .map(|(id, message)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_body(message.body)
                    .set_message_group_id(message.group_id)
                    .set_message_deduplication_id(message.deduplication_id)
                    .build()
                    .map_err(BoxError::from)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| BoxError::from(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(BatchOutcome {
            failed: output
                .failed
                .into_iter()
                .map(|f| (f.id, f.code, f.sender_fault))
                .collect(),
        })
    }
}

/// Sends messages to one queue in batches.
#[derive(Debug, Clone)]
pub struct Producer<S = aws_sdk_sqs::Client> {
    sender: S,
    queue_url: String,
    /// Attempts per entry (the first included) when SQS fails it without blaming us.
    pub attempts: u32,
    /// The size limit checked before sending.
    pub max_message_bytes: usize,
    /// `SendMessageBatch` requests in flight at once (1: one after the other). Each request
    /// is a round trip of tens of milliseconds, so a producer of many messages (the keyword
    /// batch's questions) keeps several going.
    pub in_flight: usize,
}

impl<S: BatchSender> Producer<S> {
    /// A producer for `queue_url`: three attempts per entry, [`MAX_MESSAGE_BYTES`].
    pub fn new(sender: S, queue_url: impl Into<String>) -> Self {
        Self {
            sender,
            queue_url: queue_url.into(),
            attempts: 3,
            max_message_bytes: MAX_MESSAGE_BYTES,
            in_flight: 1,
        }
    }

    /// Sends every message; answers how many were sent.
    ///
    /// # Errors
    /// [`SendError::TooLarge`] / [`SendError::Empty`] before anything is sent;
    /// [`SendError::Partial`] naming the messages still refused after the retries (the rest
    /// were sent); [`SendError::Request`] when a request failed outright (other requests may
    /// have been sent, and with `in_flight` > 1 the ones in flight may or may not have been:
    /// SQS consumers must be idempotent anyway, and a producer that must know keeps its own
    /// ledger, as the keyword batch does).
    pub async fn send_all(&self, messages: Vec<OutgoingMessage>) -> Result<usize, SendError> {
        for (index, message) in messages.iter().enumerate() {
            if message.body.is_empty() {
                return Err(SendError::Empty { index });
            }
            if message.size() > self.max_message_bytes {
                return Err(SendError::TooLarge {
                    index,
                    bytes: message.size(),
                    limit: self.max_message_bytes,
                });
            }
        }
        let total = messages.len();
        let mut failed_for_good = Vec::new();
        let mut pending: Vec<(usize, OutgoingMessage)> = messages.into_iter().enumerate().collect();
        for attempt in 1..=self.attempts.max(1) {
            if pending.is_empty() {
                break;
            }
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt - 2))).await;
            }
            let mut retry = Vec::new();
            let last_attempt = attempt == self.attempts.max(1);
            let mut outcomes = stream::iter(self.batches(std::mem::take(&mut pending)))
                .map(|batch| self.send_one_batch(batch))
                .buffer_unordered(self.in_flight.max(1));
            while let Some(outcome) = outcomes.next().await {
                for (index, message, code, sender_fault) in outcome? {
                    if sender_fault || last_attempt {
                        failed_for_good.push((index, code, sender_fault));
                    } else {
                        tracing::warn!(index, code = %code, attempt, "SQS refused an entry; retrying it");
                        retry.push((index, message));
                    }
                }
            }
            pending = retry;
        }
        if failed_for_good.is_empty() {
            Ok(total)
        } else {
            failed_for_good.sort_by_key(|(index, _, _)| *index);
            Err(SendError::Partial {
                total,
                failed: failed_for_good,
            })
        }
    }

    /// Sends one request; answers the entries SQS refused (index, message, code, sender's
    /// fault).
    async fn send_one_batch(
        &self,
        batch: Vec<(usize, OutgoingMessage)>,
    ) -> Result<Vec<(usize, OutgoingMessage, String, bool)>, SendError> {
        let mut by_id: HashMap<String, (usize, OutgoingMessage)> = batch
            .iter()
            .map(|(index, message)| (index.to_string(), (*index, message.clone())))
            .collect();
        let entries = batch
            .into_iter()
            .map(|(index, message)| (index.to_string(), message))
            .collect();
        let outcome = self
            .sender
            .send_batch(&self.queue_url, entries)
            .await
            .map_err(SendError::Request)?;
        Ok(outcome
            .failed
            .into_iter()
            .filter_map(|(id, code, sender_fault)| {
                by_id
                    .remove(&id)
                    .map(|(index, message)| (index, message, code, sender_fault))
            })
            .collect())
    }

    /// Groups messages into requests of at most ten entries and at most the size limit.
    fn batches(
        &self,
        messages: Vec<(usize, OutgoingMessage)>,
    ) -> Vec<Vec<(usize, OutgoingMessage)>> {
        let mut batches: Vec<Vec<(usize, OutgoingMessage)>> = Vec::new();
        let mut bytes = 0;
        for (index, message) in messages {
            let size = message.size();
            let full = batches.last().is_none_or(|b| {
                b.len() >= MAX_BATCH_ENTRIES || bytes + size > self.max_message_bytes
            });
            if full {
                batches.push(Vec::new());
                bytes = 0;
            }
            bytes += size;
            if let Some(batch) = batches.last_mut() {
                batch.push((index, message));
            }
        }
        batches
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.into());
        message.body = Some(body.into());
        message
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn permanent_and_retryable_failures_are_both_reported() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("ok-1", "fine"),
            message("bad", "not json"),
            message("down", "database"),
            message("ok-2", "fine"),
        ];
        let response = handle_batch(event, 4, |m| async move {
            match m.body.as_deref() {
                Some("fine") => Ok(()),
                Some("not json") => Err(MessageError::permanent("body is not JSON")),
                _ => Err(MessageError::retryable(std::io::Error::other(
                    "connection refused",
                ))),
            }
        })
        .await;
        assert_eq!(failed_ids(&response), ["bad", "down"]);
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        let mut event = SqsEvent::default();
        event.records = (0..12).map(|i| message(&i.to_string(), "x")).collect();
        let running = std::sync::atomic::AtomicUsize::new(0);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        let response = handle_batch(event, 3, |_| async {
            let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_fifo_batch_stops_at_its_first_failure() {
        let mut event = SqsEvent::default();
        event.records = ["a", "b", "c"]
            .iter()
            .map(|id| {
                let mut m = message(id, id);
                m.attributes.insert("MessageGroupId".into(), "g".into());
                m
            })
            .collect();
        let seen = Mutex::new(Vec::new());
        let response = handle_batch(event, 10, |m| {
            let body = m.body.unwrap_or_default();
            seen.lock().expect("lock").push(body.clone());
            async move {
                if body == "b" {
                    Err(MessageError::permanent("no"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(failed_ids(&response), ["b", "c"]);
        assert_eq!(
            *seen.lock().expect("lock"),
            ["a", "b"],
            "c is never attempted"
        );
    }

    /// Fails the entries named in `refuse` the first `times` times they are sent.
    struct Scripted {
        calls: Mutex<Vec<Vec<String>>>,
        refuse: Vec<(String, bool)>,
        times: usize,
    }

    impl BatchSender for Scripted {
        async fn send_batch(
            &self,
            _queue_url: &str,
            entries: Vec<(String, OutgoingMessage)>,
        ) -> Result<BatchOutcome, BoxError> {
            let ids: Vec<String> = entries.iter().map(|(id, _)| id.clone()).collect();
            let mut calls = self.calls.lock().expect("lock");
            let seen_before = |id: &String| calls.iter().flatten().filter(|s| *s == id).count();
            let failed = self
                .refuse
                .iter()
                .filter(|(id, _)| ids.contains(id) && seen_before(id) < self.times)
                .map(|(id, fault)| (id.clone(), "InternalError".to_owned(), *fault))
                .collect();
            calls.push(ids);
            Ok(BatchOutcome { failed })
        }
    }

    fn scripted(refuse: &[(&str, bool)], times: usize) -> Scripted {
        Scripted {
            calls: Mutex::new(Vec::new()),
            refuse: refuse
                .iter()
                .map(|(id, f)| ((*id).to_owned(), *f))
                .collect(),
            times,
        }
    }

    fn bodies(n: usize) -> Vec<OutgoingMessage> {
        (0..n)
            .map(|i| OutgoingMessage::new(format!("m{i}")))
            .collect()
    }

    #[tokio::test]
    async fn sends_in_tens_and_retries_only_the_refused_entries() {
        let producer = Producer::new(scripted(&[("3", false), ("17", false)], 1), "q");
        assert_eq!(producer.send_all(bodies(23)).await.expect("sent"), 23);
        let calls = producer.sender.calls.lock().expect("lock").clone();
        let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
        assert_eq!(
            sizes,
            [10, 10, 3, 2],
            "three batches, then the two refused entries"
        );
        assert_eq!(calls[3], ["3", "17"]);
    }

    #[tokio::test]
    async fn sender_faults_are_not_retried_and_are_named() {
        let producer = Producer::new(scripted(&[("4", true), ("5", false)], 10), "q");
        let error = producer.send_all(bodies(8)).await.expect_err("partial");
        match error {
            SendError::Partial { total, failed } => {
                assert_eq!(total, 8);
                assert_eq!(
                    failed.iter().map(|(i, _, f)| (*i, *f)).collect::<Vec<_>>(),
                    [(4, true), (5, false)]
                );
            }
            other => panic!("expected a partial failure, got {other}"),
        }
        let calls = producer.sender.calls.lock().expect("lock").clone();
        assert_eq!(calls.len(), 3, "one batch and two retries of entry 5 only");
        assert!(calls[1..].iter().all(|c| c == &["5"]));
    }

    #[tokio::test]
    async fn size_limits_are_checked_before_sending() {
        let producer = Producer::new(scripted(&[], 0), "q");
        let mut messages = bodies(3);
        messages[2] = OutgoingMessage::new("x".repeat(MAX_MESSAGE_BYTES + 1));
        let error = producer.send_all(messages).await.expect_err("too large");
        assert!(
            matches!(error, SendError::TooLarge { index: 2, .. }),
            "{error}"
        );
        assert!(producer.sender.calls.lock().expect("lock").is_empty());
        let empty = producer
            .send_all(vec![OutgoingMessage::new("")])
            .await
            .expect_err("empty");
        assert!(matches!(empty, SendError::Empty { index: 0 }));
    }

    #[tokio::test]
    async fn a_batch_never_exceeds_the_size_limit() {
        let producer = Producer::new(scripted(&[], 0), "q");
        let big = || OutgoingMessage::new("y".repeat(100 * 1024));
        assert_eq!(
            producer
                .send_all(vec![big(), big(), big(), big()])
                .await
                .expect("sent"),
            4
        );
        let sizes: Vec<usize> = producer
            .sender
            .calls
            .lock()
            .expect("lock")
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [2, 2], "two 100 KiB bodies per 256 KiB request");
    }
}
