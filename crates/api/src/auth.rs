//! Who is calling: user tokens from `Authorization: Bearer <token>` or HTTP
//! Basic (the token as password). Token secrets are only stored hashed.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use rand::Rng as _;
use sha2::Digest as _;
use tessera_db::{TokenScope, User};

use crate::error::ApiError;
use crate::state::AppState;

/// The `WWW-Authenticate` challenge of a 401 to git and git-lfs clients:
/// HTTP Basic, a user name and a token as password.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"Tessera\"";

/// What clients are told for a token we do not know (HF's wording).
pub const INVALID_CREDENTIALS: &str = "Invalid credentials in Authorization header";

/// An authenticated user and what their token allows.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user: User,
    /// The token's scope.
    pub scope: TokenScope,
    /// The token's display name.
    pub token_name: String,
}

/// The caller of a request: `None` when no credentials were sent.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// The principal, or 401.
    pub fn require(&self) -> Result<&Principal, ApiError> {
        self.0.as_ref().ok_or_else(|| ApiError::Unauthorized("Authentication required".into()))
    }

    /// The principal with a write-scoped token, or 401/403.
    pub fn require_write(&self) -> Result<&Principal, ApiError> {
        let principal = self.require()?;
        if principal.scope < TokenScope::Write {
            return Err(ApiError::Forbidden("This token has read access only".into()));
        }
        Ok(principal)
    }
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
            Some((user, token)) => Ok(Self(Some(Principal { user, scope: token.scope, token_name: token.name }))),
            None => {
                tracing::warn!("request with an unknown token");
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
