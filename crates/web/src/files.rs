//! Files of a repo at a revision: the file list (`tree`), one file
//! (`blob`), and the stored git blob as text (`raw`).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_api::access::RepoAction;
use tessera_api::auth::Caller;
use tessera_api::{ApiError, AppState};
use tessera_db::Repo;
use tessera_hub::extract::RepoPath;
use tessera_hub::repo_model::tree::{Describer, Node, list, lookup};
use tessera_hub::repo_model::{self, Resolved, load};

use crate::error::WebResult;
use crate::last_changes::{LastChange, last_changes};
use crate::render::{decimal_size, render};
use crate::repos::{RepoSummary, encode_revision, web_path};
use crate::session::Visitor;
use crate::storage::{StoragePanel, panel};
use std::collections::BTreeMap;

/// Largest file shown as text on its page.
const MAX_TEXT_BYTES: u64 = 512 * 1024;

/// File extensions shown inline as images (served by `resolve`).
const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "bmp", "ico"];

/// One row of the file list.
#[derive(Debug, Serialize)]
struct Entry {
    name: String,
    url: String,
    is_dir: bool,
    size: Option<String>,
    storage: Option<&'static str>,
    /// The commit that last changed it.
    last: Option<LastChange>,
}

/// A branch or tag in the revision selector, linking to the same view there.
#[derive(Debug, Serialize)]
struct RefLink {
    name: String,
    kind: &'static str,
    url: String,
}

/// The repo's branches, then its tags, each linking to `view` (`tree` or
/// `blob`) of `path` at that ref.
async fn ref_links(state: &AppState, repo: &Repo, view: &str, path: &str) -> WebResult<Vec<RefLink>> {
    let repo_path = web_path(repo);
    let mut links: Vec<RefLink> = state
        .db
        .refs(repo.id)
        .await?
        .into_iter()
        .filter_map(|(name, _)| {
            let (kind, short) = match name.strip_prefix("refs/heads/") {
                Some(branch) => ("branch", branch.to_owned()),
                None => ("tag", name.strip_prefix("refs/tags/")?.to_owned()),
            };
            let suffix = if path.is_empty() { String::new() } else { format!("/{path}") };
            Some(RefLink { url: format!("{repo_path}/{view}/{}{suffix}", encode_revision(&short)), name: short, kind })
        })
        .collect();
    links.sort_by(|a, b| a.kind.cmp(b.kind).then_with(|| a.name.cmp(&b.name)));
    Ok(links)
}

/// A breadcrumb step.
#[derive(Debug, Serialize)]
struct Crumb {
    name: String,
    url: String,
}

fn crumbs(repo_path: &str, revision: &str, path: &str) -> Vec<Crumb> {
    let mut crumbs = Vec::new();
    let mut so_far = String::new();
    for part in path.split('/').filter(|part| !part.is_empty()) {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(part);
        crumbs.push(Crumb { name: part.to_owned(), url: format!("{repo_path}/tree/{revision}/{so_far}") });
    }
    crumbs
}

/// The repo a file route names, the revision resolved, and the path's node
/// (a directory when `want_dir`), if the caller may do `action`.
async fn located(
    state: &AppState,
    caller: &Caller,
    route: &RepoPath,
    action: RepoAction,
    want_dir: bool,
) -> WebResult<(Repo, Resolved, String, Node)> {
    let repo = route.authorized(state, caller, action).await?;
    let db = state.db.as_ref();
    let resolved = repo_model::resolve_revision(db, repo.id, route.param("rev")).await?;
    let path = route.param("path").trim_matches('/').to_owned();
    let node = if path.is_empty() && want_dir {
        Node::root(resolved.commit.tree)
    } else {
        match lookup(db, resolved.commit.tree, &path).await? {
            Some(node) if node.is_dir() == want_dir => node,
            _ => return Err(ApiError::entry_not_found(&path, Some(resolved.id.hex())).into()),
        }
    };
    Ok((repo, resolved, path, node))
}

#[derive(Debug, Serialize)]
struct TreePage {
    repo: RepoSummary,
    tab: &'static str,
    revision: String,
    revision_path: String,
    path: String,
    crumbs: Vec<Crumb>,
    commit: String,
    refs: Vec<RefLink>,
    entries: Vec<Entry>,
}

/// `GET …/tree/{rev}[/{path}]`: a directory's entries, folders first.
pub async fn tree(State(state): State<AppState>, visitor: Visitor, route: RepoPath) -> WebResult<Response> {
    let caller = &visitor.0;
    let (repo, resolved, path, dir) = located(&state, caller, &route, RepoAction::See, true).await?;
    let db = state.db.as_ref();
    let revision = route.param("rev").to_owned();
    let repo_path = web_path(&repo);
    let revision_path = encode_revision(&revision);
    let mut describer = Describer::new(db, repo.id);
    let nodes = list(db, &dir, false).await?;
    let last = last_changes(db, resolved.id, &path).await?;
    describer.prefetch(&nodes.iter().filter(|node| !node.is_dir()).map(|node| node.id).collect::<Vec<_>>()).await?;
    let mut entries = Vec::new();
    for node in nodes {
        let name = node.path.rsplit('/').next().unwrap_or(&node.path).to_owned();
        let entry = if node.is_dir() {
            Entry {
                url: format!("{repo_path}/tree/{revision_path}/{}", node.path),
                last: last.get(&name).cloned(),
                name,
                is_dir: true,
                size: None,
                storage: None,
            }
        } else {
            let details = describer.describe(node.id).await?;
            let storage = details.lfs.as_ref().map(|lfs| if lfs.xet_hash.is_some() { "Xet" } else { "LFS" });
            Entry {
                url: format!("{repo_path}/blob/{revision_path}/{}", node.path),
                last: last.get(&name).cloned(),
                name,
                is_dir: false,
                size: Some(decimal_size(details.size)),
                storage,
            }
        };
        entries.push(entry);
    }
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    let refs = ref_links(&state, &repo, "tree", &path).await?;
    let page = TreePage {
        crumbs: crumbs(&repo_path, &revision_path, &path),
        repo: RepoSummary::of(&repo),
        tab: "files",
        revision,
        revision_path,
        path,
        commit: resolved.id.hex(),
        refs,
        entries,
    };
    Ok(render(&visitor, "tree.html", &page)?.into_response())
}

/// What a file page shows for an LFS or Xet file.
#[derive(Debug, Serialize)]
struct Pointer {
    storage: &'static str,
    sha256: String,
    size: String,
    size_bytes: u64,
    pointer_size: u64,
    xet_hash: Option<String>,
}

#[derive(Debug, Serialize)]
struct BlobPage {
    repo: RepoSummary,
    tab: &'static str,
    revision: String,
    revision_path: String,
    path: String,
    crumbs: Vec<Crumb>,
    commit: String,
    refs: Vec<RefLink>,
    size: String,
    raw_url: String,
    download_url: String,
    text: Option<String>,
    json_error: Option<String>,
    image: bool,
    pointer: Option<Pointer>,
    storage: Option<StoragePanel>,
    note: Option<&'static str>,
}

/// `GET …/blob/{rev}/{path}`: one file: text up to a size cap, images
/// inline, and the pointer details of LFS and Xet files.
pub async fn blob(State(state): State<AppState>, visitor: Visitor, route: RepoPath) -> WebResult<Response> {
    let caller = &visitor.0;
    let (repo, resolved, path, node) = located(&state, caller, &route, RepoAction::See, false).await?;
    let db = state.db.as_ref();
    let revision = route.param("rev").to_owned();
    let details = Describer::new(db, repo.id).describe(node.id).await?;
    let repo_path = web_path(&repo);
    let revision_path = encode_revision(&revision);
    let extension = path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    let refs = ref_links(&state, &repo, "blob", &path).await?;
    let mut page = BlobPage {
        crumbs: crumbs(&repo_path, &revision_path, &path),
        repo: RepoSummary::of(&repo),
        tab: "files",
        raw_url: format!("{repo_path}/raw/{revision_path}/{path}"),
        download_url: format!("{repo_path}/resolve/{revision_path}/{path}?download=true"),
        revision,
        revision_path,
        path,
        commit: resolved.id.hex(),
        refs,
        size: decimal_size(details.size),
        text: None,
        json_error: None,
        image: IMAGE_EXTENSIONS.contains(&extension.as_str()),
        pointer: None,
        storage: None,
        note: None,
    };
    if let Some(lfs) = &details.lfs {
        page.pointer = Some(Pointer {
            storage: if lfs.xet_hash.is_some() { "Xet" } else { "LFS" },
            sha256: lfs.sha256.clone(),
            size: decimal_size(lfs.size),
            size_bytes: lfs.size,
            pointer_size: lfs.pointer_size,
            xet_hash: lfs.xet_hash.map(|hash| hash.to_string()),
        });
        if let Some(xet_hash) = lfs.xet_hash {
            page.storage = panel(db, &BTreeMap::from([(xet_hash, lfs.size)])).await?;
        }
    } else if !page.image {
        if details.size > MAX_TEXT_BYTES {
            page.note = Some("This file is too large to display here; download it instead.");
        } else {
            let data = load(db, &node.id).await?.data;
            match String::from_utf8(data) {
                Ok(text) => {
                    if extension == "json"
                        && let Err(error) = serde_json::from_str::<serde_json::Value>(&text)
                    {
                        page.json_error = Some(format!("Invalid JSON: {error}"));
                    }
                    page.text = Some(text);
                }
                Err(_) => page.note = Some("This is a binary file; download it to read it."),
            }
        }
    }
    Ok(render(&visitor, "blob.html", &page)?.into_response())
}

/// `GET …/raw/{rev}/{path}`: the git blob as stored (an LFS or Xet file's
/// pointer), as plain text that browsers never render as a page.
pub async fn raw(State(state): State<AppState>, visitor: Visitor, route: RepoPath) -> WebResult<Response> {
    let caller = &visitor.0;
    let (_, _, _, node) = located(&state, caller, &route, RepoAction::Download, false).await?;
    let data = load(state.db.as_ref(), &node.id).await?.data;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'")),
    ];
    Ok((StatusCode::OK, headers, data).into_response())
}
