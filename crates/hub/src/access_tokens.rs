//! The caller's own access tokens: list, create (read, write or
//! fine-grained) and revoke. Managing tokens needs a full write token.

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::{Viewer, reachable_grant};
use tessera_api::auth::{Caller, grants_json, issue_token, revoke_own_token};
use tessera_api::time::iso8601;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{GrantTarget, Token, TokenScope};

use crate::extract::parse_json;

/// Body of `POST /api/settings/tokens`, in HF's shape.
#[derive(Debug, Deserialize)]
struct NewToken {
    name: String,
    role: String,
    #[serde(default)]
    scoped: Vec<ScopedEntry>,
}

/// One entry of a fine-grained token's `scoped` list.
#[derive(Debug, Deserialize)]
struct ScopedEntry {
    entity: Entity,
    permissions: Vec<String>,
}

/// What a scoped entry names: a repo (`model`, `dataset`, `space`) or a namespace (`user`, `org`).
#[derive(Debug, Deserialize)]
struct Entity {
    #[serde(rename = "type")]
    kind: String,
    name: String,
}

/// The repos among `token`'s grants that `viewer` may no longer see.
pub async fn hidden_grants(state: &AppState, viewer: &Viewer<'_>, token: &Token) -> ApiResult<HashSet<i64>> {
    let mut hidden = HashSet::new();
    for grant in &token.grants {
        if let GrantTarget::Repo { id, .. } = grant.target {
            let visible = state.db.repo_by_id(id).await?.is_some_and(|repo| viewer.can_see(&repo));
            if !visible {
                hidden.insert(id);
            }
        }
    }
    Ok(hidden)
}

fn token_json(token: &Token, hidden: &HashSet<i64>) -> Value {
    let mut body = json!({
        "id": token.id.to_string(),
        "name": token.name,
        "role": token.scope.as_str(),
        "createdAt": iso8601(token.created_at),
    });
    if token.scope == TokenScope::FineGrained {
        body["scoped"] = grants_json(&token.grants, hidden);
    }
    body
}

/// `GET /api/settings/tokens`: the caller's tokens (never their secrets).
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let principal = caller.require_full_write()?;
    let viewer = Viewer::new(&state, &caller).await?;
    let mut listed = Vec::new();
    for token in state.db.tokens(principal.user.id).await? {
        listed.push(token_json(&token, &hidden_grants(&state, &viewer, &token).await?));
    }
    Ok(Json(Value::Array(listed)))
}

/// `POST /api/settings/tokens`: a new token; its secret is in this answer only.
pub async fn create(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Json<Value>> {
    let principal = caller.require_full_write()?;
    let body: NewToken = parse_json(&body)?;
    let scope = TokenScope::parse(&body.role).ok_or_else(|| {
        ApiError::BadRequest(format!("Unknown role {:?}: expected read, write or fineGrained", body.role))
    })?;
    if scope != TokenScope::FineGrained && !body.scoped.is_empty() {
        return Err(ApiError::BadRequest("Only fineGrained tokens take scoped entries".into()));
    }
    let user = &principal.user;
    let mut grants = Vec::with_capacity(body.scoped.len());
    for entry in &body.scoped {
        let write = entry.permissions.iter().any(|permission| permission == "repo.write");
        let (kind, name) = (entry.entity.kind.as_str(), entry.entity.name.as_str());
        let grant = reachable_grant(&state, user, kind, name, write).await?;
        grants.push(grant);
    }
    let (secret, token) = issue_token(state.db.as_ref(), user, &body.name, scope, &grants).await?;
    let mut answer = token_json(&token, &HashSet::new());
    answer["token"] = json!(secret);
    Ok(Json(answer))
}

/// `DELETE /api/settings/tokens/{id}`: revokes one of the caller's tokens.
pub async fn revoke(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let principal = caller.require_full_write()?;
    let not_found = || ApiError::NotFound("Token not found".into());
    let id: i64 = id.parse().map_err(|_| not_found())?;
    revoke_own_token(state.db.as_ref(), &principal.user, id).await?;
    Ok(Json(json!({})))
}
