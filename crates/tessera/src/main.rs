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
    /// Users, organizations and tokens.
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
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Sign-up invitations (for `TESSERA_SIGNUP=invite`).
    #[command(subcommand)]
    Invite(InviteCommand),
}

#[derive(Debug, Subcommand)]
enum InviteCommand {
    /// Make a single-use invitation and print its code and /join link.
    Create {
        /// The site admin the invitation comes from.
        #[arg(long)]
        by: String,
        /// Days it stays valid.
        #[arg(long, default_value_t = tessera_api::accounts::DEFAULT_INVITE_DAYS)]
        days: i64,
    },
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
    /// List users: name, admin or user, enabled or disabled.
    List,
    /// Set a user's password for browser sign-in (read from standard input
    /// when it is not a terminal, so scripts can pipe it in).
    Passwd {
        /// The user.
        name: String,
    },
    /// Disable a user: every token of theirs stops working at once.
    Disable {
        /// The user.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user.
        name: String,
    },
    /// Delete a user who owns no repos.
    Delete {
        /// The user.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization.
    Create {
        /// Its name (shares one name space with users).
        name: String,
        /// The user who becomes its first admin.
        #[arg(long)]
        owner: String,
    },
    /// Add a member, or change a member's role.
    AddMember {
        /// The organization.
        org: String,
        /// The user.
        user: String,
        /// The role.
        #[arg(long, value_parser = ["read", "contributor", "write", "admin"], default_value = "read")]
        role: String,
    },
    /// Remove a member.
    RemoveMember {
        /// The organization.
        org: String,
        /// The user.
        user: String,
    },
    /// List organizations and their members.
    List,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for a user and print it.
    Create {
        /// The user.
        user: String,
        /// What the token may do (`--repo` or `--namespace` make it fine-grained).
        #[arg(long, value_parser = ["read", "write", "fine-grained"], default_value = "read")]
        scope: String,
        /// A repo the fine-grained token reaches: `ns/name`, `datasets/ns/name`
        /// or `spaces/ns/name`, with `:read` (default) or `:write`.
        #[arg(long = "repo", value_name = "ID[:PERMISSION]")]
        repos: Vec<String>,
        /// A namespace (user or organization) whose every repo the token
        /// reaches, with `:read` (default) or `:write` (which also creates repos there).
        #[arg(long = "namespace", value_name = "NS[:PERMISSION]")]
        namespaces: Vec<String>,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List a user's tokens.
    List {
        /// The user.
        user: String,
    },
    /// Revoke a token.
    Revoke {
        /// The token's id (from `token list`).
        id: i64,
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
    let settings = Settings::resolve(store, None)?;
    let stores = stores::open(&settings).await?;
    match command {
        AdminCommand::User(command) => match command {
            UserCommand::Create { name, admin, token } => admin::create_user(&stores, &name, admin, token).await,
            UserCommand::List => admin::list_users(&stores).await,
            UserCommand::Passwd { name } => admin::set_password(&stores, &name).await,
            UserCommand::Disable { name } => admin::set_user_disabled(&stores, &name, true).await,
            UserCommand::Enable { name } => admin::set_user_disabled(&stores, &name, false).await,
            UserCommand::Delete { name } => admin::delete_user(&stores, &name).await,
        },
        AdminCommand::Org(command) => match command {
            OrgCommand::Create { name, owner } => admin::create_org(&stores, &name, &owner).await,
            OrgCommand::AddMember { org, user, role } => admin::add_member(&stores, &org, &user, &role).await,
            OrgCommand::RemoveMember { org, user } => admin::remove_member(&stores, &org, &user).await,
            OrgCommand::List => admin::list_orgs(&stores).await,
        },
        AdminCommand::Token(command) => match command {
            TokenCommand::Create { user, scope, repos, namespaces, name } => {
                let scope = match scope.as_str() {
                    "write" => TokenScope::Write,
                    "fine-grained" => TokenScope::FineGrained,
                    _ => TokenScope::Read,
                };
                admin::create_token(&stores, &user, scope, &name, &repos, &namespaces).await
            }
            TokenCommand::List { user } => admin::list_tokens(&stores, &user).await,
            TokenCommand::Revoke { id } => admin::revoke_token(&stores, id).await,
        },
        AdminCommand::Invite(InviteCommand::Create { by, days }) => {
            admin::create_invite(&stores, &by, days, settings.public_url.as_deref()).await
        }
    }
}
