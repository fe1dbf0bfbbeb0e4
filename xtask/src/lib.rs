//! Project tasks that are not Lambda functions: the test-data generator and benchmarks.
//!
//! # Layout
//! - [`generate`]: deterministic, realistic zips of xAPI statements (a day of CoolEnglish logs).
//! - [`bench`]: the import benchmark against MariaDB's own bulk path (`LOAD DATA`).

pub mod bench;
pub mod generate;
