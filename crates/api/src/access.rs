//! Who may see and change a repo. A repo the caller may not see is answered
//! exactly like a missing one (404 `RepoNotFound`), on every route.

use tessera_db::{Repo, RepoType};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
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

/// Whether the caller may create repos in `namespace` (their own, or any as admin).
pub fn can_create_in(caller: &Caller, namespace: &str) -> ApiResult<()> {
    let principal = caller.require_write()?;
    if principal.user.is_admin || principal.user.name == namespace {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("You cannot create repos in namespace {namespace}")))
    }
}
