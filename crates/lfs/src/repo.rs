//! The repo an LFS URL names, and who may use it.
//!
//! LFS URLs are `/[datasets/|spaces/]{namespace}/{repo}[.git]/info/lfs/…`;
//! git-lfs derives them from the git remote, so the `.git` suffix is optional.
//! Access follows the Hub's rules (a repo the caller may not see is 404;
//! the old name of a moved repo is served as the repo, as git keeps using it),
//! except that an anonymous caller who lacks access is answered 401 with a
//! Basic challenge, missing repo or not, so git asks its credential helpers
//! and retries instead of failing.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use tessera_api::access::{OldName, RepoAction, repo_for_git_client};
use tessera_api::auth::{Caller, Principal};
use tessera_api::repo_url::RepoUrl;
use tessera_api::{ApiError, AppState};
use tessera_db::Repo;

use crate::error::{LfsError, LfsResult};

/// The repo named by an LFS route, and the route's other parameters.
#[derive(Debug, Clone)]
pub struct LfsRepoPath {
    /// The repo.
    pub url: RepoUrl,
    params: HashMap<String, String>,
}

impl LfsRepoPath {
    /// A route parameter other than the repo's (`id`), empty if absent.
    pub fn param(&self, key: &str) -> &str {
        self.params.get(key).map_or("", String::as_str)
    }

    /// The repo, if the caller may do `action` on it.
    pub async fn authorized(&self, state: &AppState, caller: &Caller, action: RepoAction) -> LfsResult<Repo> {
        Ok(repo_for_git_client(state, caller, &self.url, action, OldName::Serve).await?)
    }

    /// The repo and the caller, if the caller may write the repo.
    pub async fn writable<'c>(&self, state: &AppState, caller: &'c Caller) -> LfsResult<(Repo, &'c Principal)> {
        let repo = repo_for_git_client(state, caller, &self.url, RepoAction::Write, OldName::Serve).await?;
        Ok((repo, caller.require_write()?))
    }
}

impl FromRequestParts<AppState> for LfsRepoPath {
    type Rejection = LfsError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let url = RepoUrl::from_request_parts(parts, state).await?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(format!("Invalid path: {rejection}")))?;
        Ok(Self { url, params })
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
