//! The caller's own access tokens: list, create (read, write or
//! fine-grained) and revoke. Managing tokens needs a full write token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::auth::{Caller, grants_json, issue_token, resolve_grant};
use tessera_api::time::iso8601;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{Token, TokenScope};

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

fn token_json(token: &Token) -> Value {
    let mut body = json!({
        "id": token.id.to_string(),
        "name": token.name,
        "role": token.scope.as_str(),
        "createdAt": iso8601(token.created_at),
    });
    if token.scope == TokenScope::FineGrained {
        body["scoped"] = grants_json(&token.grants);
    }
    body
}

/// `GET /api/settings/tokens`: the caller's tokens (never their secrets).
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let principal = caller.require_full_write()?;
    let tokens = state.db.tokens(principal.user.id).await?;
    Ok(Json(Value::Array(tokens.iter().map(token_json).collect())))
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
    let mut grants = Vec::with_capacity(body.scoped.len());
    for entry in &body.scoped {
        let write = entry.permissions.iter().any(|permission| permission == "repo.write");
        grants.push(resolve_grant(state.db.as_ref(), &entry.entity.kind, &entry.entity.name, write).await?);
    }
    let (secret, token) = issue_token(state.db.as_ref(), &principal.user, &body.name, scope, &grants).await?;
    let mut answer = token_json(&token);
    answer["token"] = json!(secret);
    Ok(Json(answer))
}

/// `DELETE /api/settings/tokens/{id}`: revokes one of the caller's tokens.
pub async fn revoke(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let principal = caller.require_full_write()?;
    let not_found = || ApiError::NotFound("Token not found".into());
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let owned = state.db.tokens(principal.user.id).await?.iter().any(|token| token.id == id);
    if !owned || !state.db.delete_token(id).await? {
        return Err(not_found());
    }
    tracing::info!(user.id = principal.user.id, token.id = id, "token revoked");
    Ok(Json(json!({})))
}
