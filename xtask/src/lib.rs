//! Project tasks that are not Lambda functions: the test-data generator and benchmarks.
//!
//! # Layout
//! - [`generate`]: deterministic, realistic zips of xAPI statements (a day of CoolEnglish logs).
//! - [`bench`]: the import benchmark against MariaDB's own bulk path (`LOAD DATA`).
//! - [`bench_course_stats`]: one month of course stats next to the original SQL.
//! - [`bench_cleanup`]: the chunked cleanup next to unchunked DELETEs, with a writer alongside.
//! - [`bench_cctv`]: the CCTV ingest and rollups next to the original's trigger and events.
//! - [`bench_ads`]: the ad-counter worker next to per-event upserts and the seed's Redis INCR.
//! - [`bench_sync`]: the sync engine MySQL→MySQL / PostgreSQL next to mysqldump, LOAD DATA, \copy.
//! - [`bench_keywords`]: the keyword batch's queries next to the original's, `complete`
//!   end to end against the fake HCX at its rate limit, and sending to moto.
//! - [`chats`]: generated chat logs (Korean and English, repeats, variants) and the
//!   original keyword batch's two queries.
//! - [`bench_db`]: the server from `DATABASE_URL`, a fresh database per benchmark, and the
//!   SDK configuration of the local moto server.

pub mod bench;
pub mod bench_ads;
pub mod bench_cctv;
pub mod bench_cleanup;
pub mod bench_course_stats;
pub mod bench_db;
pub mod bench_keywords;
pub mod bench_sync;
pub mod chats;
pub mod fake_hcx;
pub mod generate;
