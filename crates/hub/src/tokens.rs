//! Xet CAS access tokens for a repo: `xet-read-token` and `xet-write-token`.
//! Both answer with the JSON body hf_xet reads and the `X-Xet-*` headers
//! huggingface_hub reads.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use tessera_api::access::RepoAction;
use tessera_api::auth::Caller;
use tessera_api::xet_token::XetAccess;
use tessera_api::{ApiResult, AppState};
use tessera_db::Repo;

use crate::extract::{RepoPath, flag};
use crate::repo_model;

/// The token response for `repo`.
fn token_response(state: &AppState, caller: &Caller, repo: &Repo, write: bool) -> ApiResult<Response> {
    let access = XetAccess::issue(state, caller, repo, write);
    Ok((access.headers()?, Json(access.body())).into_response())
}

/// `GET /api/{type}s/{ns}/{name}/xet-read-token/{rev}`: a read token for anyone who may read the repo.
pub async fn read_token(State(state): State<AppState>, caller: Caller, route: RepoPath) -> ApiResult<Response> {
    let repo = route.authorized(&state, &caller, RepoAction::Download).await?;
    repo_model::resolve_revision(state.db.as_ref(), repo.id, route.param("rev")).await?;
    token_response(&state, &caller, &repo, false)
}

/// `GET /api/{type}s/{ns}/{name}/xet-write-token/{rev}[?create_pr=1]`: a
/// write token for maintainers with a write token (`rev` may be `None` with `create_pr`).
pub async fn write_token(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let rev = route.param("rev");
    if !(rev == "None" && flag(&query, "create_pr")) {
        repo_model::resolve_revision(state.db.as_ref(), repo.id, rev).await?;
    }
    token_response(&state, &caller, &repo, true)
}
