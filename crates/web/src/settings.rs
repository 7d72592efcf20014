//! The signed-in user's settings: access tokens (`/settings/tokens`):
//! list, create a read or write token (its secret shown once, never
//! stored), revoke.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use tessera_api::auth::{Principal, issue_token, revoke_own_token};
use tessera_api::time::iso8601;
use tessera_api::{ApiError, AppState};
use tessera_db::TokenScope;

use crate::error::WebResult;
use crate::render::render;
use crate::session::{Visitor, form_fields, sign_in_first};

/// Where the tokens page lives.
const TOKENS_PATH: &str = "/settings/tokens";

#[derive(Debug, Serialize)]
struct TokenRow {
    id: i64,
    name: String,
    role: &'static str,
    created: String,
}

#[derive(Debug, Serialize)]
struct TokensPage {
    tokens: Vec<TokenRow>,
    /// A token just created: its name and secret, shown this once.
    created: Option<(String, String)>,
    error: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    created: Option<(String, String)>,
    error: Option<String>,
) -> WebResult<Response> {
    let tokens = state
        .db
        .tokens(principal.user.id)
        .await?
        .into_iter()
        .map(|token| TokenRow {
            id: token.id,
            name: token.name,
            role: token.scope.as_str(),
            created: iso8601(token.created_at),
        })
        .collect();
    let mut response = render(visitor, "tokens.html", &TokensPage { tokens, created, error })?.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /settings/tokens`.
pub async fn tokens(State(state): State<AppState>, visitor: Visitor) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(TOKENS_PATH)) };
    tokens_page(&state, &visitor, principal, None, None).await
}

/// `POST /settings/tokens` with `name` and `role` (`read` or `write`): a new token, shown once.
pub async fn create(State(state): State<AppState>, visitor: Visitor, body: Bytes) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(TOKENS_PATH)) };
    let form = form_fields(&body);
    let name = form.get("name").map(|name| name.trim().to_owned()).unwrap_or_default();
    let scope = match form.get("role").map(String::as_str) {
        Some("write") => TokenScope::Write,
        _ => TokenScope::Read,
    };
    match issue_token(state.db.as_ref(), &principal.user, &name, scope, &[]).await {
        Ok((secret, token)) => tokens_page(&state, &visitor, principal, Some((token.name, secret)), None).await,
        Err(ApiError::BadRequest(why)) => tokens_page(&state, &visitor, principal, None, Some(why)).await,
        Err(other) => Err(other.into()),
    }
}

/// `POST /settings/tokens/{id}/delete`: revokes one of the user's tokens.
pub async fn revoke(State(state): State<AppState>, visitor: Visitor, Path(id): Path<i64>) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(TOKENS_PATH)) };
    revoke_own_token(state.db.as_ref(), &principal.user, id).await?;
    Ok(Redirect::to(TOKENS_PATH).into_response())
}
