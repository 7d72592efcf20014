//! Every Hub route. Repo API routes are `/api/{repo_type}/{namespace}/{name}/…`
//! with `repo_type` one of `models`, `datasets`, `spaces`; file routes are
//! `/[datasets/|spaces/]{namespace}/{name}/resolve/{rev}/{*path}`. Revisions
//! arrive percent-encoded (`refs%2Fpr%2F1`) and are decoded by the extractors.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use tessera_api::{ApiError, AppState};

use crate::{access_tokens, admin, commits, files, gating, misc, orgs, refs, repos, tokens, users};

/// Largest NDJSON commit body (regular files travel inline, base64).
const COMMIT_BODY_LIMIT: usize = 1024 * 1024 * 1024;

/// Largest preupload or paths-info body.
const LISTING_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// The Hub routes.
pub fn router() -> Router<AppState> {
    let repo = "/api/{repo_type}/{namespace}/{name}";
    Router::new()
        .route("/health", get(misc::health))
        .route("/api/whoami-v2", get(users::whoami))
        .route("/api/validate-yaml", post(misc::validate_yaml))
        .route("/api/agent-harnesses", get(misc::agent_harnesses))
        .route("/api/telemetry/{*topic}", get(misc::telemetry).post(misc::telemetry))
        .route("/api/admin/stats", get(misc::stats))
        .route("/api/users/{name}/overview", get(users::overview))
        .route("/api/organizations/{org}/overview", get(orgs::overview))
        .route("/api/organizations/{org}/members", get(orgs::members))
        .route("/api/organizations/{org}/members/{user}", put(orgs::set_member).delete(orgs::remove_member))
        .route("/api/settings/tokens", get(access_tokens::list).post(access_tokens::create))
        .route("/api/settings/tokens/{id}", delete(access_tokens::revoke))
        .route("/api/admin/users", get(admin::list_users).post(admin::create_user))
        .route("/api/admin/users/{name}", delete(admin::delete_user))
        .route("/api/admin/users/{name}/{action}", post(admin::set_disabled))
        .route("/api/admin/organizations", get(admin::list_orgs).post(admin::create_org))
        .route("/api/repos/create", post(repos::create))
        .route("/api/repos/delete", delete(repos::delete))
        .route("/api/repos/move", post(repos::move_repo))
        .route("/api/{repo_type}", get(repos::list_repos))
        // A one-segment id (`/api/models/gpt2`) names no repo here.
        .route("/api/{repo_type}/{namespace}", get(|| async { ApiError::RepoNotFound }))
        .route(repo, get(repos::info))
        .route(&format!("{repo}/revision/{{*rev}}"), get(repos::info))
        .route(&format!("{repo}/settings"), put(repos::update_settings))
        .route(&format!("{repo}/ask-access"), post(gating::ask))
        .route(&format!("{repo}/user-access-request/handle"), post(gating::handle))
        .route(&format!("{repo}/user-access-request/grant"), post(gating::grant))
        .route(&format!("{repo}/user-access-request/{{status}}"), get(gating::list))
        .route(&format!("{repo}/auth-check"), get(repos::auth_check))
        .route(&format!("{repo}/auth-check/{{write}}"), get(repos::auth_check))
        .route(&format!("{repo}/tree/{{rev}}"), get(files::tree))
        .route(&format!("{repo}/tree/{{rev}}/{{*path}}"), get(files::tree))
        .route(
            &format!("{repo}/paths-info/{{*rev}}"),
            post(files::paths_info).layer(DefaultBodyLimit::max(LISTING_BODY_LIMIT)),
        )
        .route(&format!("{repo}/refs"), get(refs::list_refs))
        .route(&format!("{repo}/branch/{{*branch}}"), post(refs::create_branch).delete(refs::delete_branch))
        .route(&format!("{repo}/tag/{{*rev}}"), post(refs::create_tag).delete(refs::delete_tag))
        .route(&format!("{repo}/commits/{{*rev}}"), get(commits::list_commits))
        .route(
            &format!("{repo}/preupload/{{*rev}}"),
            post(commits::preupload).layer(DefaultBodyLimit::max(LISTING_BODY_LIMIT)),
        )
        .route(
            &format!("{repo}/commit/{{*rev}}"),
            post(commits::create_commit).layer(DefaultBodyLimit::max(COMMIT_BODY_LIMIT)),
        )
        .route(&format!("{repo}/xet-read-token/{{*rev}}"), get(tokens::read_token))
        .route(&format!("{repo}/xet-write-token/{{*rev}}"), get(tokens::write_token))
        .route("/{namespace}/{name}/resolve/{rev}/{*path}", get(files::resolve))
        .route("/datasets/{namespace}/{name}/resolve/{rev}/{*path}", get(files::resolve))
        .route("/spaces/{namespace}/{name}/resolve/{rev}/{*path}", get(files::resolve))
}
