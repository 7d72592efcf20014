//! The CAS token extractor: `Authorization: Bearer <token>` where the token
//! was minted by the Hub's xet-read-token / xet-write-token routes. Every
//! request asks the access rule again with the user token the CAS token was
//! minted through, so a revoked token, a disabled user, a lost membership or
//! a repo made private takes effect at once.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tessera_api::access::{RepoAction, recheck};
use tessera_api::signing::{CasGrant, SignatureError};
use tessera_api::time::now_secs;
use tessera_api::{ApiError, AppState};

/// A verified CAS token whose grant the access rule still allows.
#[derive(Debug, Clone, Copy)]
pub struct CasAuth(pub CasGrant);

impl CasAuth {
    /// The grant, if it allows uploads; 403 otherwise.
    pub fn require_write(&self) -> Result<&CasGrant, ApiError> {
        if self.0.write { Ok(&self.0) } else { Err(ApiError::Forbidden("this CAS token is read-only".into())) }
    }
}

impl FromRequestParts<AppState> for CasAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::Unauthorized("missing CAS token".into()))?;
        let grant = match state.signer.verify_cas_token(token.trim(), now_secs()) {
            Ok(grant) => grant,
            Err(SignatureError::Expired) => return Err(ApiError::Unauthorized("CAS token expired".into())),
            Err(SignatureError::Invalid) => return Err(ApiError::Unauthorized("invalid CAS token".into())),
        };
        let action = if grant.write { RepoAction::Write } else { RepoAction::Download };
        recheck(state, grant.token_id, grant.repo_id, action).await?;
        Ok(Self(grant))
    }
}
