//! Profiles of users and organizations at `/{name}`: their repos the
//! visitor may see, and an organization's members.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_api::access::Viewer;
use tessera_api::{ApiError, AppState};
use tessera_db::OrgRole;

use crate::error::WebResult;
use crate::render::render;
use crate::repos::RepoSummary;
use crate::session::Visitor;

#[derive(Debug, Serialize)]
struct Member {
    name: String,
    role: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct ProfilePage {
    name: String,
    full_name: Option<String>,
    /// An organization's members page link, for those who manage it.
    manage_url: Option<String>,
    kind: &'static str,
    repos: Vec<RepoSummary>,
    members: Vec<Member>,
}

/// `GET /{name}`: a user's or an organization's page.
pub async fn show(State(state): State<AppState>, visitor: Visitor, Path(name): Path<String>) -> WebResult<Response> {
    let caller = &visitor.0;
    let account = state.db.user_by_name(&name).await?.ok_or_else(|| ApiError::NotFound(format!("{name} not found")))?;
    let viewer = Viewer::new(&state, caller).await?;
    let mut repos: Vec<_> =
        state.db.namespace_repos(account.id).await?.into_iter().filter(|r| viewer.can_see(r)).collect();
    repos.sort_by_key(|repo| std::cmp::Reverse(repo.updated_at));
    let mut members = Vec::new();
    if account.is_org() {
        let show_roles = caller.0.as_ref().is_some_and(|p| p.user.is_admin) || viewer.role_in(account.id).is_some();
        for member in state.db.org_members(account.id).await? {
            members.push(Member { name: member.user.name, role: show_roles.then(|| member.role.as_str()) });
        }
    }
    let manages = account.is_org()
        && caller.0.as_ref().is_some_and(|p| p.user.is_admin || viewer.role_in(account.id) == Some(OrgRole::Admin));
    let page = ProfilePage {
        full_name: state.db.full_name(account.id).await?,
        manage_url: manages.then(|| format!("/organizations/{}/settings/members", account.name)),
        kind: if account.is_org() { "Organization" } else { "User" },
        name: account.name,
        repos: repos.iter().map(RepoSummary::of).collect(),
        members,
    };
    Ok(render(&visitor, "profile.html", &page)?.into_response())
}
