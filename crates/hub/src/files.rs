//! Files of a revision: tree listings, `paths-info`, and downloads through
//! `resolve` (regular blobs from the metadata store, LFS pointers through
//! their Xet file).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_api::access::RepoAction;
use tessera_api::auth::Caller;
use tessera_api::{ApiError, ApiResult, AppState, range};
use tessera_db::XetFile;

use crate::extract::{RepoPath, form_pairs, next_link, page_bounds};
use crate::repo_model::tree::{Describer, Node, list, lookup};
use crate::repo_model::{self, load};

/// Entries per page of a tree listing (the Hub's page size).
const TREE_PAGE: usize = 1000;

/// Bytes of a Xet file read per step while streaming a download.
const XET_WINDOW: u64 = 8 * 1024 * 1024;

/// The JSON of a tree entry, as `/tree` and `paths-info` return it.
async fn entry_json(describer: &mut Describer<'_>, node: &Node) -> ApiResult<Value> {
    if node.is_dir() {
        return Ok(json!({ "type": "directory", "oid": node.id.hex(), "size": 0, "path": node.path }));
    }
    let details = describer.describe(node.id).await?;
    let mut entry = json!({ "type": "file", "oid": details.blob_id.hex(), "size": details.size, "path": node.path });
    if let Some(lfs) = details.lfs {
        entry["lfs"] = json!({ "oid": lfs.sha256, "size": lfs.size, "pointerSize": lfs.pointer_size });
        if let Some(xet_hash) = lfs.xet_hash {
            entry["xetHash"] = json!(xet_hash.hex());
        }
    }
    Ok(entry)
}

/// `GET /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]`: the entries of a
/// directory (`?recursive=true`: everything below it, directories included),
/// 1000 per page with an absolute `Link: <…>; rel="next"`.
pub async fn tree(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
) -> ApiResult<Response> {
    let repo = route.authorized(&state, &caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let resolved = repo_model::resolve_revision(db, repo.id, route.param("rev")).await?;
    let path = route.param("path").trim_matches('/');
    let not_found = || ApiError::entry_not_found(path, Some(resolved.id.hex()));
    let dir = lookup(db, resolved.commit.tree, path).await?.filter(Node::is_dir).ok_or_else(not_found)?;
    let recursive = query.get("recursive").is_some_and(|value| value == "true" || value == "1");
    let nodes = list(db, &dir, recursive).await?;
    let (start, end) = page_bounds(&query, nodes.len(), TREE_PAGE);
    let mut describer = Describer::new(db, repo.id);
    let page = &nodes[start..end];
    describer.prefetch(&page.iter().filter(|node| !node.is_dir()).map(|node| node.id).collect::<Vec<_>>()).await?;
    let mut entries = Vec::with_capacity(end - start);
    for node in page {
        entries.push(entry_json(&mut describer, node).await?);
    }
    let mut headers = HeaderMap::new();
    if end < nodes.len() {
        headers.insert(header::LINK, next_link(&state, &uri, &end.to_string())?);
    }
    Ok((headers, Json(Value::Array(entries))).into_response())
}

/// `POST /api/{type}s/{ns}/{name}/paths-info/{rev}` with a form body of
/// repeated `paths`: the entries that exist, files and directories.
pub async fn paths_info(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let repo = route.authorized(&state, &caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let resolved = repo_model::resolve_revision(db, repo.id, route.param("rev")).await?;
    let mut describer = Describer::new(db, repo.id);
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    for (key, path) in form_pairs(&body) {
        let path = path.trim_matches('/').to_owned();
        if key != "paths" || path.is_empty() || !seen.insert(path.clone()) {
            continue;
        }
        if let Some(node) = lookup(db, resolved.commit.tree, &path).await? {
            entries.push(entry_json(&mut describer, &node).await?);
        }
    }
    Ok(Json(Value::Array(entries)))
}

/// A byte range of a body of `size` bytes: `(first, end_exclusive, partial)`.
fn byte_range(headers: &HeaderMap, size: u64) -> ApiResult<(u64, u64, bool)> {
    let requested = headers.get(header::RANGE).and_then(|value| value.to_str().ok());
    match requested.map(|header| range::resolve(header, size)).transpose()?.flatten() {
        Some((first, last)) => Ok((first, last + 1, true)),
        None => Ok((0, size, false)),
    }
}

fn header_value(text: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(text).map_err(ApiError::internal)
}

/// Reads bytes `start..end` of a Xet file through the CAS.
async fn read_xet_range(state: &AppState, file: &XetFile, start: u64, end: u64) -> ApiResult<Bytes> {
    tessera_cas::read::read_file_range(state, file, start, end).await
}

/// The body of bytes `start..end` of a Xet file, read window by window.
async fn xet_body(state: AppState, file: XetFile, start: u64, end: u64) -> ApiResult<Body> {
    // The first window is read before answering, so a failure is a proper error response.
    let first_end = (start + XET_WINDOW).min(end);
    let first = read_xet_range(&state, &file, start, first_end).await?;
    if first_end == end {
        return Ok(Body::from(first));
    }
    let file = Arc::new(file);
    let rest = futures::stream::try_unfold(first_end, move |position| {
        let (state, file) = (state.clone(), Arc::clone(&file));
        async move {
            if position >= end {
                return Ok(None);
            }
            let next = (position + XET_WINDOW).min(end);
            let bytes = read_xet_range(&state, &file, position, next).await.inspect_err(|error| {
                tracing::warn!(xet.file = %file.hash, position, error = %error, "download interrupted");
            })?;
            ApiResult::Ok(Some((bytes, next)))
        }
    });
    let head = futures::stream::once(async move { ApiResult::Ok(first) });
    Ok(Body::from_stream(futures::StreamExt::chain(head, rest)))
}

/// `HEAD|GET /[datasets/|spaces/]{ns}/{name}/resolve/{rev}/{path}`: a
/// file's metadata headers (`X-Repo-Commit`, `ETag`, sizes, Xet hash and
/// token link) and, for GET, its bytes with `Range` support.
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    method: Method,
    request_headers: HeaderMap,
) -> ApiResult<Response> {
    let repo = route.authorized(&state, &caller, RepoAction::Download).await?;
    let db = state.db.as_ref();
    let resolved = repo_model::resolve_revision(db, repo.id, route.param("rev")).await?;
    let commit = resolved.id.hex();
    let path = route.param("path").trim_start_matches('/');
    let node = lookup(db, resolved.commit.tree, path)
        .await?
        .filter(|node| !node.is_dir() && !path.is_empty())
        .ok_or_else(|| ApiError::entry_not_found(path, Some(commit.clone())))?;
    let details = Describer::new(db, repo.id).describe(node.id).await?;

    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::from_static("x-repo-commit"), header_value(&commit)?);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    // User files never run as pages of this origin, whatever a browser makes of them.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    let xet_file = match &details.lfs {
        None => {
            headers.insert(header::ETAG, header_value(&format!("\"{}\"", details.blob_id))?);
            None
        }
        Some(lfs) => {
            let etag = header_value(&format!("\"{}\"", lfs.sha256))?;
            headers.insert(header::ETAG, etag.clone());
            headers.insert(HeaderName::from_static("x-linked-etag"), etag);
            headers.insert(HeaderName::from_static("x-linked-size"), header_value(&lfs.size.to_string())?);
            if let Some(xet_hash) = lfs.xet_hash {
                headers.insert(HeaderName::from_static("x-xet-hash"), header_value(&xet_hash.hex())?);
                let token_url = state.url(&format!(
                    "/api/{}/{}/xet-read-token/{}",
                    repo.repo_type.plural(),
                    repo.full_name(),
                    commit
                ));
                headers.insert(header::LINK, header_value(&format!("<{token_url}>; rel=\"xet-auth\""))?);
            }
            lfs.xet_hash
        }
    };

    if method == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, header_value(&details.size.to_string())?);
        return Ok((StatusCode::OK, headers).into_response());
    }

    let (start, end, partial) = byte_range(&request_headers, details.size)?;
    let body = match (&details.lfs, xet_file) {
        (None, _) => {
            let blob = load(db, &details.blob_id).await?;
            Body::from(Bytes::from(blob.data).slice(start as usize..end as usize))
        }
        (Some(_), Some(xet_hash)) => {
            let file = db
                .xet_file(&xet_hash)
                .await?
                .ok_or_else(|| ApiError::Internal(format!("xet file {xet_hash} is not registered")))?;
            xet_body(state.clone(), file, start, end).await?
        }
        (Some(lfs), None) => {
            return Err(ApiError::NotFound(format!(
                "The content of {path} (LFS object {}) is not stored on this server",
                lfs.sha256
            )));
        }
    };
    headers.insert(header::CONTENT_LENGTH, header_value(&(end - start).to_string())?);
    let status = if partial {
        headers.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{}/{}", end.saturating_sub(1), details.size))?,
        );
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    tracing::debug!(repo.id = repo.id, file.path = path, commit.id = %commit, start, end, "download");
    Ok((status, headers, body).into_response())
}
