//! Commits: the NDJSON commit endpoint, `preupload` (which files go to
//! LFS/Xet), and the history listing.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::RepoAction;
use tessera_api::auth::Caller;
use tessera_api::policy;
use tessera_api::time::{iso8601, now_ms, now_secs};
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{MetadataStore, Repo};
use tessera_formats::git::{LfsPointer, ObjectId, parse_lfs_oid};

use crate::extract::{RepoPath, flag, next_link, normalize_repo_path, page_bounds, parse_json};
use crate::repo_model::attributes::Attributes;
use crate::repo_model::edit::{BuiltCommit, GITATTRIBUTES, Operation, build_commit};
use crate::repo_model::tree::{Describer, lookup};
use crate::repo_model::{self, MAIN_BRANCH, first_parent_history, load, resolve_revision, signature_for};

/// Files above this size always go to LFS/Xet (HF's 10 MiB).
const LFS_SIZE_THRESHOLD: u64 = 10 * 1024 * 1024;

/// Commits per page of the history listing.
const COMMITS_PAGE: usize = 100;

/// How often a commit without `parentCommit` is rebuilt on a branch that moved
/// meanwhile (concurrent writers, possibly in other processes), and how often a
/// pull request number is re-allocated.
const COMMIT_ATTEMPTS: u32 = 64;

/// Longest pause between two attempts, milliseconds.
const MAX_BACKOFF_MS: u64 = 250;

/// HF's wording when `parentCommit` is not the branch head.
const BRANCH_MOVED: &str = "The branch was updated since you opened this page. Please refresh and try again.";

/// One line of the NDJSON commit body.
#[derive(Debug, Deserialize)]
struct Line {
    key: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    summary: String,
    #[serde(default)]
    description: String,
    parent_commit: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FileLine {
    path: String,
    content: String,
    encoding: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LfsFileLine {
    path: String,
    algo: Option<String>,
    oid: String,
    size: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct PathLine {
    path: String,
}

fn field<T: serde::de::DeserializeOwned>(key: &str, value: Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(|error| ApiError::BadRequest(format!("Invalid {key} line: {error}")))
}

/// The parsed request: header, then operations in order (LFS pointers already validated).
struct CommitRequest {
    header: Header,
    operations: Vec<Operation>,
}

/// Parses the NDJSON body, validating paths and mapping `lfsFile` sha256s
/// to files this repo uploaded through Xet (422 when unknown).
async fn parse_commit(db: &dyn MetadataStore, repo: &Repo, body: &[u8]) -> ApiResult<CommitRequest> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("The commit body is not UTF-8".into()))?;
    let mut header = None;
    let mut operations = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(line)
            .map_err(|error| ApiError::BadRequest(format!("Invalid JSON on line {}: {error}", number + 1)))?;
        match line.key.as_str() {
            "header" => {
                if header.replace(field::<Header>("header", line.value)?).is_some() {
                    return Err(ApiError::BadRequest("More than one header line".into()));
                }
            }
            "file" => {
                let file: FileLine = field("file", line.value)?;
                let content = match file.encoding.as_deref() {
                    Some("base64") | None => BASE64.decode(file.content.trim()).map_err(|error| {
                        ApiError::BadRequest(format!("Invalid base64 content for {}: {error}", file.path))
                    })?,
                    Some("utf-8" | "utf8") => file.content.into_bytes(),
                    Some(other) => return Err(ApiError::BadRequest(format!("Unknown encoding {other:?}"))),
                };
                let path = normalize_repo_path(&file.path)?;
                if let Some(violation) = policy::check_file(db, repo.id, &path, &content).await? {
                    return Err(ApiError::Unprocessable(violation.to_string()));
                }
                operations.push(Operation::Upsert { path, content, lfs: false });
            }
            "lfsFile" => {
                let file: LfsFileLine = field("lfsFile", line.value)?;
                let path = normalize_repo_path(&file.path)?;
                operations.push(lfs_operation(db, repo, path, file).await?);
            }
            "deletedFile" => {
                let file: PathLine = field("deletedFile", line.value)?;
                operations.push(Operation::Delete { path: normalize_repo_path(&file.path)? });
            }
            "deletedFolder" => {
                let folder: PathLine = field("deletedFolder", line.value)?;
                let path = normalize_repo_path(folder.path.trim_end_matches('/'))?;
                operations.push(Operation::DeleteFolder { path });
            }
            other => return Err(ApiError::BadRequest(format!("Unknown commit line key {other:?}"))),
        }
    }
    let header = header.ok_or_else(|| ApiError::BadRequest("The commit has no header line".into()))?;
    Ok(CommitRequest { header, operations })
}

/// The pointer for an `lfsFile` line, whose sha256 must name a file this repo uploaded.
async fn lfs_operation(db: &dyn MetadataStore, repo: &Repo, path: String, file: LfsFileLine) -> ApiResult<Operation> {
    if file.algo.as_deref().is_some_and(|algo| algo != "sha256") {
        return Err(ApiError::Unprocessable(format!("Unsupported LFS hash algorithm for {path}")));
    }
    let sha256 = file.oid.to_ascii_lowercase();
    let raw = parse_lfs_oid(&sha256)
        .ok_or_else(|| ApiError::Unprocessable(format!("Invalid sha256 oid {:?} for {path}", file.oid)))?;
    let Some((xet_hash, size)) = db.repo_file_by_sha256(repo.id, &raw).await? else {
        return Err(ApiError::Unprocessable(format!(
            "The content of {path} (sha256 {sha256}) was not uploaded to this repo; upload it through Xet first"
        )));
    };
    if let Some(claimed) = file.size
        && claimed != size
    {
        return Err(ApiError::Unprocessable(format!(
            "Size mismatch for {path}: the commit says {claimed} bytes, the uploaded file has {size}"
        )));
    }
    tracing::debug!(repo.id = repo.id, file.path = %path, lfs.oid = %sha256, xet.file = %xet_hash, "lfs file mapped");
    Ok(Operation::Upsert { path, content: LfsPointer { sha256, size }.encode(), lfs: true })
}

/// Whether `parent` (full or abbreviated) names `head`.
fn names_commit(parent: &str, head: &ObjectId) -> bool {
    let parent = parent.to_ascii_lowercase();
    parent.len() >= 7 && head.hex().starts_with(&parent)
}

/// `POST /api/{type}s/{ns}/{name}/commit/{rev}[?create_pr=1]`: applies the
/// NDJSON operations atomically as one commit on branch `rev` (or on a new
/// `refs/pr/N`), moving the ref by compare-and-swap.
pub async fn create_commit(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let principal = caller.require_write()?;
    let db = state.db.as_ref();
    let request = parse_commit(db, &repo, &body).await?;
    let rev = upload_revision(&route);
    let summary = request.header.summary.trim();
    let summary = if summary.is_empty() { "Update files" } else { summary };
    let description = request.header.description.trim();
    let message = if description.is_empty() { summary.to_owned() } else { format!("{summary}\n\n{description}") };
    let author = signature_for(&principal.user, now_secs());
    let parent = request.header.parent_commit.as_deref().filter(|parent| !parent.is_empty());

    let (built, pull_request) = if flag(&query, "create_pr") {
        let base = match parent {
            Some(parent) => resolve_revision(db, repo.id, parent).await?,
            None => resolve_revision(db, repo.id, rev).await?,
        };
        let built = build_commit(db, Some(base.id), &request.operations, &author, &message).await?;
        repo_model::store(db, &built.objects).await?;
        let number = open_pull_request(db, repo.id, built.id).await?;
        (built, Some(number))
    } else {
        let (ref_name, mut head) = repo_model::branch_head(db, repo.id, rev).await?;
        if let Some(parent) = parent
            && !names_commit(parent, &head)
        {
            return Err(ApiError::PreconditionFailed(BRANCH_MOVED.into()));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let built = build_commit(db, Some(head), &request.operations, &author, &message).await?;
            repo_model::store(db, &built.objects).await?;
            if db.update_ref(repo.id, &ref_name, Some(head), Some(built.id)).await? {
                break (built, None);
            }
            if parent.is_some() || attempt >= COMMIT_ATTEMPTS {
                return Err(ApiError::PreconditionFailed(BRANCH_MOVED.into()));
            }
            back_off(attempt).await;
            head = db.ref_target(repo.id, &ref_name).await?.ok_or_else(|| ApiError::RevisionNotFound(rev.into()))?;
            tracing::debug!(repo.id = repo.id, git.ref = %ref_name, attempt, "branch moved; rebuilding the commit");
        }
    };
    db.touch_repo(repo.id, now_ms()).await?;
    tracing::info!(
        repo.id = repo.id,
        repo.name = %repo.full_name(),
        commit.id = %built.id,
        operations = request.operations.len(),
        pull_request = ?pull_request,
        "commit created"
    );
    Ok(Json(commit_response(&state, &repo, &built, pull_request)))
}

/// Waits before attempt `attempt + 1` after losing a ref race: a random pause
/// whose bound doubles per attempt up to [`MAX_BACKOFF_MS`], so writers that
/// collided spread out instead of colliding again.
async fn back_off(attempt: u32) {
    let bound = (1u64 << attempt.min(16)).min(MAX_BACKOFF_MS);
    tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(1..=bound))).await;
}

/// Creates `refs/pr/N` at `commit` with the next free N.
async fn open_pull_request(db: &dyn MetadataStore, repo_id: i64, commit: ObjectId) -> ApiResult<u64> {
    for attempt in 1..=COMMIT_ATTEMPTS {
        if attempt > 1 {
            back_off(attempt).await;
        }
        let highest = db
            .refs(repo_id)
            .await?
            .iter()
            .filter_map(|(name, _)| name.strip_prefix("refs/pr/")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let number = highest + 1;
        if db.update_ref(repo_id, &format!("refs/pr/{number}"), None, Some(commit)).await? {
            return Ok(number);
        }
    }
    Err(ApiError::Conflict { message: "Could not allocate a pull request number; retry".into(), url: None })
}

fn commit_response(state: &AppState, repo: &Repo, built: &BuiltCommit, pull_request: Option<u64>) -> Value {
    let base = state.url(&format!("/{}{}", repo.repo_type.url_prefix(), repo.full_name()));
    let mut body = json!({
        "success": true,
        "commitOid": built.id.hex(),
        "commitUrl": format!("{base}/commit/{}", built.id),
        "hookOutput": "",
    });
    if let Some(number) = pull_request {
        body["pullRequestUrl"] = json!(format!("{base}/discussions/{number}"));
    }
    body
}

/// Body of `preupload`.
#[derive(Debug, Deserialize)]
struct PreuploadRequest {
    #[serde(default)]
    files: Vec<PreuploadFile>,
}

#[derive(Debug, Deserialize)]
struct PreuploadFile {
    path: String,
    #[serde(default)]
    sample: String,
    #[serde(default)]
    size: u64,
}

/// Whether a sample looks binary: a NUL byte, or not UTF-8 (a multi-byte
/// character cut at the end of the sample is fine).
fn looks_binary(sample: &[u8]) -> bool {
    if sample.contains(&0) {
        return true;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => false,
        Err(error) => error.error_len().is_some(),
    }
}

/// The revision an upload targets: huggingface_hub sends the literal `None`
/// (with `?create_pr=1`) when it means the default branch.
fn upload_revision(route: &RepoPath) -> &str {
    match route.revision() {
        "None" => MAIN_BRANCH,
        rev => rev,
    }
}

/// `POST /api/{type}s/{ns}/{name}/preupload/{rev}`: per file, `lfs` when
/// `.gitattributes` says so, when larger than 10 MiB or when the sample is
/// binary, else `regular`; `oid` is the current remote id when the path exists.
pub async fn preupload(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let request: PreuploadRequest = parse_json(&body)?;
    let repo = route.authorized(&state, &caller, RepoAction::Write).await?;
    let db = state.db.as_ref();
    let resolved = resolve_revision(db, repo.id, upload_revision(&route)).await?;
    let attributes = match lookup(db, resolved.commit.tree, GITATTRIBUTES).await? {
        Some(node) if !node.is_dir() => Attributes::parse(&String::from_utf8_lossy(&load(db, &node.id).await?.data)),
        _ => Attributes::default(),
    };
    let mut describer = Describer::new(db, repo.id);
    let mut files = Vec::with_capacity(request.files.len());
    for file in request.files {
        let sample = BASE64.decode(file.sample.trim()).unwrap_or_default();
        let normalized = normalize_repo_path(&file.path).unwrap_or_else(|_| file.path.clone());
        let lfs = attributes.is_lfs(&normalized) || file.size > LFS_SIZE_THRESHOLD || looks_binary(&sample);
        let mut entry = json!({
            "path": file.path,
            "uploadMode": if lfs { "lfs" } else { "regular" },
            "shouldIgnore": false,
        });
        if let Some(node) = lookup(db, resolved.commit.tree, &normalized).await?.filter(|node| !node.is_dir()) {
            let details = describer.describe(node.id).await?;
            entry["oid"] = json!(match details.lfs {
                Some(pointer) => pointer.sha256,
                None => details.blob_id.hex(),
            });
        }
        files.push(entry);
    }
    Ok(Json(json!({ "files": files, "commitOid": resolved.id.hex() })))
}

/// `GET /api/{type}s/{ns}/{name}/commits/{rev}`: the first-parent history,
/// newest first, 100 per page with an absolute `Link`.
pub async fn list_commits(
    State(state): State<AppState>,
    caller: Caller,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
) -> ApiResult<Response> {
    let repo = route.authorized(&state, &caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let resolved = resolve_revision(db, repo.id, route.revision()).await?;
    let (skip, _) = page_bounds(&query, usize::MAX, COMMITS_PAGE);
    let (commits, more) = first_parent_history(db, resolved.id, skip, COMMITS_PAGE).await?;
    let formatted =
        query.keys().any(|key| key.starts_with("expand")) && query.values().any(|value| value == "formatted");
    let items: Vec<Value> = commits
        .iter()
        .map(|(id, commit)| {
            let mut item = json!({
                "id": id.hex(),
                "title": commit.title(),
                "message": commit.body(),
                "date": iso8601(commit.committer.time * 1000),
                "authors": [{ "user": commit.author.name }],
            });
            if formatted {
                item["formatted"] = json!({ "title": commit.title(), "message": commit.body() });
            }
            item
        })
        .collect();
    let mut headers = HeaderMap::new();
    if more {
        headers.insert(header::LINK, next_link(&state, &uri, &(skip + commits.len()).to_string())?);
    }
    Ok((headers, Json(Value::Array(items))).into_response())
}
