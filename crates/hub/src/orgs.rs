//! Organizations: profiles, member lists, and member management by the
//! organization's admins (or site admins).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::{NamespaceAction, authorize_namespace};
use tessera_api::auth::Caller;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{OrgRole, User};

use crate::extract::parse_json;
use crate::users::{account_object_id, merge, repo_counts};

/// Body of `PUT /api/organizations/{org}/members/{user}`.
#[derive(Debug, Deserialize)]
struct MemberRole {
    role: String,
}

/// The organization `name`, or 404.
pub async fn org_named(state: &AppState, name: &str) -> ApiResult<User> {
    match state.db.user_by_name(name).await? {
        Some(org) if org.is_org() => Ok(org),
        _ => Err(ApiError::NotFound(format!("Organization {name} not found"))),
    }
}

/// The user `name`, or 404.
pub async fn user_named(state: &AppState, name: &str) -> ApiResult<User> {
    match state.db.user_by_name(name).await? {
        Some(user) if !user.is_org() => Ok(user),
        _ => Err(ApiError::NotFound(format!("User {name} not found"))),
    }
}

/// `GET /api/organizations/{org}/overview`: an organization's profile.
pub async fn overview(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = org_named(&state, &name).await?;
    let members = state.db.org_members(org.id).await?;
    let mut body = json!({
        "_id": account_object_id(&org),
        "type": "org",
        "name": org.name,
        "fullname": org.name,
        "avatarUrl": "",
        "isVerified": false,
        "isFollowing": false,
        "isEnterprise": false,
        "numUsers": members.len(),
        "numFollowers": 0,
        "numPapers": 0,
    });
    merge(&mut body, repo_counts(&state, &caller, &org).await?);
    Ok(Json(body))
}

/// `GET /api/organizations/{org}/members`: the members, with their roles
/// shown to members and site admins only.
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let org = org_named(&state, &name).await?;
    let members = state.db.org_members(org.id).await?;
    let show_roles = caller.0.as_ref().is_some_and(|principal| {
        principal.user.is_admin || members.iter().any(|member| member.user.id == principal.user.id)
    });
    let items: Vec<Value> = members
        .iter()
        .map(|member| {
            let mut item = json!({
                "_id": account_object_id(&member.user),
                "type": "user",
                "user": member.user.name,
                "fullname": member.user.name,
                "avatarUrl": "",
                "isPro": false,
                "isFollowing": false,
            });
            if show_roles {
                item["role"] = json!(member.role.as_str());
            }
            item
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

/// `PUT /api/organizations/{org}/members/{user}` with `{"role"}`: adds a
/// member or changes their role (organization admins and site admins).
pub async fn set_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: MemberRole = parse_json(&body)?;
    let role = OrgRole::parse(&body.role).ok_or_else(|| {
        ApiError::BadRequest(format!("Unknown role {:?}: expected read, contributor, write or admin", body.role))
    })?;
    let org = org_named(&state, &org).await?;
    let user = user_named(&state, &user).await?;
    put_member(&state, &caller, &org, &user, role).await?;
    Ok(Json(json!({ "user": user.name, "role": role.as_str() })))
}

/// `DELETE /api/organizations/{org}/members/{user}`: removes a member
/// (organization admins, site admins, or the member leaving).
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let org = org_named(&state, &org).await?;
    let user = user_named(&state, &user).await?;
    drop_member(&state, &caller, &org, &user).await?;
    Ok(Json(json!({})))
}

/// Adds `user` to `org` with `role`, or changes their role, if the caller
/// manages `org`; an organization always keeps an admin.
pub async fn put_member(state: &AppState, caller: &Caller, org: &User, user: &User, role: OrgRole) -> ApiResult<()> {
    authorize_namespace(state, caller, org, NamespaceAction::Manage).await?;
    let current = state.db.member_role(org.id, user.id).await?;
    if current == Some(OrgRole::Admin) && role != OrgRole::Admin {
        ensure_another_admin(state, org, user).await?;
    }
    state.db.set_member(org.id, user.id, role).await?;
    tracing::info!(org.id = org.id, user.id = user.id, org.role = role.as_str(), "organization member set");
    Ok(())
}

/// Removes `user` from `org`, if the caller manages `org` or is `user`
/// leaving; an organization always keeps an admin.
pub async fn drop_member(state: &AppState, caller: &Caller, org: &User, user: &User) -> ApiResult<()> {
    let leaving = caller.require_full_write()?.user.id == user.id;
    if !leaving {
        authorize_namespace(state, caller, org, NamespaceAction::Manage).await?;
    }
    if state.db.member_role(org.id, user.id).await? == Some(OrgRole::Admin) {
        ensure_another_admin(state, org, user).await?;
    }
    if !state.db.remove_member(org.id, user.id).await? {
        return Err(ApiError::NotFound(format!("{} is not a member of {}", user.name, org.name)));
    }
    tracing::info!(org.id = org.id, user.id = user.id, "organization member removed");
    Ok(())
}

/// 409 unless `org` keeps an admin other than `user`.
async fn ensure_another_admin(state: &AppState, org: &User, user: &User) -> ApiResult<()> {
    let members = state.db.org_members(org.id).await?;
    if members.iter().any(|member| member.role == OrgRole::Admin && member.user.id != user.id) {
        Ok(())
    } else {
        Err(ApiError::Conflict { message: format!("{} must keep at least one admin", org.name), url: None })
    }
}
