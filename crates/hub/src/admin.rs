//! The admin JSON API (site admins): users and organizations, the same
//! operations as `tessera admin …`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::require_site_admin;
use tessera_api::accounts;
use tessera_api::auth::{Caller, issue_token};
use tessera_api::time::iso8601;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{AccountKind, TokenScope};

use crate::extract::parse_json;
use crate::orgs::user_named;

/// Body of `POST /api/admin/users`.
#[derive(Debug, Deserialize)]
struct NewUser {
    name: String,
    #[serde(default)]
    admin: bool,
}

/// Body of `POST /api/admin/organizations`.
#[derive(Debug, Deserialize)]
struct NewOrg {
    name: String,
    owner: String,
}

/// `GET /api/admin/users`.
pub async fn list_users(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    require_site_admin(&caller)?;
    let users = state.db.list_accounts(AccountKind::User).await?;
    Ok(Json(Value::Array(
        users
            .iter()
            .map(|user| {
                json!({
                    "name": user.name,
                    "isAdmin": user.is_admin,
                    "disabled": user.disabled,
                    "createdAt": iso8601(user.created_at),
                })
            })
            .collect(),
    )))
}

/// `POST /api/admin/users` with `{"name", "admin"?}`: a new user and their first write token.
pub async fn create_user(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Json<Value>> {
    require_site_admin(&caller)?;
    let body: NewUser = parse_json(&body)?;
    let user = accounts::create_user(state.db.as_ref(), &body.name, body.admin).await?;
    let (secret, _) = issue_token(state.db.as_ref(), &user, "admin-api", TokenScope::Write, &[]).await?;
    Ok(Json(json!({ "name": user.name, "token": secret })))
}

/// `POST /api/admin/users/{name}/{disable|enable}`: every token of a disabled user stops working at once.
pub async fn set_disabled(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, action)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let principal = require_site_admin(&caller)?;
    let disabled = match action.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(ApiError::NotFound("Not found".into())),
    };
    let user = user_named(&state, &name).await?;
    if disabled && user.id == principal.user.id {
        return Err(ApiError::BadRequest("You cannot disable yourself".into()));
    }
    state.db.set_user_disabled(user.id, disabled).await?;
    tracing::info!(user.id = user.id, user.disabled = disabled, "user disabled state set");
    Ok(Json(json!({ "name": user.name, "disabled": disabled })))
}

/// `DELETE /api/admin/users/{name}`: deletes a user who owns no repos.
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    require_site_admin(&caller)?;
    let user = user_named(&state, &name).await?;
    accounts::delete_account(state.db.as_ref(), &user).await?;
    Ok(Json(json!({})))
}

/// `GET /api/admin/organizations`.
pub async fn list_orgs(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    require_site_admin(&caller)?;
    let mut items = Vec::new();
    for org in state.db.list_accounts(AccountKind::Org).await? {
        let members = state.db.org_members(org.id).await?.len();
        items.push(json!({ "name": org.name, "numUsers": members, "createdAt": iso8601(org.created_at) }));
    }
    Ok(Json(Value::Array(items)))
}

/// `POST /api/admin/organizations` with `{"name", "owner"}`: a new organization whose first admin is `owner`.
pub async fn create_org(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Json<Value>> {
    require_site_admin(&caller)?;
    let body: NewOrg = parse_json(&body)?;
    let owner = user_named(&state, &body.owner).await?;
    let org = accounts::create_org(state.db.as_ref(), &body.name, &owner).await?;
    Ok(Json(json!({ "name": org.name })))
}
