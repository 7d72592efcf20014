//! Refs: the listing, branches and tags.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::RepoAction;
use tessera_api::auth::Caller;
use tessera_api::time::{now_ms, now_secs};
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::GitObject;
use tessera_formats::git::ObjectKind;

use crate::extract::{RepoPath, flag, parse_json};
use crate::repo_model::{self, MAIN_BRANCH, ref_commit, resolve_revision, signature_for, valid_ref_component};

/// Body of `POST …/branch/{branch}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBranch {
    starting_point: Option<String>,
}

/// Body of `POST …/tag/{rev}`.
#[derive(Debug, Deserialize)]
struct CreateTag {
    tag: String,
    message: Option<String>,
}

/// `GET /api/{type}s/{ns}/{name}/refs[?include_prs=1]`: branches, tags, converts (and pull requests).
pub async fn list_refs(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let repo = route.authorized(&state, &caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let (mut branches, mut tags, mut converts, mut pulls) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, _) in db.refs(repo.id).await? {
        let Some(target) = ref_commit(db, repo.id, &name).await? else { continue };
        let (list, short) = if let Some(short) = name.strip_prefix("refs/heads/") {
            (&mut branches, short.to_owned())
        } else if let Some(short) = name.strip_prefix("refs/tags/") {
            (&mut tags, short.to_owned())
        } else if let Some(short) = name.strip_prefix("refs/convert/") {
            (&mut converts, short.to_owned())
        } else if name.starts_with("refs/pr/") {
            (&mut pulls, name.clone())
        } else {
            continue;
        };
        list.push(json!({ "name": short, "ref": name, "targetCommit": target.hex() }));
    }
    let mut body = json!({ "branches": branches, "converts": converts, "tags": tags });
    if flag(&query, "include_prs") {
        body["pullRequests"] = Value::Array(pulls);
    }
    Ok(Json(body))
}

fn check_name(kind: &str, name: &str) -> ApiResult<()> {
    if name.starts_with("refs/") {
        return Err(ApiError::BadRequest(format!("Invalid reference for a {kind}: {name}")));
    }
    if !valid_ref_component(name) {
        return Err(ApiError::BadRequest(format!("Invalid {kind} name {name:?}")));
    }
    Ok(())
}

/// `POST /api/{type}s/{ns}/{name}/branch/{branch}`: a branch at
/// `startingPoint` (default: the head of `main`); 409 if it exists.
pub async fn create_branch(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let request: CreateBranch = parse_json(&body)?;
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let branch = route.param("branch");
    check_name("branch", branch)?;
    let db = state.db.as_ref();
    let start = request.starting_point.as_deref().unwrap_or(MAIN_BRANCH);
    let target = resolve_revision(db, repo.id, start).await?;
    let name = format!("refs/heads/{branch}");
    if !db.update_ref(repo.id, &name, None, Some(target.id)).await? {
        return Err(ApiError::Conflict { message: format!("Reference {name} already exists"), url: None });
    }
    db.touch_repo(repo.id, now_ms()).await?;
    tracing::info!(repo.id = repo.id, git.ref = %name, commit.id = %target.id, "branch created");
    Ok(Json(json!({})))
}

/// `DELETE /api/{type}s/{ns}/{name}/branch/{branch}`: never `main`; 404 `RevisionNotFound` if missing.
pub async fn delete_branch(State(state): State<AppState>, caller: Caller, route: RepoPath) -> ApiResult<Json<Value>> {
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let branch = route.param("branch");
    let name = repo_model::branch_ref_name(branch);
    if name == format!("refs/heads/{MAIN_BRANCH}") {
        return Err(ApiError::Forbidden(format!("Cannot delete {name}")));
    }
    delete_ref(&state, repo.id, &name, branch).await?;
    tracing::info!(repo.id = repo.id, git.ref = %name, "branch deleted");
    Ok(Json(json!({})))
}

/// Deletes a ref by compare-and-swap; 404 `RevisionNotFound` when it does not exist.
async fn delete_ref(state: &AppState, repo_id: i64, name: &str, shown: &str) -> ApiResult<()> {
    for _ in 0..5 {
        let Some(target) = state.db.ref_target(repo_id, name).await? else {
            return Err(ApiError::RevisionNotFound(shown.to_owned()));
        };
        if state.db.update_ref(repo_id, name, Some(target), None).await? {
            state.db.touch_repo(repo_id, now_ms()).await?;
            return Ok(());
        }
    }
    Err(ApiError::Conflict { message: format!("{name} is being updated concurrently"), url: None })
}

/// `POST /api/{type}s/{ns}/{name}/tag/{rev}` with `{"tag", "message"?}`:
/// tags the revision (annotated when a message is given); 409 if the tag exists.
pub async fn create_tag(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let request: CreateTag = parse_json(&body)?;
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let principal = caller.require_write()?;
    check_name("tag", &request.tag)?;
    let db = state.db.as_ref();
    let target = resolve_revision(db, repo.id, route.revision()).await?;
    let name = format!("refs/tags/{}", request.tag);
    let ref_target = match request.message.as_deref().filter(|message| !message.is_empty()) {
        Some(message) => {
            let tagger = signature_for(&principal.user, now_secs());
            let content = format!(
                "object {}\ntype commit\ntag {}\ntagger {} <{}> {} {}\n\n{}\n",
                target.id,
                request.tag,
                tagger.name,
                tagger.email,
                tagger.time,
                tagger.offset,
                message.trim_end_matches('\n')
            );
            let object = GitObject::new(ObjectKind::Tag, content.into_bytes());
            let id = object.id;
            repo_model::store(db, &[object]).await?;
            id
        }
        None => target.id,
    };
    if !db.update_ref(repo.id, &name, None, Some(ref_target)).await? {
        return Err(ApiError::Conflict { message: format!("Reference {name} already exists"), url: None });
    }
    db.touch_repo(repo.id, now_ms()).await?;
    tracing::info!(repo.id = repo.id, git.ref = %name, commit.id = %target.id, "tag created");
    Ok(Json(json!({})))
}

/// `DELETE /api/{type}s/{ns}/{name}/tag/{tag}` (the route parameter is `rev`): 404 `RevisionNotFound` if missing.
pub async fn delete_tag(State(state): State<AppState>, caller: Caller, route: RepoPath) -> ApiResult<Json<Value>> {
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let tag = route.param("rev");
    let name = if tag.starts_with("refs/tags/") { tag.to_owned() } else { format!("refs/tags/{tag}") };
    delete_ref(&state, repo.id, &name, tag).await?;
    tracing::info!(repo.id = repo.id, git.ref = %name, "tag deleted");
    Ok(Json(json!({})))
}
