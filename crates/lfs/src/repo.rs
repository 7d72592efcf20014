//! The repo an LFS URL names, and who may use it.
//!
//! LFS URLs are `/[datasets/|spaces/]{namespace}/{repo}[.git]/info/lfs/…`;
//! git-lfs derives them from the git remote, so the `.git` suffix is optional.
//! Access follows the Hub's rules (a repo the caller may not see is 404),
//! except that an anonymous caller who lacks access is answered 401 with a
//! Basic challenge, missing repo or not, so git asks its credential helpers
//! and retries instead of failing.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::request::Parts;
use tessera_api::access::{repo_for_read, repo_for_write};
use tessera_api::auth::{Caller, Principal};
use tessera_api::{ApiError, AppState};
use tessera_db::{Repo, RepoType};

use crate::error::{LfsError, LfsResult};

/// The repo named by an LFS route, and the route's other parameters.
#[derive(Debug, Clone)]
pub struct LfsRepoPath {
    /// The repo type, from the URL prefix.
    pub repo_type: RepoType,
    /// The namespace.
    pub namespace: String,
    /// The name, without `.git`.
    pub name: String,
    params: HashMap<String, String>,
}

impl LfsRepoPath {
    /// A route parameter other than the repo's (`id`), empty if absent.
    pub fn param(&self, key: &str) -> &str {
        self.params.get(key).map_or("", String::as_str)
    }

    /// The repo, if the caller may read it.
    pub async fn readable(&self, state: &AppState, caller: &Caller) -> LfsResult<Repo> {
        repo_for_read(state, caller, self.repo_type, &self.namespace, &self.name)
            .await
            .map_err(|error| challenge_anonymous(caller, error))
    }

    /// The repo and the caller, if the caller may write the repo with a write token.
    pub async fn writable<'c>(&self, state: &AppState, caller: &'c Caller) -> LfsResult<(Repo, &'c Principal)> {
        let repo = repo_for_write(state, caller, self.repo_type, &self.namespace, &self.name)
            .await
            .map_err(|error| challenge_anonymous(caller, error))?;
        let principal = caller.require_write()?;
        Ok((repo, principal))
    }
}

/// An anonymous caller is told to authenticate rather than that the repo is
/// missing or read-only to them.
fn challenge_anonymous(caller: &Caller, error: ApiError) -> LfsError {
    match error {
        ApiError::RepoNotFound | ApiError::Forbidden(_) if caller.0.is_none() => LfsError::auth_required(),
        other => other.into(),
    }
}

impl FromRequestParts<AppState> for LfsRepoPath {
    type Rejection = LfsError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(format!("Invalid path: {rejection}")))?;
        let repo_type = RepoType::from_url_path(parts.extensions.get::<MatchedPath>().map_or("", MatchedPath::as_str));
        let namespace = params.remove("namespace").ok_or(ApiError::RepoNotFound)?;
        let name = params.remove("repo").ok_or(ApiError::RepoNotFound)?;
        let name = name.strip_suffix(".git").map(str::to_owned).unwrap_or(name);
        Ok(Self { repo_type, namespace, name, params })
    }
}

/// The caller of an LFS request: an unknown or malformed token is a 401
/// with the Basic challenge, like a missing one where one is needed.
pub struct LfsCaller(pub Caller);

impl FromRequestParts<AppState> for LfsCaller {
    type Rejection = LfsError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(Caller::from_request_parts(parts, state).await?))
    }
}
