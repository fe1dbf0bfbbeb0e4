//! Operator tools of the data platform: command-line programs an operator runs from a host
//! that reaches the database, never deployed as functions. Each binary is a thin `main`
//! over a module here, so the integration tests drive the same code.
//!
//! - [`api_token`]: `api-token mint | list | revoke`, the bearer tokens of every HTTP API.

pub mod api_token;
