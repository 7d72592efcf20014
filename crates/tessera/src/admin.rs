//! `tessera admin …`: accounts and tokens, straight against the stores.

use anyhow::{Context as _, bail};
use tessera_api::auth::{generate_token, hash_token};
use tessera_db::TokenScope;

use crate::stores::Stores;

/// Creates a user and prints (or imports) their first write token.
pub async fn create_user(stores: &Stores, name: &str, is_admin: bool, token: Option<String>) -> anyhow::Result<()> {
    if !valid_name(name) {
        bail!("invalid user name {name:?}: use 1-96 letters, digits, '-', '_' or '.'");
    }
    let user = stores.db.create_user(name, is_admin).await.with_context(|| format!("creating user {name}"))?;
    let secret = token.unwrap_or_else(generate_token);
    stores.db.create_token(user.id, "admin-cli", &hash_token(&secret), TokenScope::Write).await?;
    println!("created user {name}{}", if is_admin { " (admin)" } else { "" });
    println!("write token: {secret}");
    Ok(())
}

/// Creates a token for an existing user and prints it.
pub async fn create_token(stores: &Stores, user: &str, scope: TokenScope, name: &str) -> anyhow::Result<()> {
    let Some(user) = stores.db.user_by_name(user).await? else { bail!("no user named {user}") };
    let secret = generate_token();
    stores.db.create_token(user.id, name, &hash_token(&secret), scope).await?;
    println!("{} token for {}: {secret}", scope.as_str(), user.name);
    Ok(())
}

/// User names follow HF's repo-id part rules.
pub fn valid_name(name: &str) -> bool {
    (1..=96).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with(['-', '.'])
        && !name.contains("--")
        && !name.contains("..")
}
