//! Xet CAS access tokens for a repo: `xet-read-token` and `xet-write-token`.
//! Both answer with the JSON body hf_xet reads and the `X-Xet-*` headers
//! huggingface_hub reads.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_api::auth::Caller;
use tessera_api::signing::CasGrant;
use tessera_api::time::now_secs;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::Repo;

use crate::extract::{RepoPath, flag};
use crate::repo_model;

/// The token response for `repo`.
fn token_response(state: &AppState, repo: &Repo, write: bool) -> ApiResult<Response> {
    let expires_at = now_secs() + state.cas_token_ttl_secs;
    let token = state.signer.cas_token(&CasGrant { repo_id: repo.id, write, expires_at });
    let value = |text: &str| HeaderValue::from_str(text).map_err(ApiError::internal);
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::from_static("x-xet-cas-url"), value(&state.public_url)?);
    headers.insert(HeaderName::from_static("x-xet-access-token"), value(&token)?);
    headers.insert(HeaderName::from_static("x-xet-token-expiration"), value(&expires_at.to_string())?);
    tracing::debug!(repo.id = repo.id, xet.write = write, "cas token issued");
    let body = json!({ "accessToken": token, "exp": expires_at, "casUrl": state.public_url });
    Ok((headers, Json(body)).into_response())
}

/// `GET /api/{type}s/{ns}/{name}/xet-read-token/{rev}`: a read token for anyone who may read the repo.
pub async fn read_token(State(state): State<AppState>, caller: Caller, route: RepoPath) -> ApiResult<Response> {
    let repo = route.readable(&state, &caller).await?;
    repo_model::resolve_revision(state.db.as_ref(), repo.id, route.param("rev")).await?;
    token_response(&state, &repo, false)
}

/// `GET /api/{type}s/{ns}/{name}/xet-write-token/{rev}[?create_pr=1]`: a
/// write token for maintainers with a write token (`rev` may be `None` with `create_pr`).
pub async fn write_token(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let repo = route.writable(&state, &caller).await?;
    let rev = route.param("rev");
    if !(rev == "None" && flag(&query, "create_pr")) {
        repo_model::resolve_revision(state.db.as_ref(), repo.id, rev).await?;
    }
    token_response(&state, &repo, true)
}
