//! Integration tests: the functions against a real MariaDB/MySQL (`DATABASE_URL`) and the
//! S3 and SQS protocols of a local moto server (`AWS_ENDPOINT_URL`).
//!
//! Run them with `make test`, which starts the stack. Every test gets its own database
//! (dropped afterwards) and its own bucket, so tests run in parallel.

mod ads;
mod api_tokens;
mod cctv_api;
mod cctv_rollups;
mod cctv_support;
mod cleanup;
mod course_stats;
mod datasource_api;
mod import_bad_input;
mod import_integrity;
mod import_mapping;
mod import_s3;
mod keywords;
mod migrate;
mod migrate_on_deploy;
mod secrets;
mod sqs_kit;
mod support;
mod sync_engine;
mod sync_ranges;
