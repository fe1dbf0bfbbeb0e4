//! `cargo run -p xtask -- <task>`: project tasks (see the library for each).

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use xtask::generate::{EntryFormat, GenerateOptions, write_zip};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write a zip of realistic xAPI statements for one log date.
    GenXapi {
        /// Where to write the zip.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        statements: u64,
        /// Log date, YYYY-MM-DD.
        #[arg(long, default_value = "2024-05-01")]
        date: NaiveDate,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 4)]
        entries: u32,
        #[arg(long)]
        users: Option<u32>,
        #[arg(long, value_enum, default_value = "mixed")]
        format: EntryFormat,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::GenXapi {
            out,
            statements,
            date,
            seed,
            entries,
            users,
            format,
        } => {
            let options = GenerateOptions {
                statements,
                date,
                seed,
                entries,
                users,
                format,
            };
            let written =
                write_zip(&options, &out).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {written} statements to {}", out.display());
        }
    }
    Ok(())
}
