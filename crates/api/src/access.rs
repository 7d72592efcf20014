//! The one access rule. Every surface (Hub API, CAS, git, LFS, and the web
//! UI and buckets after them) asks [`authorize_repo`] or
//! [`authorize_namespace`] whether a caller may do an action, and never
//! checks roles or token kinds itself.
//!
//! The rule, per repo: a user's *level* (none, read or write) comes from the
//! repo's namespace: their own, an organization they belong to (by role), or
//! site admin. The token caps it: a read token at read, a fine-grained one at
//! what its grants give for the repo. Then:
//! - **see** (metadata): the repo is public, or the level is at least read;
//!   otherwise it does not exist for the caller (404 `RepoNotFound`);
//! - **download** (file contents): seen, and the repo is not gated, or the
//!   level is at least read, or the user's access request was accepted
//!   (otherwise `GatedRepo`);
//! - **write**: the level is write.
//!
//! To git and git-lfs clients an anonymous caller who lacks access is asked
//! to authenticate instead ([`repo_for_git_client`]). Refusals are logged
//! at debug level with the rule that refused, never with a token.

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use tessera_db::{AccessStatus, Gating, GrantTarget, OrgRole, Repo, RepoType, TokenGrant, TokenScope, User};

use crate::auth::{Caller, INVALID_CREDENTIALS, Principal};
use crate::error::{ApiError, ApiResult, MovedRepo};
use crate::repo_url::RepoUrl;
use crate::state::AppState;

/// What a caller may do with a repo, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only what anyone may do (public repos).
    None,
    /// Read it, private or gated.
    Read,
    /// Change it: commits, refs, settings, deletion, moves.
    Write,
}

/// What a caller asks to do with a repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoAction {
    /// Read its metadata: info, tree, paths-info, refs, history.
    See,
    /// Read its file contents: resolve, Xet reconstruction, clone, LFS download.
    Download,
    /// Change it.
    Write,
}

/// The rule's answer, named after what decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allowed,
    /// Private, and the caller may not read it: it does not exist for them.
    Hidden,
    /// Gated, and the caller has no accepted request.
    Gated,
    /// Writing needs a signed-in caller.
    SignInRequired,
    /// The caller's token is a read token.
    ReadOnlyToken,
    /// The caller may not write it.
    NoWriteAccess,
}

impl Verdict {
    /// The rule's name in logs.
    pub fn rule(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Hidden => "private-hidden",
            Self::Gated => "gated-no-access",
            Self::SignInRequired => "write-needs-sign-in",
            Self::ReadOnlyToken => "read-only-token",
            Self::NoWriteAccess => "no-write-access",
        }
    }
}

/// What the caller is to this repo: their [`Level`] and, for gated repos,
/// whether their access request was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The caller's level, already capped by their token.
    pub level: Level,
    /// Whether the user's access request to this gated repo is accepted.
    pub accepted: bool,
}

/// The rule itself: whether a caller (`principal`, `None` when anonymous)
/// with `standing` may do `action` on `repo`.
pub fn judge(principal: Option<&Principal>, repo: &Repo, standing: Standing, action: RepoAction) -> Verdict {
    if repo.private && standing.level < Level::Read {
        return Verdict::Hidden;
    }
    match action {
        RepoAction::See => Verdict::Allowed,
        RepoAction::Download => {
            if repo.gating == Gating::Open || standing.level >= Level::Read || standing.accepted {
                Verdict::Allowed
            } else {
                Verdict::Gated
            }
        }
        RepoAction::Write => match principal {
            _ if standing.level >= Level::Write => Verdict::Allowed,
            None => Verdict::SignInRequired,
            Some(principal) if principal.token.scope == TokenScope::Read => Verdict::ReadOnlyToken,
            Some(_) => Verdict::NoWriteAccess,
        },
    }
}

/// The level a user's standing in the repo's namespace gives, before any token cap.
fn user_level(user: &User, repo: &Repo, role: Option<OrgRole>) -> Level {
    if user.is_admin || repo.owner_id == user.id {
        return Level::Write;
    }
    match role {
        Some(OrgRole::Admin | OrgRole::Write) => Level::Write,
        Some(OrgRole::Contributor) if repo.creator_id == user.id => Level::Write,
        Some(OrgRole::Contributor | OrgRole::Read) => Level::Read,
        None => Level::None,
    }
}

/// The most a token lets its user do on `repo`.
fn token_cap(principal: &Principal, repo: &Repo) -> Level {
    match principal.token.scope {
        TokenScope::Read => Level::Read,
        TokenScope::Write => Level::Write,
        TokenScope::FineGrained => principal
            .token
            .grants
            .iter()
            .filter(|grant| match grant.target {
                GrantTarget::Repo { id, .. } => id == repo.id,
                GrantTarget::Namespace { id, .. } => id == repo.owner_id,
            })
            .map(|grant| if grant.write { Level::Write } else { Level::Read })
            .max()
            .unwrap_or(Level::None),
    }
}

/// `user`'s role in the organization owning namespace `owner_id`; no query
/// when the answer cannot matter (site admins, the user's own namespace).
async fn role_in_namespace(state: &AppState, user: &User, owner_id: i64) -> ApiResult<Option<OrgRole>> {
    if user.is_admin || owner_id == user.id {
        return Ok(None);
    }
    Ok(state.db.member_role(owner_id, user.id).await?)
}

/// The caller's [`Standing`] on `repo`, reading from the DB only what `action` needs.
pub async fn standing(state: &AppState, caller: &Caller, repo: &Repo, action: RepoAction) -> ApiResult<Standing> {
    let Some(principal) = caller.0.as_ref() else { return Ok(Standing { level: Level::None, accepted: false }) };
    let user = &principal.user;
    let role = role_in_namespace(state, user, repo.owner_id).await?;
    let level = user_level(user, repo, role).min(token_cap(principal, repo));
    let accepted = action == RepoAction::Download
        && repo.gating != Gating::Open
        && level < Level::Read
        && state
            .db
            .access_request(repo.id, user.id)
            .await?
            .is_some_and(|request| request.status == AccessStatus::Accepted);
    Ok(Standing { level, accepted })
}

/// A caller's memberships, read once, to judge many repos without a query
/// each (listings, profiles).
#[derive(Debug, Clone)]
pub struct Viewer<'c> {
    caller: &'c Caller,
    roles: HashMap<i64, OrgRole>,
}

impl<'c> Viewer<'c> {
    /// Reads the caller's memberships.
    pub async fn new(state: &AppState, caller: &'c Caller) -> ApiResult<Self> {
        let roles = match caller.0.as_ref() {
            Some(principal) => {
                state.db.user_orgs(principal.user.id).await?.into_iter().map(|m| (m.org.id, m.role)).collect()
            }
            None => HashMap::new(),
        };
        Ok(Self { caller, roles })
    }

    /// Whether the caller may see `repo` (the rule's [`RepoAction::See`]).
    pub fn can_see(&self, repo: &Repo) -> bool {
        let principal = self.caller.0.as_ref();
        let level = principal.map_or(Level::None, |principal| {
            let role = self.roles.get(&repo.owner_id).copied();
            user_level(&principal.user, repo, role).min(token_cap(principal, repo))
        });
        judge(principal, repo, Standing { level, accepted: false }, RepoAction::See) == Verdict::Allowed
    }

    /// The caller's role in an organization.
    pub fn role_in(&self, org_id: i64) -> Option<OrgRole> {
        self.roles.get(&org_id).copied()
    }
}

/// Decides whether the caller may do `action` on `repo`: `Ok`, or the error
/// the API answers (404 `RepoNotFound`, `GatedRepo`, 401 or 403).
pub async fn authorize_repo(state: &AppState, caller: &Caller, repo: &Repo, action: RepoAction) -> ApiResult<()> {
    let standing = standing(state, caller, repo, action).await?;
    let verdict = judge(caller.0.as_ref(), repo, standing, action);
    if verdict == Verdict::Allowed {
        return Ok(());
    }
    tracing::debug!(
        access.rule = verdict.rule(),
        access.action = ?action,
        repo.id = repo.id,
        user.id = caller.0.as_ref().map(|principal| principal.user.id),
        "access refused"
    );
    Err(match verdict {
        Verdict::Allowed | Verdict::Hidden => ApiError::RepoNotFound,
        Verdict::Gated => ApiError::gated(state, repo, caller.0.is_none()),
        Verdict::SignInRequired => ApiError::Unauthorized("Authentication required".into()),
        Verdict::ReadOnlyToken => ApiError::Forbidden("This token has read access only".into()),
        Verdict::NoWriteAccess => ApiError::Forbidden(format!("You don't have write access to {}", repo.full_name())),
    })
}

/// Asks the rule again for a capability minted earlier (a CAS token, an
/// LFS object URL) when it is used: the user token it was minted through
/// (`None`: anonymous) must still work (not revoked, its user not
/// disabled; else 401) and must still allow `action` on the repo, so a
/// revocation, a lost membership or a repo made private takes effect at once.
pub async fn recheck(state: &AppState, token_id: Option<i64>, repo_id: i64, action: RepoAction) -> ApiResult<Repo> {
    let caller = match token_id {
        None => Caller(None),
        Some(token_id) => match state.db.token_by_id(token_id).await? {
            Some((user, token)) => Caller(Some(Principal { user, token })),
            None => return Err(ApiError::Unauthorized(INVALID_CREDENTIALS.into())),
        },
    };
    let repo = state.db.repo_by_id(repo_id).await?.ok_or(ApiError::RepoNotFound)?;
    authorize_repo(state, &caller, &repo, action).await?;
    Ok(repo)
}

/// Loads the repo a route names and authorizes `action` on it. Names match
/// case-insensitively; the old name of a moved repo answers a redirect to
/// callers who may see it ([`ApiError::RepoMoved`]).
pub async fn repo_for(
    state: &AppState,
    caller: &Caller,
    repo_type: RepoType,
    namespace: &str,
    name: &str,
    action: RepoAction,
) -> ApiResult<Repo> {
    if let Some(repo) = state.db.repo(repo_type, namespace, name).await? {
        authorize_repo(state, caller, &repo, action).await?;
        return Ok(repo);
    }
    if let Some(repo) = state.db.redirected_repo(repo_type, namespace, name).await? {
        authorize_repo(state, caller, &repo, RepoAction::See).await?;
        return Err(ApiError::RepoMoved(MovedRepo { from: format!("{namespace}/{name}"), to: repo.full_name() }));
    }
    Err(ApiError::RepoNotFound)
}

/// How a git or git-lfs route answers the old name of a moved repo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldName {
    /// With a redirect to the new name: git's first request (`info/refs`),
    /// which git follows and then uses the new URL for the rest.
    Redirect,
    /// As the repo itself: every later request. git follows no redirect
    /// after its first request, and when that one was answered 401 (a
    /// private repo, before the credential helper ran) it keeps the old URL.
    Serve,
}

/// [`repo_for`], except that the old name of a moved repo names the repo
/// itself instead of answering a redirect: for requests that cannot follow
/// one (git after its first request, LFS, and routes that name the repo in
/// their body, such as delete and move).
pub async fn repo_following_moves(
    state: &AppState,
    caller: &Caller,
    repo_type: RepoType,
    namespace: &str,
    name: &str,
    action: RepoAction,
) -> ApiResult<Repo> {
    match repo_for(state, caller, repo_type, namespace, name, action).await {
        Err(ApiError::RepoMoved(moved)) => match state.db.redirected_repo(repo_type, namespace, name).await? {
            Some(repo) => authorize_repo(state, caller, &repo, action).await.map(|()| repo),
            None => Err(ApiError::RepoMoved(moved)),
        },
        other => other,
    }
}

/// The repo for a git or git-lfs client: [`repo_for`] or
/// [`repo_following_moves`] as `old_name` says, except that an anonymous
/// caller who lacks access gets 401 (missing repo or not, so private names
/// do not leak), which those surfaces send with a Basic challenge: git then
/// asks its credential helpers and retries.
pub async fn repo_for_git_client(
    state: &AppState,
    caller: &Caller,
    url: &RepoUrl,
    action: RepoAction,
    old_name: OldName,
) -> ApiResult<Repo> {
    let (repo_type, namespace, name) = (url.repo_type, url.namespace.as_str(), url.name.as_str());
    let found = match old_name {
        OldName::Redirect => repo_for(state, caller, repo_type, namespace, name, action).await,
        OldName::Serve => repo_following_moves(state, caller, repo_type, namespace, name, action).await,
    };
    found.map_err(|error| match error {
        ApiError::RepoNotFound | ApiError::Forbidden(_) | ApiError::Gated { .. } if caller.0.is_none() => {
            ApiError::Unauthorized("Authentication required".into())
        }
        other => other,
    })
}

/// Whether `user`, with all their rights (whatever token they called with),
/// may see `repo`: for checks of what a user asks a new token to reach.
pub async fn user_may_see(state: &AppState, user: &User, repo: &Repo) -> ApiResult<bool> {
    let role = role_in_namespace(state, user, repo.owner_id).await?;
    Ok(!repo.private || user_level(user, repo, role) >= Level::Read)
}

/// Whether `account`'s namespace is `user`'s own, one of their
/// organizations', or any (site admins).
pub async fn user_in_namespace(state: &AppState, user: &User, account: &User) -> ApiResult<bool> {
    Ok(user.is_admin || account.id == user.id || state.db.member_role(account.id, user.id).await?.is_some())
}

/// What a caller asks to do in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceAction {
    /// Create repos in it.
    CreateRepo,
    /// Manage an organization: members and roles.
    Manage,
}

/// Decides whether the caller may do `action` in the namespace of `account`
/// (a user or an organization).
pub async fn authorize_namespace(
    state: &AppState,
    caller: &Caller,
    account: &User,
    action: NamespaceAction,
) -> ApiResult<()> {
    let principal = caller.require()?;
    let user = &principal.user;
    let role = role_in_namespace(state, user, account.id).await?;
    let user_may = user.is_admin
        || match action {
            NamespaceAction::CreateRepo => {
                account.id == user.id || role.is_some_and(|role| role >= OrgRole::Contributor)
            }
            NamespaceAction::Manage => account.is_org() && role == Some(OrgRole::Admin),
        };
    let token_may = match principal.token.scope {
        TokenScope::Read => false,
        TokenScope::Write => true,
        TokenScope::FineGrained => {
            action == NamespaceAction::CreateRepo
                && principal.token.grants.iter().any(|grant| {
                    grant.write && matches!(grant.target, GrantTarget::Namespace { id, .. } if id == account.id)
                })
        }
    };
    if user_may && token_may {
        return Ok(());
    }
    let rule = if user_may { "token-scope" } else { "namespace-role" };
    tracing::debug!(access.rule = rule, access.action = ?action, namespace.id = account.id, user.id = user.id, "access refused");
    Err(match (action, principal.token.scope) {
        (_, TokenScope::Read) => ApiError::Forbidden("This token has read access only".into()),
        (NamespaceAction::CreateRepo, _) => {
            ApiError::Forbidden(format!("You don't have the rights to create repos in namespace {}", account.name))
        }
        (NamespaceAction::Manage, _) => {
            ApiError::Forbidden(format!("You must be an admin of {} to manage it", account.name))
        }
    })
}

/// The caller, if they are a site admin using a write token; else 401/403.
pub fn require_site_admin(caller: &Caller) -> ApiResult<&Principal> {
    let principal = caller.require()?;
    if !principal.user.is_admin {
        tracing::debug!(access.rule = "site-admin", user.id = principal.user.id, "access refused");
        return Err(ApiError::Forbidden("This needs a site administrator".into()));
    }
    if principal.token.scope != TokenScope::Write {
        return Err(ApiError::Forbidden("This needs a write token".into()));
    }
    Ok(principal)
}

/// Middleware that gives a [`ApiError::RepoMoved`] answer its `Location`:
/// the request's URL with the old repo id replaced by the new one. A
/// redirect it cannot place is answered as a missing repo instead.
pub async fn locate_moved_repos(request: Request, next: Next) -> Response {
    let path_and_query = request.uri().path_and_query().map(|pq| pq.as_str().to_owned()).unwrap_or_default();
    let mut response = next.run(request).await;
    if let Some(moved) = response.extensions().get::<MovedRepo>() {
        match moved.relocate(&path_and_query).and_then(|location| HeaderValue::from_str(&location).ok()) {
            Some(location) => {
                response.headers_mut().insert(header::LOCATION, location);
            }
            None => return ApiError::RepoNotFound.into_response(),
        }
    }
    response
}

/// A fine-grained token grant of `user`'s on what `kind` and `name` name
/// (see [`crate::auth::resolve_grant`]), if `user` can reach it: a repo
/// they may see (one they may not is answered as missing), or their own
/// namespace or one of their organizations.
pub async fn reachable_grant(
    state: &AppState,
    user: &User,
    kind: &str,
    name: &str,
    write: bool,
) -> ApiResult<TokenGrant> {
    let grant = crate::auth::resolve_grant(state.db.as_ref(), kind, name, write).await?;
    let allowed = match &grant.target {
        GrantTarget::Repo { id, .. } => match state.db.repo_by_id(*id).await? {
            Some(repo) => user_may_see(state, user, &repo).await?,
            None => false,
        },
        GrantTarget::Namespace { id, .. } => match state.db.user_by_id(*id).await? {
            Some(account) => user_in_namespace(state, user, &account).await?,
            None => false,
        },
    };
    match (allowed, &grant.target) {
        (true, _) => Ok(grant),
        (false, GrantTarget::Repo { .. }) => Err(crate::auth::no_such_repo(kind, name)),
        (false, GrantTarget::Namespace { .. }) => Err(ApiError::Forbidden(format!(
            "A token can reach only your own namespace and your organizations', not {name}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use tessera_db::{AccountKind, Token, TokenGrant};

    use super::*;

    fn user(id: i64, is_admin: bool) -> User {
        User { id, name: format!("u{id}"), kind: AccountKind::User, is_admin, disabled: false, created_at: 0 }
    }

    fn principal(id: i64, scope: TokenScope, grants: Vec<TokenGrant>) -> Principal {
        Principal {
            user: user(id, false),
            token: Token { id: 1, user_id: id, name: "t".into(), scope, grants, created_at: 0 },
        }
    }

    fn repo(private: bool, gating: Gating) -> Repo {
        Repo {
            id: 7,
            repo_type: RepoType::Model,
            namespace: "org".into(),
            name: "r".into(),
            private,
            owner_id: 100,
            creator_id: 2,
            gating,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn levels_from_roles() {
        let repo = repo(true, Gating::Open);
        assert_eq!(user_level(&user(1, true), &repo, None), Level::Write);
        assert_eq!(user_level(&user(100, false), &repo, None), Level::Write);
        assert_eq!(user_level(&user(1, false), &repo, Some(OrgRole::Admin)), Level::Write);
        assert_eq!(user_level(&user(1, false), &repo, Some(OrgRole::Write)), Level::Write);
        assert_eq!(user_level(&user(2, false), &repo, Some(OrgRole::Contributor)), Level::Write);
        assert_eq!(user_level(&user(3, false), &repo, Some(OrgRole::Contributor)), Level::Read);
        assert_eq!(user_level(&user(3, false), &repo, Some(OrgRole::Read)), Level::Read);
        assert_eq!(user_level(&user(3, false), &repo, None), Level::None);
    }

    #[test]
    fn tokens_cap_levels() {
        let repo = repo(true, Gating::Open);
        assert_eq!(token_cap(&principal(1, TokenScope::Read, vec![]), &repo), Level::Read);
        assert_eq!(token_cap(&principal(1, TokenScope::Write, vec![]), &repo), Level::Write);
        assert_eq!(token_cap(&principal(1, TokenScope::FineGrained, vec![]), &repo), Level::None);
        let on_repo = TokenGrant {
            target: GrantTarget::Repo { id: 7, repo_type: RepoType::Model, full_name: "org/r".into() },
            write: true,
        };
        assert_eq!(token_cap(&principal(1, TokenScope::FineGrained, vec![on_repo]), &repo), Level::Write);
        let on_namespace = TokenGrant {
            target: GrantTarget::Namespace { id: 100, name: "org".into(), kind: AccountKind::Org },
            write: false,
        };
        assert_eq!(token_cap(&principal(1, TokenScope::FineGrained, vec![on_namespace]), &repo), Level::Read);
    }

    #[test]
    fn verdicts() {
        let none = Standing { level: Level::None, accepted: false };
        let read = Standing { level: Level::Read, accepted: false };
        let accepted = Standing { level: Level::None, accepted: true };
        let reader = principal(1, TokenScope::Read, vec![]);
        let writer = principal(1, TokenScope::Write, vec![]);
        let private = repo(true, Gating::Open);
        let gated = repo(false, Gating::Manual);
        assert_eq!(judge(None, &private, none, RepoAction::See), Verdict::Hidden);
        assert_eq!(judge(None, &private, none, RepoAction::Write), Verdict::Hidden);
        assert_eq!(judge(Some(&reader), &private, read, RepoAction::Download), Verdict::Allowed);
        assert_eq!(judge(Some(&reader), &private, read, RepoAction::Write), Verdict::ReadOnlyToken);
        assert_eq!(judge(None, &gated, none, RepoAction::See), Verdict::Allowed);
        assert_eq!(judge(None, &gated, none, RepoAction::Download), Verdict::Gated);
        assert_eq!(judge(Some(&writer), &gated, accepted, RepoAction::Download), Verdict::Allowed);
        assert_eq!(judge(Some(&writer), &gated, accepted, RepoAction::Write), Verdict::NoWriteAccess);
        assert_eq!(judge(None, &gated, none, RepoAction::Write), Verdict::SignInRequired);
    }
}
