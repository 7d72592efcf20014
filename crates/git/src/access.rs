//! Who may fetch from and push to a repo over git: the Hub's access rules,
//! with anonymous callers who need credentials (and callers with unknown
//! tokens) challenged with 401, so git runs its credential helpers.
//! Signed-in callers who may not see a repo get 404; readers who push, 403.

use tessera_api::access::{OldName, RepoAction, repo_for_git_client};
use tessera_api::auth::Caller;
use tessera_api::repo_url::RepoUrl;
use tessera_api::{ApiError, AppState};
use tessera_db::Repo;

use crate::error::GitError;

/// What the request will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Clone or fetch.
    Read,
    /// Push.
    Write,
}

/// The repo, if the caller may do what they need with it. The old name of
/// a moved repo is redirected or served as `old_name` says.
pub async fn authorize(
    state: &AppState,
    caller: Result<Caller, ApiError>,
    url: &RepoUrl,
    need: Need,
    old_name: OldName,
) -> Result<Repo, GitError> {
    // A token we do not know (revoked, or its user disabled) is a 401 with
    // the challenge too, saying so: git asks its credential helpers again.
    let caller = caller?;
    let action = match need {
        Need::Read => RepoAction::Download,
        Need::Write => RepoAction::Write,
    };
    Ok(repo_for_git_client(state, &caller, url, action, old_name).await?)
}
