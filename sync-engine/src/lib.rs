//! The data-sync platform's engine (source system 003): what datasource-api and
//! sync-worker share to understand and run DataX job JSON natively, without a JVM.
//!
//! - [`job`]: job JSON parsed and validated with DataX's names and defaults, every problem
//!   named by its JSON path; credentials moved out to saved datasources; the builder;
//! - [`plan`]: a job's work cut into tasks (tables, `splitPk` ranges, the NULL slice,
//!   `querySql`s, stream slices);
//! - [`run`]: a job run with `channel` tasks at once, batches, write modes, limits, dirty
//!   records and the deadline;
//! - [`checkpoint`]: the checkpoint table a range keeps in its target (with consent);
//! - [`codec`]: DataX's type mapping in and out of MySQL and PostgreSQL; [`copy`]: rows in
//!   PostgreSQL's COPY text format (postgresqlwriter's insert path);
//! - [`value`]: the engine's field values; [`summary`]: DataX's summary block; [`log`]: a
//!   run's log;
//! - [`incremental`]: DataX-Web's incremental placeholders and windows;
//! - [`endpoint`]: database kinds, connection endpoints, the host allow-list, `ping`,
//!   `tables`, `columns`; [`jdbc`]: DataX's `jdbcUrl`s;
//! - [`vault`]: the datasource passwords' cipher (AES-256-GCM); [`store`]: the platform's
//!   sync tables as both functions use them.

pub mod checkpoint;
pub mod codec;
pub mod copy;
pub mod endpoint;
pub mod incremental;
pub mod jdbc;
pub mod job;
pub mod log;
pub mod plan;
pub mod run;
pub mod store;
pub mod summary;
pub mod value;
pub mod vault;
