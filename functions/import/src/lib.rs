//! The `import` function: zip uploads of xAPI learning logs into the nine learning tables.
//!
//! # Layout
//! - [`handler`]: the Lambda entry point (S3 events, directly or through SQS), object moves.
//! - [`pipeline`]: one import of a spooled zip, in one transaction with its ledger row.
//! - [`archive`]: streaming entries and statements out of the zip, within limits.
//! - [`statement`]: validation and mapping of one xAPI statement to rows.
//! - [`batch`] and [`store`]: bounded multi-row inserts.
//! - [`ledger`]: the `import_file` table, the idempotency key of every upload.
//! - [`objects`]: S3 download, move and report upload.
//! - [`report`], [`settings`].
//!
//! Run it locally with `cargo lambda watch`, then
//! `cargo lambda invoke import --data-file events/import/s3-put.json`; or import a local
//! file without S3 or Lambda: `cargo run -p import --bin import-local -- <file.zip>`.
//! The mapping is documented in `docs/import-format.md`.

pub mod archive;
pub mod batch;
pub mod handler;
pub mod ledger;
pub mod objects;
pub mod pipeline;
pub mod report;
pub mod settings;
pub mod statement;
pub mod store;
