//! The `tessera` command: one binary for the server and its tools.

mod admin;
mod config;
mod serve;
mod stores;
mod xet_hash;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tessera_db::TokenScope;

use crate::config::{ServeArgs, Settings, StoreArgs};

/// Tessera, a self-hosted Hugging Face Hub with Xet deduplicated storage.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the Hub API and the Xet CAS.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Accounts and tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Xet protocol tools.
    #[command(subcommand)]
    Xet(XetCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user and print a write token for it.
    Create {
        /// User name (also their namespace).
        name: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Import this token secret instead of generating one.
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for a user and print it.
    Create {
        /// The user.
        user: String,
        /// What the token may do.
        #[arg(long, value_parser = ["read", "write"], default_value = "read")]
        scope: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let store = &cli.store;
    let result = match cli.command {
        Command::Xet(XetCommand::Hash { files }) => xet_hash::run(&files),
        Command::Serve(serve) => block_on(async { serve::run(Settings::resolve(store, Some(&serve))?).await }),
        Command::Migrate => block_on(async {
            stores::open(&Settings::resolve(store, None)?).await?;
            println!("migrations applied");
            Ok(())
        }),
        Command::Admin(admin) => block_on(run_admin(store, admin)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an async command to completion on a fresh runtime.
fn block_on(command: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(command)
}

async fn run_admin(store: &StoreArgs, command: AdminCommand) -> anyhow::Result<()> {
    let stores = stores::open(&Settings::resolve(store, None)?).await?;
    match command {
        AdminCommand::User(UserCommand::Create { name, admin, token }) => {
            admin::create_user(&stores, &name, admin, token).await
        }
        AdminCommand::Token(TokenCommand::Create { user, scope, name }) => {
            let scope = TokenScope::parse(&scope).unwrap_or(TokenScope::Read);
            admin::create_token(&stores, &user, scope, &name).await
        }
    }
}
