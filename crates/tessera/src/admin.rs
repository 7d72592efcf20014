//! `tessera admin …`: users, organizations, tokens and sign-up invitations, straight against the
//! stores, with the same rules and errors as the admin API.

use anyhow::{Context as _, bail};
use std::io::IsTerminal as _;

use tessera_api::auth::{hash_token, issue_token, resolve_grant};
use tessera_api::time::iso8601;
use tessera_api::{accounts, passwords};
use tessera_db::{AccountKind, OrgRole, TokenScope, User};

use crate::stores::Stores;

/// The user `name` (not an organization).
async fn user_named(stores: &Stores, name: &str) -> anyhow::Result<User> {
    match stores.db.user_by_name(name).await? {
        Some(user) if !user.is_org() => Ok(user),
        Some(_) => bail!("{name} is an organization, not a user"),
        None => bail!("no user named {name}"),
    }
}

/// The organization `name`.
async fn org_named(stores: &Stores, name: &str) -> anyhow::Result<User> {
    match stores.db.user_by_name(name).await? {
        Some(org) if org.is_org() => Ok(org),
        Some(_) => bail!("{name} is a user, not an organization"),
        None => bail!("no organization named {name}"),
    }
}

/// Creates a user and prints (or imports) their first write token.
pub async fn create_user(stores: &Stores, name: &str, is_admin: bool, token: Option<String>) -> anyhow::Result<()> {
    let user = accounts::create_user(stores.db.as_ref(), name, is_admin).await?;
    let secret = match token {
        Some(secret) => {
            stores.db.create_token(user.id, "admin-cli", &hash_token(&secret), TokenScope::Write, &[]).await?;
            secret
        }
        None => issue_token(stores.db.as_ref(), &user, "admin-cli", TokenScope::Write, &[]).await?.0,
    };
    println!("created user {}{}", user.name, if is_admin { " (admin)" } else { "" });
    println!("write token: {secret}");
    Ok(())
}

/// Sets a user's password for browser sign-in: read from standard input
/// (the first line), or asked for without echo when that is a terminal.
pub async fn set_password(stores: &Stores, name: &str) -> anyhow::Result<()> {
    let user = user_named(stores, name).await?;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {}: ", user.name))?;
        if rpassword::prompt_password("Again: ")? != first {
            bail!("the passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    let hash = passwords::hash_password(password).await?;
    stores.db.set_password_hash(user.id, Some(&hash)).await?;
    println!("password set for {}", user.name);
    Ok(())
}

/// Lists users: `NAME<TAB>admin|user<TAB>enabled|disabled`.
pub async fn list_users(stores: &Stores) -> anyhow::Result<()> {
    for user in stores.db.list_accounts(AccountKind::User).await? {
        let role = if user.is_admin { "admin" } else { "user" };
        let state = if user.disabled { "disabled" } else { "enabled" };
        println!("{}\t{role}\t{state}", user.name);
    }
    Ok(())
}

/// Disables or enables a user: a disabled user's tokens stop working at once.
pub async fn set_user_disabled(stores: &Stores, name: &str, disabled: bool) -> anyhow::Result<()> {
    let user = user_named(stores, name).await?;
    stores.db.set_user_disabled(user.id, disabled).await?;
    println!("{} {}", if disabled { "disabled" } else { "enabled" }, user.name);
    Ok(())
}

/// Deletes a user who owns no repos.
pub async fn delete_user(stores: &Stores, name: &str) -> anyhow::Result<()> {
    let user = user_named(stores, name).await?;
    accounts::delete_account(stores.db.as_ref(), &user).await?;
    println!("deleted user {}", user.name);
    Ok(())
}

/// Creates an organization with `owner` as its first admin.
pub async fn create_org(stores: &Stores, name: &str, owner: &str) -> anyhow::Result<()> {
    let owner = user_named(stores, owner).await?;
    let org = accounts::create_org(stores.db.as_ref(), name, &owner).await?;
    println!("created organization {} (admin: {})", org.name, owner.name);
    Ok(())
}

/// Adds a member to an organization, or changes their role.
pub async fn add_member(stores: &Stores, org: &str, user: &str, role: &str) -> anyhow::Result<()> {
    let role =
        OrgRole::parse(role).with_context(|| format!("unknown role {role}: read, contributor, write or admin"))?;
    let org = org_named(stores, org).await?;
    let user = user_named(stores, user).await?;
    stores.db.set_member(org.id, user.id, role).await?;
    println!("{} is now {} of {}", user.name, role.as_str(), org.name);
    Ok(())
}

/// Removes a member from an organization.
pub async fn remove_member(stores: &Stores, org: &str, user: &str) -> anyhow::Result<()> {
    let org = org_named(stores, org).await?;
    let user = user_named(stores, user).await?;
    if !stores.db.remove_member(org.id, user.id).await? {
        bail!("{} is not a member of {}", user.name, org.name);
    }
    println!("removed {} from {}", user.name, org.name);
    Ok(())
}

/// Lists organizations: `NAME<TAB>N members`, then one indented line per member.
pub async fn list_orgs(stores: &Stores) -> anyhow::Result<()> {
    for org in stores.db.list_accounts(AccountKind::Org).await? {
        let members = stores.db.org_members(org.id).await?;
        println!("{}\t{} members", org.name, members.len());
        for member in members {
            println!("  {}\t{}", member.user.name, member.role.as_str());
        }
    }
    Ok(())
}

/// `ID[:read|:write]` of a `--repo` or `--namespace` option: the id and whether it grants write.
fn split_permission(spec: &str) -> anyhow::Result<(&str, bool)> {
    match spec.rsplit_once(':') {
        Some((id, "write")) => Ok((id, true)),
        Some((id, "read")) => Ok((id, false)),
        Some((_, other)) => bail!("unknown permission {other:?} in {spec:?}: use read or write"),
        None => Ok((spec, false)),
    }
}

/// Creates a token for a user and prints it; `repos` and `namespaces`
/// (`ID[:read|:write]`) make it fine-grained.
pub async fn create_token(
    stores: &Stores,
    user: &str,
    scope: TokenScope,
    name: &str,
    repos: &[String],
    namespaces: &[String],
) -> anyhow::Result<()> {
    let user = user_named(stores, user).await?;
    let mut grants = Vec::new();
    for spec in repos {
        let (id, write) = split_permission(spec)?;
        let (kind, full_name) = match id.split_once('/') {
            Some(("datasets", rest)) => ("dataset", rest),
            Some(("spaces", rest)) => ("space", rest),
            Some(("models", rest)) => ("model", rest),
            _ => ("model", id),
        };
        grants.push(resolve_grant(stores.db.as_ref(), kind, full_name, write).await?);
    }
    for spec in namespaces {
        let (namespace, write) = split_permission(spec)?;
        grants.push(resolve_grant(stores.db.as_ref(), "namespace", namespace, write).await?);
    }
    let scope = if grants.is_empty() { scope } else { TokenScope::FineGrained };
    let (secret, token) = issue_token(stores.db.as_ref(), &user, name, scope, &grants).await?;
    println!("{} token for {}: {secret}", scope.as_str(), user.name);
    println!("token id: {}", token.id);
    Ok(())
}

/// Lists a user's tokens: `ID<TAB>NAME<TAB>SCOPE<TAB>created ISO`.
pub async fn list_tokens(stores: &Stores, user: &str) -> anyhow::Result<()> {
    let user = user_named(stores, user).await?;
    for token in stores.db.tokens(user.id).await? {
        println!("{}\t{}\t{}\tcreated {}", token.id, token.name, token.scope.as_str(), iso8601(token.created_at));
    }
    Ok(())
}

/// Revokes a token by id.
pub async fn revoke_token(stores: &Stores, id: i64) -> anyhow::Result<()> {
    if !stores.db.delete_token(id).await? {
        bail!("no token with id {id}");
    }
    println!("revoked token {id}");
    Ok(())
}

/// Makes a single-use sign-up invitation from the admin `by` and prints its
/// code and the `/join` link that uses it (on `public_url` when configured).
pub async fn create_invite(stores: &Stores, by: &str, days: i64, public_url: Option<&str>) -> anyhow::Result<()> {
    let admin = user_named(stores, by).await?;
    let code = accounts::create_invite(stores.db.as_ref(), &admin, days).await?;
    println!("invite code: {code}");
    println!("sign-up link: {}/join?invite={code}", public_url.unwrap_or(""));
    println!("valid for {days} days, for one account; sign-up must be set to invite (TESSERA_SIGNUP=invite)");
    Ok(())
}
