//! The signed-in user's settings: access tokens (`/settings/tokens`):
//! list, create a read, write or fine-grained token (its secret shown
//! once, never stored), revoke. A fine-grained token names the repos and
//! namespaces it reaches; the user must be able to reach each of them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use tessera_api::access::{Viewer, reachable_grant};
use tessera_api::auth::{HIDDEN_REPO, Principal, issue_token, revoke_own_token};
use tessera_api::time::iso8601;
use tessera_api::{ApiError, AppState};
use tessera_db::{GrantTarget, TokenGrant, TokenScope, User};

use crate::error::{WebResult, form_refusal};
use crate::render::render;
use crate::session::{Visitor, form_fields, sign_in_first};

/// Where the tokens page lives.
const TOKENS_PATH: &str = "/settings/tokens";

#[derive(Debug, Serialize)]
struct TokenRow {
    id: i64,
    name: String,
    role: &'static str,
    /// What a fine-grained token reaches, e.g. `acme/model (write)`.
    reaches: Vec<String>,
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
    let viewer = Viewer::new(state, &visitor.0).await?;
    let mut tokens = Vec::new();
    for token in state.db.tokens(principal.user.id).await? {
        let mut reaches = Vec::new();
        for grant in &token.grants {
            let access = if grant.write { "write" } else { "read" };
            let target = match &grant.target {
                GrantTarget::Repo { id, repo_type, full_name } => {
                    // A repo the user can no longer see is not named (its new name could tell where it went).
                    let visible = state.db.repo_by_id(*id).await?.is_some_and(|repo| viewer.can_see(&repo));
                    if visible { format!("{}{full_name}", repo_type.url_prefix()) } else { HIDDEN_REPO.to_owned() }
                }
                GrantTarget::Namespace { name, .. } => format!("{name}/*"),
            };
            reaches.push(format!("{target} ({access})"));
        }
        tokens.push(TokenRow {
            id: token.id,
            name: token.name,
            role: token.scope.as_str(),
            reaches,
            created: iso8601(token.created_at),
        });
    }
    let mut response = render(visitor, "tokens.html", &TokensPage { tokens, created, error })?.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /settings/tokens`.
pub async fn tokens(State(state): State<AppState>, visitor: Visitor) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(TOKENS_PATH)) };
    tokens_page(&state, &visitor, principal, None, None).await
}

/// One line of a fine-grained token's targets: `ns/name`,
/// `datasets/ns/name` or `spaces/ns/name` for a repo, `ns/*` for every
/// repo of a namespace; `:write` after it for write access (`:read` is the
/// default). Returns the grant's kind, name and whether it writes.
fn parse_target(line: &str) -> Result<(&'static str, &str, bool), ApiError> {
    let (target, write) = match line.rsplit_once(':') {
        Some((target, "write")) => (target, true),
        Some((target, "read")) => (target, false),
        Some((_, other)) => {
            return Err(ApiError::BadRequest(format!("Unknown access {other:?} in {line:?}: use read or write")));
        }
        None => (line, false),
    };
    if let Some(namespace) = target.strip_suffix("/*") {
        return Ok(("namespace", namespace, write));
    }
    Ok(match target.split_once('/') {
        Some(("datasets", rest)) => ("dataset", rest, write),
        Some(("spaces", rest)) => ("space", rest, write),
        Some(("models", rest)) => ("model", rest, write),
        _ => ("model", target, write),
    })
}

/// The grants of a fine-grained token's `targets` field (one per line),
/// each reachable by `user`.
async fn requested_grants(state: &AppState, user: &User, targets: &str) -> Result<Vec<TokenGrant>, ApiError> {
    let mut grants = Vec::new();
    for line in targets.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (kind, name, write) = parse_target(line)?;
        grants.push(reachable_grant(state, user, kind, name, write).await?);
    }
    Ok(grants)
}

/// `POST /settings/tokens` with `name`, `role` (`read`, `write` or
/// `fine-grained`) and, for fine-grained, `targets`: a new token, shown once.
pub async fn create(State(state): State<AppState>, visitor: Visitor, body: Bytes) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(TOKENS_PATH)) };
    let form = form_fields(&body);
    let name = form.get("name").map(|name| name.trim().to_owned()).unwrap_or_default();
    let (scope, targets) = match form.get("role").map(String::as_str) {
        Some("write") => (TokenScope::Write, ""),
        Some("fine-grained") => (TokenScope::FineGrained, form.get("targets").map(String::as_str).unwrap_or_default()),
        _ => (TokenScope::Read, ""),
    };
    let issued = match visitor.0.require_full_write() {
        Ok(_) => match requested_grants(&state, &principal.user, targets).await {
            Ok(grants) => issue_token(state.db.as_ref(), &principal.user, &name, scope, &grants).await,
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    match issued {
        Ok((secret, token)) => tokens_page(&state, &visitor, principal, Some((token.name, secret)), None).await,
        Err(error) => {
            let (_, message) = form_refusal(error)?;
            tokens_page(&state, &visitor, principal, None, Some(message)).await
        }
    }
}

/// `POST /settings/tokens/{id}/delete`: revokes one of the user's tokens.
pub async fn revoke(State(state): State<AppState>, visitor: Visitor, Path(id): Path<i64>) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(TOKENS_PATH)) };
    revoke_own_token(state.db.as_ref(), &principal.user, id).await?;
    Ok(Redirect::to(TOKENS_PATH).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_lines_name_repos_and_namespaces() {
        assert_eq!(parse_target("acme/model").unwrap(), ("model", "acme/model", false));
        assert_eq!(parse_target("datasets/acme/data:write").unwrap(), ("dataset", "acme/data", true));
        assert_eq!(parse_target("spaces/acme/demo:read").unwrap(), ("space", "acme/demo", false));
        assert_eq!(parse_target("acme/*:write").unwrap(), ("namespace", "acme", true));
        assert!(parse_target("acme/model:admin").is_err());
    }
}
