//! Repositories: create, delete, move, settings, info and listing.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::{NamespaceAction, RepoAction, Viewer, authorize_namespace, repo_following_moves};
use tessera_api::auth::Caller;
use tessera_api::names::valid_repo_name;
use tessera_api::time::{iso8601, now_ms};
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{DbError, Gating, NewRepo, Repo, RepoType, User};

use crate::extract::{RepoPath, flag, next_link, page_bounds, parse_json, repo_object_id, repo_url};
use crate::repo_model::attributes::default_gitattributes;
use crate::repo_model::edit::{GITATTRIBUTES, Operation, build_commit};
use crate::repo_model::tree::{Describer, Node, list};
use crate::repo_model::{self, MAIN_BRANCH, signature_for};

/// Repos per page of a listing.
const LIST_PAGE: usize = 1000;

/// Body of `POST /api/repos/create`.
#[derive(Debug, Deserialize)]
struct CreateRepo {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    repo_type: Option<String>,
    private: Option<bool>,
    visibility: Option<String>,
}

/// Body of `DELETE /api/repos/delete`.
#[derive(Debug, Deserialize)]
struct DeleteRepo {
    name: String,
    organization: Option<String>,
    #[serde(rename = "type")]
    repo_type: Option<String>,
}

/// Body of `POST /api/repos/move`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoveRepo {
    from_repo: String,
    to_repo: String,
    #[serde(rename = "type")]
    repo_type: Option<String>,
}

/// Body of `PUT /api/{type}s/{ns}/{name}/settings`.
#[derive(Debug, Deserialize)]
struct RepoSettings {
    private: Option<bool>,
    visibility: Option<String>,
    /// `"auto"`, `"manual"` or `false`.
    gated: Option<Value>,
}

fn parse_type(repo_type: Option<&str>) -> ApiResult<RepoType> {
    match repo_type {
        None => Ok(RepoType::Model),
        Some(text) => RepoType::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!("Unsupported repo type {text:?}: expected model, dataset or space"))
        }),
    }
}

/// The namespace and name a create/delete body designates (`name` may be `ns/name`).
fn split_name(name: &str, organization: Option<&str>, caller: &Caller) -> ApiResult<(String, String)> {
    let (namespace, name) = match (name.split_once('/'), organization) {
        (Some((namespace, name)), _) => (namespace.to_owned(), name.to_owned()),
        (None, Some(organization)) if !organization.is_empty() => (organization.to_owned(), name.to_owned()),
        (None, _) => (caller.require()?.user.name.clone(), name.to_owned()),
    };
    if !valid_repo_name(&namespace) || !valid_repo_name(&name) {
        return Err(ApiError::BadRequest(format!(
            "Invalid repo name {namespace}/{name}: use 1-96 of [A-Za-z0-9._-], no '--' or '..', not ending in '.git'"
        )));
    }
    Ok((namespace, name))
}

/// The account owning `namespace`, if the caller may create repos there (else 403/404).
async fn creatable_namespace(state: &AppState, caller: &Caller, namespace: &str) -> ApiResult<User> {
    caller.require()?;
    let account = state
        .db
        .user_by_name(namespace)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Namespace {namespace} not found")))?;
    authorize_namespace(state, caller, &account, NamespaceAction::CreateRepo).await?;
    Ok(account)
}

fn visibility_private(private: Option<bool>, visibility: Option<&str>) -> ApiResult<Option<bool>> {
    match visibility {
        Some("private" | "protected") => Ok(Some(true)),
        Some("public") => Ok(Some(false)),
        Some(other) => Err(ApiError::BadRequest(format!("Unknown visibility {other:?}"))),
        None => Ok(private),
    }
}

/// The gating a settings body asks for: `"auto"`, `"manual"` or `false`.
fn requested_gating(gated: &Value) -> ApiResult<Gating> {
    match gated {
        Value::Bool(false) => Ok(Gating::Open),
        Value::String(text) => Gating::from_setting(Some(text.as_str())).ok_or_else(|| {
            ApiError::BadRequest(format!("Invalid gated value {text:?}: expected auto, manual or false"))
        }),
        other => {
            Err(ApiError::BadRequest(format!("Invalid gated value {other}: expected \"auto\", \"manual\" or false")))
        }
    }
}

/// `POST /api/repos/create`: a new repo whose `main` holds one commit with
/// the default `.gitattributes`; 409 with the existing repo's `url`.
pub async fn create(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Json<Value>> {
    let body: CreateRepo = parse_json(&body)?;
    caller.require_write()?;
    let (namespace, name) = split_name(&body.name, body.organization.as_deref(), &caller)?;
    let repo_type = parse_type(body.repo_type.as_deref())?;
    let private = visibility_private(body.private, body.visibility.as_deref())?.unwrap_or(false);
    let repo = create_repo(&state, &caller, repo_type, &namespace, &name, private).await?;
    Ok(Json(json!({ "url": repo_url(&state, &repo), "name": repo.full_name(), "id": repo_object_id(&repo) })))
}

/// Creates a repo for the caller in `namespace` (which they must be allowed
/// to create in): its `main` holds one commit with the default
/// `.gitattributes`. A taken name is a 409 naming the existing repo only
/// if the caller may see it. Shared by the API and the web UI's form.
pub async fn create_repo(
    state: &AppState,
    caller: &Caller,
    repo_type: RepoType,
    namespace: &str,
    name: &str,
    private: bool,
) -> ApiResult<Repo> {
    let principal = caller.require_write()?;
    if !valid_repo_name(name) {
        return Err(ApiError::BadRequest(format!(
            "Invalid repo name {name:?}: use 1-96 of [A-Za-z0-9._-], no '--' or '..', not ending in '.git'"
        )));
    }
    let owner = creatable_namespace(state, caller, namespace).await?;
    let new = NewRepo {
        repo_type,
        namespace: owner.name.clone(),
        name: name.to_owned(),
        private,
        owner_id: owner.id,
        creator_id: principal.user.id,
        created_at: now_ms(),
    };
    let repo = match state.db.create_repo(&new).await {
        Ok(repo) => repo,
        Err(DbError::Conflict { .. }) => {
            // Only a repo the caller may see is named back.
            let existing = state.db.repo(repo_type, &new.namespace, &new.name).await?;
            let visible = match &existing {
                Some(repo) => Viewer::new(state, caller).await?.can_see(repo),
                None => false,
            };
            let url = existing.filter(|_| visible).map(|repo| repo_url(state, &repo));
            return Err(ApiError::Conflict {
                message: format!("You already created this {} repo", repo_type.as_str()),
                url,
            });
        }
        Err(other) => return Err(other.into()),
    };
    let operations = [Operation::Upsert {
        path: GITATTRIBUTES.to_owned(),
        content: default_gitattributes(repo_type).into_bytes(),
        lfs: false,
    }];
    let author = signature_for(&principal.user, new.created_at / 1000);
    let built = build_commit(state.db.as_ref(), None, &operations, &author, "initial commit").await?;
    repo_model::store(state.db.as_ref(), &built.objects).await?;
    let main = format!("refs/heads/{MAIN_BRANCH}");
    if !state.db.update_ref(repo.id, &main, None, Some(built.id)).await? {
        return Err(ApiError::Internal(format!("{main} of the new repo {} already exists", repo.full_name())));
    }
    tracing::info!(
        repo.id = repo.id,
        repo.name = %repo.full_name(),
        repo.kind = repo_type.as_str(),
        repo.private = private,
        user.id = principal.user.id,
        "repo created"
    );
    Ok(repo)
}

/// `DELETE /api/repos/delete`: deletes a repo the caller may write; 404 `RepoNotFound` if missing.
pub async fn delete(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Response> {
    let body: DeleteRepo = parse_json(&body)?;
    caller.require()?;
    let (namespace, name) = split_name(&body.name, body.organization.as_deref(), &caller)?;
    let repo_type = parse_type(body.repo_type.as_deref())?;
    let repo = repo_following_moves(&state, &caller, repo_type, &namespace, &name, RepoAction::Write).await?;
    state.db.delete_repo(repo.id).await?;
    tracing::info!(repo.id = repo.id, repo.name = %repo.full_name(), "repo deleted");
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response())
}

/// `POST /api/repos/move`: renames a repo or moves it to another namespace
/// the caller may create repos in (out of an organization: its admins
/// only). The old name redirects to the new one until a repo takes it.
pub async fn move_repo(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Json<Value>> {
    let body: MoveRepo = parse_json(&body)?;
    caller.require_write()?;
    let repo_type = parse_type(body.repo_type.as_deref())?;
    let split = |id: &str| match id.split_once('/') {
        Some((namespace, name)) if valid_repo_name(namespace) && valid_repo_name(name) => {
            Ok((namespace.to_owned(), name.to_owned()))
        }
        _ => Err(ApiError::BadRequest(format!("Invalid repo id {id:?}: expected namespace/name"))),
    };
    let (from_namespace, from_name) = split(&body.from_repo)?;
    let (to_namespace, to_name) = split(&body.to_repo)?;
    let repo = repo_following_moves(&state, &caller, repo_type, &from_namespace, &from_name, RepoAction::Write).await?;
    let moved = relocate_repo(&state, &caller, &repo, &to_namespace, &to_name).await?;
    Ok(Json(json!({ "url": repo_url(&state, &moved), "name": moved.full_name() })))
}

/// Moves (renames) `repo`, which the caller may write, to
/// `to_namespace/to_name`: the caller must be able to create repos there,
/// and taking a repo out of an organization is for its admins. The old id
/// keeps redirecting.
pub async fn relocate_repo(
    state: &AppState,
    caller: &Caller,
    repo: &Repo,
    to_namespace: &str,
    to_name: &str,
) -> ApiResult<Repo> {
    if !valid_repo_name(to_name) {
        return Err(ApiError::BadRequest(format!("Invalid repo name {to_name:?}")));
    }
    let repo_type = repo.repo_type;
    let owner = creatable_namespace(state, caller, to_namespace).await?;
    if owner.id != repo.owner_id {
        // Taking a repo out of a namespace is its owner's decision: an organization's admins.
        let source = state.db.user_by_id(repo.owner_id).await?.ok_or(ApiError::RepoNotFound)?;
        if source.is_org() {
            authorize_namespace(state, caller, &source, NamespaceAction::Manage).await?;
        }
    }
    let taken = || ApiError::Conflict {
        message: format!("A {} repository called {}/{to_name} already exists", repo_type.as_str(), owner.name),
        url: None,
    };
    if let Some(existing) = state.db.repo(repo_type, &owner.name, to_name).await?
        && existing.id != repo.id
    {
        return Err(taken());
    }
    let moved = match state.db.move_repo(repo.id, &owner.name, to_name, owner.id).await {
        Ok(moved) => moved,
        Err(DbError::Conflict { .. }) => return Err(taken()),
        Err(other) => return Err(other.into()),
    };
    state.db.touch_repo(repo.id, now_ms()).await?;
    tracing::info!(repo.id = repo.id, repo.from = %repo.full_name(), repo.to = %moved.full_name(), "repo moved");
    Ok(moved)
}

/// `PUT /api/{type}s/{ns}/{name}/settings`: visibility (`private` or
/// `visibility`) and gating (`gated`); other settings are ignored.
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let settings: RepoSettings = parse_json(&body)?;
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let private = visibility_private(settings.private, settings.visibility.as_deref())?;
    let gating = settings.gated.as_ref().map(requested_gating).transpose()?;
    apply_settings(&state, &repo, private, gating).await?;
    Ok(Json(json!({})))
}

/// Sets a repo's visibility and gating (each when given), for the API's
/// and the web UI's settings alike.
pub async fn apply_settings(
    state: &AppState,
    repo: &Repo,
    private: Option<bool>,
    gating: Option<Gating>,
) -> ApiResult<()> {
    if let Some(private) = private {
        state.db.set_repo_private(repo.id, private).await?;
        tracing::info!(repo.id = repo.id, repo.name = %repo.full_name(), repo.private = private, "repo visibility set");
    }
    if let Some(gating) = gating {
        state.db.set_repo_gating(repo.id, gating).await?;
        tracing::info!(repo.id = repo.id, repo.name = %repo.full_name(), repo.gated = ?gating, "repo gating set");
    }
    if private.is_some() || gating.is_some() {
        state.db.touch_repo(repo.id, now_ms()).await?;
    }
    Ok(())
}

/// `GET /api/{type}s/{ns}/{name}[/revision/{rev}]`: repo info at a revision
/// (default `main`), with `siblings`; `?blobs=true` adds sizes, blob ids and LFS facts.
pub async fn info(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let repo = route.authorized(&state, &caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let resolved = match repo_model::resolve_revision(db, repo.id, route.revision()).await {
        Ok(resolved) => Some(resolved),
        // A repo without `main` (emptied over git) still has info.
        Err(ApiError::RevisionNotFound(_)) if route.param("rev").is_empty() => None,
        Err(error) => return Err(error),
    };

    let mut body = repo_summary(&repo);
    body["siblings"] = json!([]);
    if let Some(resolved) = resolved {
        body["sha"] = json!(resolved.id.hex());
        body["lastModified"] = json!(iso8601(resolved.commit.committer.time * 1000));
        let blobs = flag(&query, "blobs");
        let mut describer = Describer::new(db, repo.id);
        let nodes = list(db, &Node::root(resolved.commit.tree), true).await?;
        if blobs {
            describer
                .prefetch(&nodes.iter().filter(|node| !node.is_dir()).map(|node| node.id).collect::<Vec<_>>())
                .await?;
        }
        let mut siblings = Vec::new();
        for node in nodes {
            if node.is_dir() {
                continue;
            }
            let mut sibling = json!({ "rfilename": node.path });
            if blobs {
                let details = describer.describe(node.id).await?;
                sibling["size"] = json!(details.size);
                sibling["blobId"] = json!(details.blob_id.hex());
                if let Some(lfs) = details.lfs {
                    sibling["lfs"] = json!({ "size": lfs.size, "sha256": lfs.sha256, "pointerSize": lfs.pointer_size });
                }
            }
            siblings.push(sibling);
        }
        body["siblings"] = Value::Array(siblings);
    }
    Ok(Json(body))
}

/// `GET /api/{type}s/{ns}/{name}/auth-check[/write]`: 200 when the caller
/// may read (or write) the repo, else the error `repo_info` would give.
pub async fn auth_check(State(state): State<AppState>, caller: Caller, route: RepoPath) -> ApiResult<Json<Value>> {
    let action = if route.param("write") == "write" { RepoAction::Write } else { RepoAction::See };
    route.authorized(&state, &caller, action).await?;
    Ok(Json(json!({})))
}

/// The fields every repo description shares.
pub fn repo_summary(repo: &Repo) -> Value {
    json!({
        "_id": repo_object_id(repo),
        "id": repo.full_name(),
        "author": repo.namespace,
        "private": repo.private,
        "gated": repo.gating.as_setting().map_or(json!(false), |gating| json!(gating)),
        "disabled": false,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "createdAt": iso8601(repo.created_at),
        "lastModified": iso8601(repo.updated_at),
        "xetEnabled": true,
    })
}

/// `GET /api/{type}s`: repos the caller may see, filtered by `author` and
/// `search` (substring of the id), paginated with an absolute `Link`.
pub async fn list_repos(
    State(state): State<AppState>,
    caller: Caller,
    Path(plural): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
) -> ApiResult<Response> {
    let repo_type = RepoType::from_plural(&plural).ok_or_else(|| ApiError::NotFound("Not found".into()))?;
    let author = query.get("author").filter(|author| !author.is_empty());
    let search = query.get("search").map(|search| search.to_lowercase()).filter(|search| !search.is_empty());
    let viewer = Viewer::new(&state, &caller).await?;
    let mut repos: Vec<Repo> = state
        .db
        .list_repos(repo_type)
        .await?
        .into_iter()
        .filter(|repo| viewer.can_see(repo))
        .filter(|repo| author.is_none_or(|author| repo.namespace.eq_ignore_ascii_case(author)))
        .filter(|repo| search.as_ref().is_none_or(|search| repo.full_name().to_lowercase().contains(search)))
        .collect();
    if query.get("sort").is_some_and(|sort| sort == "lastModified" || sort == "createdAt") {
        let by_created = query.get("sort").is_some_and(|sort| sort == "createdAt");
        repos.sort_by_key(|repo| std::cmp::Reverse(if by_created { repo.created_at } else { repo.updated_at }));
    }
    if let Some(limit) = query.get("limit").and_then(|limit| limit.parse::<usize>().ok()) {
        repos.truncate(limit);
    }
    let (start, end) = page_bounds(&query, repos.len(), LIST_PAGE);
    let items: Vec<Value> = repos[start..end].iter().map(repo_summary).collect();
    let mut headers = HeaderMap::new();
    if end < repos.len() {
        headers.insert(header::LINK, next_link(&state, &uri, &end.to_string())?);
    }
    Ok((headers, Json(Value::Array(items))).into_response())
}
