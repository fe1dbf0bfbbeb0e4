//! `api-token`: mint, revoke and list the bearer tokens of the HTTP APIs.
//!
//! ```text
//! api-token mint --name video-team --scope cctv:write --scope cctv:read
//! api-token list
//! api-token revoke --name video-team
//! ```
//! Reads the database from `DATABASE_URL` (or `DB_HOST`, `DB_USER`, … as the functions do).
//! `mint` prints the token once, on standard output and nowhere else: only its SHA-256 is
//! stored, so a lost token is revoked and a new one minted.

use anyhow::Context;
use clap::{Parser, Subcommand};
use common::{config::DatabaseSettings, db, http::auth};

#[derive(Parser)]
#[command(about = "Mint, revoke and list API bearer tokens")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mint a token; prints it once.
    Mint {
        /// A unique name saying who holds it (e.g. video-team).
        #[arg(long)]
        name: String,
        /// A scope the token grants (repeat for several), e.g. cctv:write.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Print only the token (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// Revoke the token with this name (it answers 401 from then on).
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// List the tokens (names, scopes, dates; never the tokens).
    List,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = DatabaseSettings::from_env().context("database settings")?;
    let pool = db::connect(&settings)
        .await
        .with_context(|| format!("connecting to {}", settings.target()))?;
    match cli.command {
        Command::Mint {
            name,
            scopes,
            quiet,
        } => {
            let minted = auth::mint(&pool, &name, &scopes).await?;
            if quiet {
                println!("{}", minted.token);
            } else {
                eprintln!(
                    "minted token {} for {:?} with scopes {}; it is shown once, store it now:",
                    minted.id,
                    minted.name,
                    minted.scopes.join(" ")
                );
                println!("{}", minted.token);
            }
        }
        Command::Revoke { name } => {
            if auth::revoke(&pool, &name).await? {
                println!("revoked {name:?}");
            } else {
                anyhow::bail!("no active token named {name:?}");
            }
        }
        Command::List => {
            println!(
                "{:>5}  {:<24} {:<28} {:<24} revoked_at",
                "id", "name", "scopes", "created_at"
            );
            for t in auth::list(&pool).await? {
                println!(
                    "{:>5}  {:<24} {:<28} {:<24} {}",
                    t.id,
                    t.name,
                    t.scopes,
                    t.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    t.revoked_at.map_or_else(
                        || "-".to_owned(),
                        |r| r.format("%Y-%m-%d %H:%M:%S").to_string()
                    )
                );
            }
        }
    }
    Ok(())
}
