//! Gated repos: users ask for access, maintainers review the requests.
//! Who may download is decided by the access rule, which reads the
//! accepted requests these routes record.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tessera_api::access::RepoAction;
use tessera_api::auth::Caller;
use tessera_api::time::iso8601;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{AccessRequest, AccessStatus, Gating, Repo};

use crate::extract::{RepoPath, form_pairs, parse_json};
use crate::orgs::user_named;

/// Body of `user-access-request/handle` and `/grant`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HandleRequest {
    user: Option<String>,
    request_id: Option<String>,
    status: Option<String>,
    rejection_reason: Option<String>,
}

fn require_gated(repo: &Repo) -> ApiResult<()> {
    if repo.gating == Gating::Open {
        return Err(ApiError::BadRequest(format!("{} is not a gated repo", repo.full_name())));
    }
    Ok(())
}

/// The gated repo a route names, if the caller may review its requests (writers).
async fn reviewed_repo(state: &AppState, caller: &Caller, route: &RepoPath) -> ApiResult<Repo> {
    let repo = route.authorized(state, caller, RepoAction::Write).await?;
    require_gated(&repo)?;
    Ok(repo)
}

fn request_json(request: &AccessRequest) -> Value {
    let fields = request.fields.as_deref().and_then(|fields| serde_json::from_str::<Value>(fields).ok());
    json!({
        "user": { "user": request.user.name, "fullname": request.user.name, "avatarUrl": "", "email": null },
        "requestId": request.id.to_string(),
        "status": request.status.as_str(),
        "timestamp": iso8601(request.updated_at),
        "fields": fields,
    })
}

/// `POST /api/{type}s/{ns}/{name}/ask-access` with the form's fields (JSON
/// or form-encoded): a signed-in user asks to download a gated repo;
/// `auto` gating accepts at once.
pub async fn ask(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let repo = route.authorized(&state, &caller, RepoAction::See).await?;
    let principal = caller.require()?;
    require_gated(&repo)?;
    let is_json = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|t| t.contains("json"));
    let fields: Map<String, Value> = if is_json {
        parse_json(&body)?
    } else {
        form_pairs(&body).into_iter().map(|(key, value)| (key, Value::String(value))).collect()
    };
    let fields = serde_json::to_string(&fields).map_err(ApiError::internal)?;
    let current = state.db.access_request(repo.id, principal.user.id).await?;
    let status = match (repo.gating, current.map(|request| request.status)) {
        (_, Some(AccessStatus::Accepted)) | (Gating::Auto, _) => AccessStatus::Accepted,
        (_, Some(AccessStatus::Rejected)) => AccessStatus::Rejected,
        _ => AccessStatus::Pending,
    };
    let request = state.db.put_access_request(repo.id, principal.user.id, status, Some(&fields)).await?;
    tracing::info!(repo.id = repo.id, user.id = principal.user.id, access.status = status.as_str(), "access requested");
    Ok(Json(json!({ "status": request.status.as_str() })))
}

/// `GET /api/{type}s/{ns}/{name}/user-access-request/{status}`: the requests in one status (maintainers).
pub async fn list(State(state): State<AppState>, caller: Caller, route: RepoPath) -> ApiResult<Json<Value>> {
    let repo = reviewed_repo(&state, &caller, &route).await?;
    let status = AccessStatus::parse(route.param("status"))
        .ok_or_else(|| ApiError::NotFound(format!("Unknown status {:?}", route.param("status"))))?;
    let requests = state.db.access_requests(repo.id, status).await?;
    Ok(Json(Value::Array(requests.iter().map(request_json).collect())))
}

/// `POST /api/{type}s/{ns}/{name}/user-access-request/handle` with
/// `{"user" | "requestId", "status"}`: moves a request to `accepted`,
/// `rejected` or back to `pending` (maintainers).
pub async fn handle(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let repo = reviewed_repo(&state, &caller, &route).await?;
    let body: HandleRequest = parse_json(&body)?;
    let status = body
        .status
        .as_deref()
        .and_then(AccessStatus::parse)
        .ok_or_else(|| ApiError::BadRequest("status must be one of accepted, rejected or pending".into()))?;
    if body.rejection_reason.is_some() && status != AccessStatus::Rejected {
        return Err(ApiError::BadRequest("rejectionReason goes with status rejected only".into()));
    }
    let request = match (&body.user, &body.request_id) {
        (Some(user), None) => {
            let user = user_named(&state, user).await?;
            state.db.access_request(repo.id, user.id).await?
        }
        (None, Some(id)) => match id.parse::<i64>() {
            Ok(id) => state.db.access_request_by_id(repo.id, id).await?,
            Err(_) => None,
        },
        _ => return Err(ApiError::BadRequest("Give one of user or requestId".into())),
    };
    let request = request.ok_or_else(|| ApiError::NotFound("Access request not found".into()))?;
    if request.status == status {
        // As huggingface.co: a request already in the target list is not found there to move.
        return Err(ApiError::NotFound(format!("The access request is already {}", status.as_str())));
    }
    let updated = state.db.put_access_request(repo.id, request.user.id, status, None).await?;
    tracing::info!(
        repo.id = repo.id,
        user.id = request.user.id,
        access.status = status.as_str(),
        "access request handled"
    );
    Ok(Json(request_json(&updated)))
}

/// `POST /api/{type}s/{ns}/{name}/user-access-request/grant` with `{"user"}`:
/// accepts a user who did not ask (maintainers); 400 if they already have access.
pub async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let repo = reviewed_repo(&state, &caller, &route).await?;
    let body: HandleRequest = parse_json(&body)?;
    let name = body.user.ok_or_else(|| ApiError::BadRequest("user is required".into()))?;
    let user = user_named(&state, &name).await?;
    let current = state.db.access_request(repo.id, user.id).await?;
    if current.is_some_and(|request| request.status == AccessStatus::Accepted) {
        return Err(ApiError::BadRequest(format!("{} already has access to {}", user.name, repo.full_name())));
    }
    state.db.put_access_request(repo.id, user.id, AccessStatus::Accepted, None).await?;
    tracing::info!(repo.id = repo.id, user.id = user.id, "access granted");
    Ok(Json(json!({})))
}
