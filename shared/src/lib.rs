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
//! - [`error`]: errors every function maps to a Lambda outcome (retry or not).
//! - [`business_time`]: log dates and months in the business time zone.
//! - `http` (feature `http`): the JSON envelope, API errors, bearer-token authentication and
//!   the Lambda adapter shared by the HTTP API functions.

pub mod aws;
pub mod business_time;
pub mod config;
pub mod db;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod telemetry;
