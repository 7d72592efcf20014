//! Xet CAS access for a repo, as handed out by the Hub's `xet-read-token` /
//! `xet-write-token` routes and by the LFS batch API's `xet` transfer: a
//! signed token scoped to one repo and an access level, its expiry, and the
//! CAS base URL, in the JSON body hf_xet reads and the `X-Xet-*` headers
//! huggingface_hub and git-xet read.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use tessera_db::Repo;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::signing::CasGrant;
use crate::state::App;
use crate::time::now_secs;

/// `X-Xet-Cas-Url`: the CAS base URL.
pub const CAS_URL_HEADER: HeaderName = HeaderName::from_static("x-xet-cas-url");
/// `X-Xet-Access-Token`: the CAS token.
pub const ACCESS_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-xet-access-token");
/// `X-Xet-Token-Expiration`: the token's expiry, unix seconds.
pub const TOKEN_EXPIRATION_HEADER: HeaderName = HeaderName::from_static("x-xet-token-expiration");

/// A freshly issued CAS token. No `Debug`: the token is a credential.
pub struct XetAccess {
    /// The CAS base URL (this server).
    pub cas_url: String,
    /// The opaque token.
    pub token: String,
    /// Unix seconds after which the CAS refuses it.
    pub expires_at: i64,
}

impl XetAccess {
    /// Issues a token for `repo`, writable or read-only, living the
    /// configured CAS token lifetime, for the caller the access rule
    /// already allowed (the CAS asks it again with the caller's token).
    pub fn issue(app: &App, caller: &Caller, repo: &Repo, write: bool) -> Self {
        let expires_at = now_secs() + app.cas_token_ttl_secs;
        let token_id = caller.0.as_ref().map(|principal| principal.token.id);
        let token = app.signer.cas_token(&CasGrant { repo_id: repo.id, write, token_id, expires_at });
        tracing::debug!(repo.id = repo.id, xet.write = write, "cas token issued");
        Self { cas_url: app.public_url.clone(), token, expires_at }
    }

    /// The `X-Xet-Cas-Url`, `X-Xet-Access-Token` and `X-Xet-Token-Expiration` headers.
    pub fn headers(&self) -> ApiResult<HeaderMap> {
        let value = |text: &str| HeaderValue::from_str(text).map_err(ApiError::internal);
        let mut headers = HeaderMap::new();
        headers.insert(CAS_URL_HEADER, value(&self.cas_url)?);
        headers.insert(ACCESS_TOKEN_HEADER, value(&self.token)?);
        headers.insert(TOKEN_EXPIRATION_HEADER, value(&self.expires_at.to_string())?);
        Ok(headers)
    }

    /// The token endpoints' JSON body: `{accessToken, exp, casUrl}`.
    pub fn body(&self) -> Value {
        json!({ "accessToken": self.token, "exp": self.expires_at, "casUrl": self.cas_url })
    }
}
