//! Repositories: create, delete, settings, info and listing.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::{can_create_in, can_read, repo_for_write};
use tessera_api::auth::Caller;
use tessera_api::time::{iso8601, now_ms};
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{DbError, NewRepo, Repo, RepoType};

use crate::extract::{RepoPath, flag, next_link, page_bounds, parse_json, repo_object_id, repo_url, valid_repo_name};
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

/// Body of `PUT /api/{type}s/{ns}/{name}/settings`.
#[derive(Debug, Deserialize)]
struct RepoSettings {
    private: Option<bool>,
    visibility: Option<String>,
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

fn visibility_private(private: Option<bool>, visibility: Option<&str>) -> ApiResult<Option<bool>> {
    match visibility {
        Some("private" | "protected") => Ok(Some(true)),
        Some("public") => Ok(Some(false)),
        Some(other) => Err(ApiError::BadRequest(format!("Unknown visibility {other:?}"))),
        None => Ok(private),
    }
}

/// `POST /api/repos/create`: a new repo whose `main` holds one commit with
/// the default `.gitattributes`; 409 with the existing repo's `url`.
pub async fn create(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Json<Value>> {
    let body: CreateRepo = parse_json(&body)?;
    let principal = caller.require_write()?;
    let (namespace, name) = split_name(&body.name, body.organization.as_deref(), &caller)?;
    let repo_type = parse_type(body.repo_type.as_deref())?;
    can_create_in(&caller, &namespace)?;
    let private = visibility_private(body.private, body.visibility.as_deref())?.unwrap_or(false);
    let owner_id = match state.db.user_by_name(&namespace).await? {
        Some(owner) => owner.id,
        None => principal.user.id,
    };
    let new = NewRepo { repo_type, namespace, name, private, owner_id, created_at: now_ms() };
    let repo = match state.db.create_repo(&new).await {
        Ok(repo) => repo,
        Err(DbError::Conflict { .. }) => {
            let url = state.url(&format!("/{}{}/{}", repo_type.url_prefix(), new.namespace, new.name));
            return Err(ApiError::Conflict {
                message: format!("You already created this {} repo", repo_type.as_str()),
                url: Some(url),
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
    Ok(Json(json!({ "url": repo_url(&state, &repo), "name": repo.full_name(), "id": repo_object_id(&repo) })))
}

/// `DELETE /api/repos/delete`: deletes a repo the caller may write; 404 `RepoNotFound` if missing.
pub async fn delete(State(state): State<AppState>, caller: Caller, body: Bytes) -> ApiResult<Response> {
    let body: DeleteRepo = parse_json(&body)?;
    caller.require()?;
    let (namespace, name) = split_name(&body.name, body.organization.as_deref(), &caller)?;
    let repo_type = parse_type(body.repo_type.as_deref())?;
    let repo = repo_for_write(&state, &caller, repo_type, &namespace, &name).await?;
    state.db.delete_repo(repo.id).await?;
    tracing::info!(repo.id = repo.id, repo.name = %repo.full_name(), "repo deleted");
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "OK").into_response())
}

/// `PUT /api/{type}s/{ns}/{name}/settings`: visibility (`private` or `visibility`); other settings are ignored.
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let settings: RepoSettings = parse_json(&body)?;
    let repo = route.writable(&state, &caller).await?;
    if let Some(private) = visibility_private(settings.private, settings.visibility.as_deref())? {
        state.db.set_repo_private(repo.id, private).await?;
        state.db.touch_repo(repo.id, now_ms()).await?;
        tracing::info!(repo.id = repo.id, repo.name = %repo.full_name(), repo.private = private, "repo visibility set");
    }
    Ok(Json(json!({})))
}

/// `GET /api/{type}s/{ns}/{name}[/revision/{rev}]`: repo info at a revision
/// (default `main`), with `siblings`; `?blobs=true` adds sizes, blob ids and LFS facts.
pub async fn info(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let repo = route.readable(&state, &caller).await?;
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
        let mut siblings = Vec::new();
        for node in list(db, &Node::root(resolved.commit.tree), true).await? {
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
    if route.param("write") == "write" {
        route.writable(&state, &caller).await?;
    } else {
        route.readable(&state, &caller).await?;
    }
    Ok(Json(json!({})))
}

/// The fields every repo description shares.
fn repo_summary(repo: &Repo) -> Value {
    json!({
        "_id": repo_object_id(repo),
        "id": repo.full_name(),
        "author": repo.namespace,
        "private": repo.private,
        "gated": false,
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
    let mut repos: Vec<Repo> = state
        .db
        .list_repos(repo_type)
        .await?
        .into_iter()
        .filter(|repo| can_read(&caller, repo))
        .filter(|repo| author.is_none_or(|author| &repo.namespace == author))
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
