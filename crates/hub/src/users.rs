//! Users: who the caller is (`whoami-v2`) and user profiles (`overview`).

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use tessera_api::access::Viewer;
use tessera_api::auth::{Caller, grants_json};
use tessera_api::time::iso8601;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{RepoType, TokenScope, User};

use crate::access_tokens::hidden_grants;

/// The Hub's 24-hex `_id` for an account.
pub fn account_object_id(account: &User) -> String {
    format!("{:024x}", account.id)
}

/// `GET /api/whoami-v2`: the token's user, their organizations with their
/// roles, and the token's name and role (with its scopes when fine-grained);
/// 401 without a valid token.
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let principal = caller.require()?;
    let user = &principal.user;
    let orgs: Vec<Value> = state
        .db
        .user_orgs(user.id)
        .await?
        .iter()
        .map(|membership| {
            json!({
                "type": "org",
                "id": account_object_id(&membership.org),
                "name": membership.org.name,
                "fullname": membership.org.name,
                "avatarUrl": "",
                "isEnterprise": false,
                "roleInOrg": membership.role.as_str(),
            })
        })
        .collect();
    let token = &principal.token;
    let mut access_token = json!({
        "displayName": token.name,
        "role": token.scope.as_str(),
        "createdAt": iso8601(token.created_at),
    });
    if token.scope == TokenScope::FineGrained {
        let hidden = hidden_grants(&state, &Viewer::new(&state, &caller).await?, token).await?;
        access_token["fineGrained"] =
            json!({ "canReadGatedRepos": true, "global": [], "scoped": grants_json(&token.grants, &hidden) });
    }
    Ok(Json(json!({
        "type": "user",
        "id": account_object_id(user),
        "name": user.name,
        "fullname": user.name,
        "email": null,
        "emailVerified": false,
        "isPro": false,
        "canPay": false,
        "avatarUrl": "",
        "orgs": orgs,
        "auth": { "type": "access_token", "accessToken": access_token },
    })))
}

/// Counts of the repos of `account` the caller may see: `numModels`, `numDatasets`, `numSpaces`.
pub async fn repo_counts(state: &AppState, caller: &Caller, account: &User) -> ApiResult<Value> {
    let viewer = Viewer::new(state, caller).await?;
    let repos = state.db.namespace_repos(account.id).await?;
    let count = |repo_type: RepoType| repos.iter().filter(|r| r.repo_type == repo_type && viewer.can_see(r)).count();
    Ok(json!({
        "numModels": count(RepoType::Model),
        "numDatasets": count(RepoType::Dataset),
        "numSpaces": count(RepoType::Space),
    }))
}

/// `GET /api/users/{name}/overview`: a user's profile; 404 for unknown users (and organizations).
pub async fn overview(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let user = match state.db.user_by_name(&name).await? {
        Some(user) if !user.is_org() => user,
        _ => return Err(ApiError::NotFound(format!("User {name} not found"))),
    };
    let orgs: Vec<Value> = state
        .db
        .user_orgs(user.id)
        .await?
        .iter()
        .map(|membership| json!({ "name": membership.org.name, "fullname": membership.org.name, "avatarUrl": "" }))
        .collect();
    let mut body = json!({
        "_id": account_object_id(&user),
        "type": "user",
        "user": user.name,
        "fullname": user.name,
        "avatarUrl": "",
        "isPro": false,
        "isFollowing": false,
        "numFollowers": 0,
        "numFollowing": 0,
        "numLikes": 0,
        "numPapers": 0,
        "orgs": orgs,
        "createdAt": iso8601(user.created_at),
    });
    merge(&mut body, repo_counts(&state, &caller, &user).await?);
    Ok(Json(body))
}

/// Adds the fields of `extra` (an object) to `body` (an object).
pub fn merge(body: &mut Value, extra: Value) {
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
}
