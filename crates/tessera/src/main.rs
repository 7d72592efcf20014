//! The `tessera` command: one binary for the server and its tools.

mod xet_hash;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tessera, a self-hosted Hugging Face Hub with Xet deduplicated storage.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Xet protocol tools.
    #[command(subcommand)]
    Xet(XetCommand),
}

#[derive(Debug, Subcommand)]
enum XetCommand {
    /// Print each file's Xet file hash, sha256, size and chunk count.
    ///
    /// One line per file: `<xet file hash> <sha256> <size> <chunks> <path>`.
    Hash {
        /// Files to hash.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Xet(XetCommand::Hash { files }) => xet_hash::run(&files),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
