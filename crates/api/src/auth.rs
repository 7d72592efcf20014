//! Who is calling: user tokens from `Authorization: Bearer <token>` or HTTP
//! Basic (the token as password). Token secrets are only stored hashed.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use rand::Rng as _;
use sha2::Digest as _;
use tessera_db::{GrantTarget, MetadataStore, RepoType, Token, TokenGrant, TokenScope, User};

use crate::error::ApiError;
use crate::state::AppState;

/// The `WWW-Authenticate` challenge of a 401 to git and git-lfs clients:
/// HTTP Basic, a user name and a token as password.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"Tessera\"";

/// What clients are told for a token we do not know (HF's wording).
pub const INVALID_CREDENTIALS: &str = "Invalid credentials in Authorization header";

/// An authenticated user and the token they called with (never its secret).
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user: User,
    /// The token: its kind, grants and name.
    pub token: Token,
}

/// The caller of a request: `None` when no credentials were sent.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// The principal, or 401.
    pub fn require(&self) -> Result<&Principal, ApiError> {
        self.0.as_ref().ok_or_else(|| ApiError::Unauthorized("Authentication required".into()))
    }

    /// The principal with a token that is not read-only, or 401/403. What a
    /// fine-grained token reaches is for the access rule to decide.
    pub fn require_write(&self) -> Result<&Principal, ApiError> {
        let principal = self.require()?;
        if principal.token.scope == TokenScope::Read {
            return Err(ApiError::Forbidden("This token has read access only".into()));
        }
        Ok(principal)
    }

    /// The principal with a full write token (not fine-grained), as managing
    /// one's tokens needs; else 401/403.
    pub fn require_full_write(&self) -> Result<&Principal, ApiError> {
        let principal = self.require()?;
        if principal.token.scope != TokenScope::Write {
            return Err(ApiError::Forbidden("This needs a write token".into()));
        }
        Ok(principal)
    }
}

/// Creates a token for `user` and returns its secret (shown once, stored hashed).
pub async fn issue_token(
    db: &dyn MetadataStore,
    user: &User,
    name: &str,
    scope: TokenScope,
    grants: &[TokenGrant],
) -> Result<(String, Token), ApiError> {
    if user.is_org() {
        return Err(ApiError::BadRequest(format!("{} is an organization: tokens belong to users", user.name)));
    }
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::BadRequest("A token name must have 1 to 100 characters".into()));
    }
    if scope == TokenScope::FineGrained && grants.is_empty() {
        return Err(ApiError::BadRequest("A fine-grained token needs at least one repo or namespace".into()));
    }
    let secret = generate_token();
    let token = db.create_token(user.id, name, &hash_token(&secret), scope, grants).await?;
    tracing::info!(user.id = user.id, token.id = token.id, token.scope = scope.as_str(), "token created");
    Ok((secret, token))
}

/// The answer for a grant on a repo that does not exist (or, through the
/// API, that the user may not see: the same answer, so nothing leaks).
pub fn no_such_repo(kind: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!("No {kind} repo {name}"))
}

/// Revokes token `id` if it is one of `user`'s; else 404, whether it exists or not.
pub async fn revoke_own_token(db: &dyn MetadataStore, user: &User, id: i64) -> Result<(), ApiError> {
    let owned = db.tokens(user.id).await?.iter().any(|token| token.id == id);
    if !owned || !db.delete_token(id).await? {
        return Err(ApiError::NotFound("Token not found".into()));
    }
    tracing::info!(user.id = user.id, token.id = id, "token revoked");
    Ok(())
}

/// A fine-grained grant on what `kind` (`model`, `dataset`, `space`, or
/// `user`/`org` for a namespace) and `name` (`ns/name`, or `ns`) name.
pub async fn resolve_grant(
    db: &dyn MetadataStore,
    kind: &str,
    name: &str,
    write: bool,
) -> Result<TokenGrant, ApiError> {
    let target = match kind {
        "user" | "org" | "namespace" => {
            let account = db
                .user_by_name(name)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("No user or organization {name}")))?;
            GrantTarget::Namespace { id: account.id, name: account.name, kind: account.kind }
        }
        _ => {
            let repo_type = RepoType::parse(kind).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Unknown entity type {kind:?}: expected model, dataset, space, user or org"
                ))
            })?;
            let (namespace, repo_name) = name
                .split_once('/')
                .ok_or_else(|| ApiError::BadRequest(format!("Invalid repo id {name:?}: expected namespace/name")))?;
            let repo = db.repo(repo_type, namespace, repo_name).await?.ok_or_else(|| no_such_repo(kind, name))?;
            GrantTarget::Repo { id: repo.id, repo_type, full_name: repo.full_name() }
        }
    };
    Ok(TokenGrant { target, write })
}

/// What a grant on a repo the viewer may no longer see is named (its
/// current name could tell where a private repo was moved).
pub const HIDDEN_REPO: &str = "(a repo you cannot see)";

/// HF's description of a fine-grained token's scopes:
/// `[{"entity": {"type", "name"}, "permissions": [...]}]`; repos whose ids
/// are in `hidden` are not named.
pub fn grants_json(grants: &[TokenGrant], hidden: &std::collections::HashSet<i64>) -> serde_json::Value {
    let scoped: Vec<serde_json::Value> = grants
        .iter()
        .map(|grant| {
            let (kind, name) = match &grant.target {
                GrantTarget::Repo { id, repo_type, .. } if hidden.contains(id) => {
                    (repo_type.as_str(), HIDDEN_REPO.to_owned())
                }
                GrantTarget::Repo { repo_type, full_name, .. } => (repo_type.as_str(), full_name.clone()),
                GrantTarget::Namespace { name, kind, .. } => (kind.as_str(), name.clone()),
            };
            let permissions: &[&str] =
                if grant.write { &["repo.content.read", "repo.write"] } else { &["repo.content.read"] };
            serde_json::json!({ "entity": { "type": kind, "name": name }, "permissions": permissions })
        })
        .collect();
    serde_json::Value::Array(scoped)
}

/// The stored hash of a token secret.
pub fn hash_token(secret: &str) -> Vec<u8> {
    sha2::Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new random token secret, `hf_` and 34 alphanumerics (the shape HF tools expect).
pub fn generate_token() -> String {
    let mut rng = rand::rng();
    let tail: String = (0..34).map(|_| rng.sample(rand::distr::Alphanumeric) as char).collect();
    format!("hf_{tail}")
}

/// The token secret in an `Authorization` header value, if it has one.
pub fn token_from_header(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, password) = text.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else { return Ok(Self(None)) };
        let secret = value
            .to_str()
            .ok()
            .and_then(token_from_header)
            .filter(|secret| !secret.is_empty())
            .ok_or_else(|| ApiError::Unauthorized(INVALID_CREDENTIALS.into()))?;
        match state.db.token_by_hash(&hash_token(&secret)).await? {
            Some((user, token)) => Ok(Self(Some(Principal { user, token }))),
            None => {
                tracing::warn!("request with an unknown, revoked or disabled user's token");
                Err(ApiError::Unauthorized(INVALID_CREDENTIALS.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        assert_eq!(token_from_header("Bearer hf_abc").as_deref(), Some("hf_abc"));
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:hf_abc");
        assert_eq!(token_from_header(&format!("Basic {basic}")).as_deref(), Some("hf_abc"));
        assert_eq!(token_from_header("Digest x"), None);
        assert!(generate_token().starts_with("hf_"));
        assert_eq!(generate_token().len(), 37);
    }
}
