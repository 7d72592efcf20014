//! Who may see and change a repo. A repo the caller may not see is answered
//! exactly like a missing one (404 `RepoNotFound`), on every route; to git
//! and git-lfs clients, an anonymous caller is asked to authenticate instead
//! ([`repo_for_git_client`]).

use tessera_db::{Repo, RepoType};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::repo_url::RepoUrl;
use crate::state::AppState;

/// Whether the caller may read the repo: public, or owned, or an admin.
pub fn can_read(caller: &Caller, repo: &Repo) -> bool {
    !repo.private || caller.0.as_ref().is_some_and(|p| p.user.is_admin || p.user.id == repo.owner_id)
}

/// Whether the caller's user may write the repo (ignoring token scope).
pub fn is_maintainer(caller: &Caller, repo: &Repo) -> bool {
    caller.0.as_ref().is_some_and(|p| p.user.is_admin || p.user.id == repo.owner_id)
}

/// Loads a repo the caller may read.
pub async fn repo_for_read(
    state: &AppState,
    caller: &Caller,
    repo_type: RepoType,
    namespace: &str,
    name: &str,
) -> ApiResult<Repo> {
    match state.db.repo(repo_type, namespace, name).await? {
        Some(repo) if can_read(caller, &repo) => Ok(repo),
        _ => Err(ApiError::RepoNotFound),
    }
}

/// Loads a repo the caller may write with a write-scoped token.
pub async fn repo_for_write(
    state: &AppState,
    caller: &Caller,
    repo_type: RepoType,
    namespace: &str,
    name: &str,
) -> ApiResult<Repo> {
    let repo = repo_for_read(state, caller, repo_type, namespace, name).await?;
    caller.require_write()?;
    if !is_maintainer(caller, &repo) {
        return Err(ApiError::Forbidden(format!("You don't have write access to {}", repo.full_name())));
    }
    Ok(repo)
}

/// The repo for a git or git-lfs client: [`repo_for_read`] or
/// [`repo_for_write`], except that an anonymous caller who lacks access gets
/// 401 (missing repo or not, so private names do not leak), which those
/// surfaces send with a Basic challenge: git then asks its credential
/// helpers and retries instead of failing.
pub async fn repo_for_git_client(state: &AppState, caller: &Caller, url: &RepoUrl, write: bool) -> ApiResult<Repo> {
    let repo = if write {
        repo_for_write(state, caller, url.repo_type, &url.namespace, &url.name).await
    } else {
        repo_for_read(state, caller, url.repo_type, &url.namespace, &url.name).await
    };
    repo.map_err(|error| match error {
        ApiError::RepoNotFound | ApiError::Forbidden(_) if caller.0.is_none() => {
            ApiError::Unauthorized("Authentication required".into())
        }
        other => other,
    })
}

/// Whether the caller may create repos in `namespace` (their own, or any as admin).
pub fn can_create_in(caller: &Caller, namespace: &str) -> ApiResult<()> {
    let principal = caller.require_write()?;
    if principal.user.is_admin || principal.user.name == namespace {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("You cannot create repos in namespace {namespace}")))
    }
}
