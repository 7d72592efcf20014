//! Who may fetch from and push to a repo over git. Anonymous callers who need
//! credentials get the 401 challenge (also for repos that do not exist, so
//! private names do not leak); signed-in callers who may not see a repo get
//! 404, and readers who push get 403.

use tessera_api::access::{can_read, is_maintainer};
use tessera_api::auth::Caller;
use tessera_api::{ApiError, AppState};
use tessera_db::{Repo, TokenScope};

use crate::error::GitError;
use crate::route::GitRoute;

/// What the request will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Clone or fetch.
    Read,
    /// Push.
    Write,
}

/// The repo, if the caller may do what they need with it.
pub async fn authorize(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    route: &GitRoute,
    need: Need,
) -> Result<Repo, GitError> {
    // A token we do not know is answered like no token: git asks again.
    let caller = caller.map_err(|_| GitError::Challenge)?;
    let anonymous = caller.0.is_none();
    let repo = state.db.repo(route.repo_type, &route.namespace, &route.name).await?;
    let repo = match repo {
        Some(repo) if can_read(&caller, &repo) => repo,
        _ if anonymous => return Err(GitError::Challenge),
        _ => return Err(GitError::RepoNotFound),
    };
    if need == Need::Write {
        let Some(principal) = &caller.0 else { return Err(GitError::Challenge) };
        if principal.scope < TokenScope::Write {
            return Err(GitError::Forbidden("This token has read access only; pushing needs a write token".into()));
        }
        if !is_maintainer(&caller, &repo) {
            return Err(GitError::Forbidden(format!("You don't have write access to {}", repo.full_name())));
        }
    }
    Ok(repo)
}
