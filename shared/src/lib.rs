//! The common crate of the data platform: everything two or more Lambda functions use.
//!
//! # Layout
//! - [`config`]: settings read once from the environment at start-up ([`config::Settings`]),
//!   with secrets redacted in `Debug`.
//! - [`db`]: the MySQL pool sized for Lambda (small, lazily connected) and the embedded
//!   migrations ([`db::MIGRATOR`]) that run on MySQL 8.0 and MariaDB 10.11.
//! - [`aws`]: S3 and SQS clients built once per execution environment, honouring
//!   `AWS_ENDPOINT_URL` (with path-style S3) for the local moto server.
//! - [`telemetry`]: tracing set-up: JSON in Lambda, compact text locally.
//! - [`secrets`]: secrets read at run time (Secrets Manager by ARN, the environment locally),
//!   cached for the execution environment and re-read once when they stop working.
//! - [`metrics`]: CloudWatch embedded-metric-format lines on stdout: cold start, duration and
//!   the functions' counts, flushed once per invocation.
//! - [`error`]: errors every function maps to a Lambda outcome (retry or not).
//! - [`business_time`]: log dates and months in the business time zone.
//! - [`instant`]: the one rule for stored instants and dates (no leap second, inside
//!   `DATETIME`'s range and the plausible window `DATE_WINDOW_FROM`..`DATE_WINDOW_TO`, no
//!   finer fraction than the column keeps).
//! - [`period`]: period kinds (day … weekday-of-year) and the "period done" ledger
//!   (`rollup_done`) of the rollups; the one reader of `CCTV_TIME_ZONE`.
//! - [`sqs`]: the SQS kit: a batch handler (span per message, permanent vs retryable
//!   failures, bounded concurrency, one summary line) and a batching producer.
//! - [`job`]: the scheduled-job kit: typed payloads, the invocation's [`job::Deadline`],
//!   one summary line per run.
//! - `ads` (feature `ads`): the ad counters' hit event, visitor sketches, hours and figures.
//! - `chat` (feature `chat`): the keyword batches' question normalisation, question hash
//!   and work message.
//! - `http` (feature `http`): the JSON envelope, API errors, bearer-token authentication and
//!   the Lambda adapter shared by the HTTP API functions.

#[cfg(feature = "ads")]
pub mod ads;
pub mod aws;
pub mod business_time;
#[cfg(feature = "chat")]
pub mod chat;
pub mod config;
pub mod db;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod instant;
pub mod job;
pub mod metrics;
pub mod period;
pub mod secrets;
pub mod sqs;
pub mod telemetry;
