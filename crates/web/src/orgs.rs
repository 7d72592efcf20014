//! Organizations in the browser: creating one (`/organizations/new`, the
//! creator becomes its first admin) and managing its members and their
//! roles (`/organizations/{org}/settings/members`, for the organization's
//! admins and site admins).
//!
//! Who may manage is the access rule's `NamespaceAction::Manage`; adding,
//! changing and removing members go through the same functions as the
//! API (`tessera_hub::orgs`), so an organization always keeps an admin.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use tessera_api::access::{NamespaceAction, authorize_namespace};
use tessera_api::accounts::create_org;
use tessera_api::{ApiError, AppState};
use tessera_db::{OrgRole, User};
use tessera_hub::orgs::{drop_member, org_named, put_member, user_named};

use crate::error::{WebResult, form_refusal};
use crate::render::render;
use crate::session::{Visitor, form_fields, sign_in_first};

/// Where the new-organization form lives.
const NEW_ORG_PATH: &str = "/organizations/new";

/// The members page of `org`.
fn members_path(org: &str) -> String {
    format!("/organizations/{org}/settings/members")
}

#[derive(Debug, Serialize)]
struct NewOrgPage {
    name: String,
    error: Option<String>,
}

/// `GET /organizations/new`.
pub async fn new_form(visitor: Visitor) -> WebResult<Response> {
    if visitor.0.0.is_none() {
        return Ok(sign_in_first(NEW_ORG_PATH));
    }
    Ok(render(&visitor, "new_org.html", &NewOrgPage { name: String::new(), error: None })?.into_response())
}

/// `POST /organizations/new` with `name`: the organization, with the
/// signed-in user as its admin; then its members page.
pub async fn create(State(state): State<AppState>, visitor: Visitor, body: Bytes) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else { return Ok(sign_in_first(NEW_ORG_PATH)) };
    let name = form_fields(&body).get("name").map(|name| name.trim().to_owned()).unwrap_or_default();
    let created = match visitor.0.require_full_write() {
        Ok(_) => create_org(state.db.as_ref(), &name, &principal.user).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(org) => Ok(Redirect::to(&members_path(&org.name)).into_response()),
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            let page = NewOrgPage { name, error: Some(message) };
            Ok(render(&visitor, "new_org.html", &page)?.with_status(status).into_response())
        }
    }
}

#[derive(Debug, Serialize)]
struct MemberRow {
    name: String,
    role: &'static str,
}

#[derive(Debug, Serialize)]
struct MembersPage {
    org: String,
    action: String,
    members: Vec<MemberRow>,
    roles: Vec<&'static str>,
    notice: Option<String>,
    error: Option<String>,
}

async fn members_page(
    state: &AppState,
    visitor: &Visitor,
    org: &User,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> WebResult<Response> {
    let members = state
        .db
        .org_members(org.id)
        .await?
        .into_iter()
        .map(|member| MemberRow { name: member.user.name, role: member.role.as_str() })
        .collect();
    let page = MembersPage {
        org: org.name.clone(),
        action: members_path(&org.name),
        members,
        roles: OrgRole::ALL.iter().map(|role| role.as_str()).collect(),
        notice,
        error,
    };
    Ok(render(visitor, "org_members.html", &page)?.with_status(status).into_response())
}

/// The organization of a members route, if the visitor manages it.
async fn managed_org(state: &AppState, visitor: &Visitor, name: &str) -> WebResult<Option<User>> {
    if visitor.0.0.is_none() {
        return Ok(None);
    }
    let org = org_named(state, name).await?;
    authorize_namespace(state, &visitor.0, &org, NamespaceAction::Manage).await?;
    Ok(Some(org))
}

/// `GET /organizations/{org}/settings/members`: the members and their
/// roles, with forms to add, change and remove.
pub async fn members(State(state): State<AppState>, visitor: Visitor, Path(name): Path<String>) -> WebResult<Response> {
    let Some(org) = managed_org(&state, &visitor, &name).await? else {
        return Ok(sign_in_first(&members_path(&name)));
    };
    members_page(&state, &visitor, &org, StatusCode::OK, None, None).await
}

/// `POST /organizations/{org}/settings/members` with `action` = `set`
/// (`user`, `role`: adds or changes a member) or `remove` (`user`).
pub async fn update_members(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(name): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let Some(org) = managed_org(&state, &visitor, &name).await? else {
        return Ok(sign_in_first(&members_path(&name)));
    };
    let form = form_fields(&body);
    let field = |key: &str| form.get(key).map(|value| value.trim().to_owned()).unwrap_or_default();
    let username = field("user");
    let outcome = async {
        let user = user_named(&state, &username).await?;
        match field("action").as_str() {
            "set" => {
                let role = OrgRole::parse(&field("role"))
                    .ok_or_else(|| ApiError::BadRequest("Choose a role: read, contributor, write or admin".into()))?;
                put_member(&state, &visitor.0, &org, &user, role).await?;
                Ok(format!("{} is now {} of {}.", user.name, role.as_str(), org.name))
            }
            "remove" => {
                drop_member(&state, &visitor.0, &org, &user).await?;
                Ok(format!("{} is no longer a member of {}.", user.name, org.name))
            }
            _ => Err(ApiError::BadRequest("Unknown members action".into())),
        }
    }
    .await;
    match outcome {
        Ok(notice) => members_page(&state, &visitor, &org, StatusCode::OK, Some(notice), None).await,
        Err(error) => {
            let (status, message) = form_refusal(error)?;
            members_page(&state, &visitor, &org, status, None, Some(message)).await
        }
    }
}
