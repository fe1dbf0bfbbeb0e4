//! `api-token`: mint, list and revoke the bearer tokens of the HTTP APIs (every API checks
//! the same `api_token` table, see `common::http::auth`).
//!
//! - `mint --name N --scope S [--scope S…] [--expires-in 90d | --expires-at RFC3339]
//!   [--quiet]` prints the token once, on standard output and nowhere else (only its
//!   SHA-256 is stored, so a lost token is revoked and a new one minted). The summary goes
//!   to standard error; `--quiet` leaves it out, for scripts.
//! - `list` prints one line per token: id, name, state (`active`, `expired`, `revoked`),
//!   scopes, created, expires, last used, revoked (UTC). Never a token.
//! - `revoke --name N`: the token answers 401 within the APIs' cache TTL
//!   (`API_TOKEN_CACHE_SECS`, at most 60 s).
//!
//! The database comes from `DATABASE_URL` (or the `DB_*` parts), as for the functions.

use std::io::Write;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use clap::{Parser, Subcommand};
use common::http::auth::{self, TokenAdminError};
use sqlx::MySqlPool;

/// The longest `--expires-in`: ten years (beyond that, mint a token without expiry).
const MAX_EXPIRES_IN_DAYS: i64 = 3650;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "api-token",
    about = "Mint, list and revoke the bearer tokens of the HTTP APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mint a token; prints it once.
    Mint {
        /// A unique name saying who holds it (e.g. video-team).
        #[arg(long)]
        name: String,
        /// A scope the token grants (repeat for several), e.g. cctv:write.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Valid for this long from now: a whole number of days, hours or minutes
        /// (`90d`, `12h`, `30m`). Without it (or --expires-at) the token does not expire.
        #[arg(long, value_parser = parse_expires_in, conflicts_with = "expires_at")]
        expires_in: Option<TimeDelta>,
        /// Valid until this instant, RFC 3339 with an offset (`2027-01-01T00:00:00+09:00`).
        #[arg(long)]
        expires_at: Option<DateTime<chrono::FixedOffset>>,
        /// Print only the token (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// Revoke the token with this name (the APIs answer 401 within their cache TTL).
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// List the tokens (names, state, scopes, dates; never the tokens).
    List,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Admin(#[from] TokenAdminError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no active token named {0:?}")]
    NoActiveToken(String),
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Parses `90d`, `12h` or `30m` into a positive span of at most ten years.
///
/// # Errors
/// A message saying what is accepted.
pub fn parse_expires_in(text: &str) -> Result<TimeDelta, String> {
    let text = text.trim();
    let unit_at = text.len().saturating_sub(1);
    let (number, unit) = (text.get(..unit_at), text.get(unit_at..));
    let amount = number
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0);
    let span = match (amount, unit) {
        (Some(n), Some("d")) => TimeDelta::try_days(n),
        (Some(n), Some("h")) => TimeDelta::try_hours(n),
        (Some(n), Some("m")) => TimeDelta::try_minutes(n),
        _ => None,
    };
    span.filter(|s| *s <= TimeDelta::days(MAX_EXPIRES_IN_DAYS))
        .ok_or_else(|| {
            format!(
                "{text:?}: expected a positive whole number of days, hours or minutes, e.g. 90d, 12h, 30m (at most {MAX_EXPIRES_IN_DAYS}d)"
            )
        })
}

fn utc(at: Option<NaiveDateTime>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// Runs `command` against `pool`: results on `out`, the mint summary on `err`.
///
/// # Errors
/// A refused mint (name, scope, expiry, name taken), no active token to revoke, the
/// database error, or an output error.
pub async fn run(
    pool: &MySqlPool,
    command: Command,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<(), ToolError> {
    match command {
        Command::Mint {
            name,
            scopes,
            expires_in,
            expires_at,
            quiet,
        } => {
            let expires_at = expires_at
                .map(|at| at.with_timezone(&Utc))
                .or_else(|| expires_in.map(|span| Utc::now() + span));
            let minted = auth::mint_expiring(pool, &name, &scopes, expires_at).await?;
            if !quiet {
                writeln!(
                    err,
                    "minted token {} for {:?} with scopes {}, {}; it is shown once, store it now:",
                    minted.id,
                    minted.name,
                    minted.scopes.join(" "),
                    minted.expires_at.map_or_else(
                        || "no expiry".to_owned(),
                        |at| format!("expires {}", at.format("%Y-%m-%dT%H:%M:%SZ"))
                    )
                )?;
            }
            writeln!(out, "{}", minted.token)?;
        }
        Command::Revoke { name } => {
            if !auth::revoke(pool, &name).await? {
                return Err(ToolError::NoActiveToken(name));
            }
            writeln!(
                out,
                "revoked {name:?}; the APIs refuse it within their token cache TTL (API_TOKEN_CACHE_SECS, at most 60 s)"
            )?;
        }
        Command::List => {
            let now = Utc::now().naive_utc();
            writeln!(
                out,
                "{:>5}  {:<24} {:<8} {:<28} {:<20} {:<20} {:<20} revoked_at",
                "id", "name", "state", "scopes", "created_at", "expires_at", "last_used_at"
            )?;
            for t in auth::list(pool).await? {
                writeln!(
                    out,
                    "{:>5}  {:<24} {:<8} {:<28} {:<20} {:<20} {:<20} {}",
                    t.id,
                    t.name,
                    t.state(now),
                    t.scopes,
                    utc(Some(t.created_at)),
                    utc(t.expires_at),
                    utc(t.last_used_at),
                    utc(t.revoked_at),
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_takes_days_hours_and_minutes() {
        assert_eq!(parse_expires_in("90d"), Ok(TimeDelta::days(90)));
        assert_eq!(parse_expires_in("12h"), Ok(TimeDelta::hours(12)));
        assert_eq!(parse_expires_in("30m"), Ok(TimeDelta::minutes(30)));
        for bad in [
            "", "d", "0d", "-1d", "90", "90 d", "1.5d", "3651d", "90s", "９０d",
        ] {
            assert!(parse_expires_in(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn expires_in_and_expires_at_exclude_each_other() {
        let both = Cli::try_parse_from([
            "api-token",
            "mint",
            "--name",
            "x",
            "--scope",
            "cctv:read",
            "--expires-in",
            "1d",
            "--expires-at",
            "2030-01-01T00:00:00Z",
        ]);
        assert!(both.is_err());
        let at = Cli::try_parse_from([
            "api-token",
            "mint",
            "--name",
            "x",
            "--scope",
            "cctv:read",
            "--expires-at",
            "2030-01-01T09:00:00+09:00",
        ])
        .expect("an RFC 3339 instant parses");
        let Command::Mint { expires_at, .. } = at.command else {
            panic!("mint expected");
        };
        assert_eq!(
            expires_at.map(|at| at.with_timezone(&Utc).to_rfc3339()),
            Some("2030-01-01T00:00:00+00:00".to_owned())
        );
    }
}
