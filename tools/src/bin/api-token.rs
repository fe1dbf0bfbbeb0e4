//! `api-token`: mint, list and revoke the bearer tokens of the HTTP APIs.
//!
//! ```text
//! api-token mint --name video-team --scope cctv:write --scope cctv:read [--expires-in 90d]
//! api-token list
//! api-token revoke --name video-team
//! ```
//! See [`platform_tools::api_token`] for what each command does and prints.

use std::process::ExitCode;

use clap::Parser;
use common::{config::DatabaseSettings, db};
use platform_tools::api_token::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match DatabaseSettings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("api-token: database settings: {error}");
            return ExitCode::FAILURE;
        }
    };
    let pool = match db::connect(&settings).await {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("api-token: connecting to {}: {error}", settings.target());
            return ExitCode::FAILURE;
        }
    };
    let outcome = run(
        &pool,
        cli.command,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
    .await;
    pool.close().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "api-token: {}",
                common::error::error_chain(&error as &(dyn std::error::Error + 'static))
            );
            ExitCode::FAILURE
        }
    }
}
