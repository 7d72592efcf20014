//! `POST {repo}.git/info/lfs/objects/batch`: which objects to upload or
//! download, with signed hrefs for each (basic transfer only).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{MatchedPath, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::{repo_for_read, repo_for_write};
use tessera_api::auth::Caller;
use tessera_api::time::now_secs;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{Repo, RepoType};
use tessera_formats::git::parse_lfs_oid;

/// The media type of every LFS API body.
pub const LFS_MEDIA_TYPE: &str = "application/vnd.git-lfs+json";

/// How long object hrefs stay valid, seconds.
const HREF_TTL_SECS: i64 = 3600;

#[derive(Debug, Deserialize)]
struct BatchRequest {
    operation: String,
    #[serde(default)]
    transfers: Vec<String>,
    objects: Vec<ObjectSpec>,
}

#[derive(Debug, Deserialize)]
struct ObjectSpec {
    oid: String,
    size: u64,
}

/// The batch endpoint.
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    matched: MatchedPath,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let repo_type = RepoType::from_url_path(matched.as_str());
    let namespace = params.get("namespace").map_or("", String::as_str);
    let name = params.get("repo").map_or("", String::as_str);
    let name = name.strip_suffix(".git").unwrap_or(name);
    let request: BatchRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("invalid LFS batch request: {error}")))?;
    if !request.transfers.is_empty() && !request.transfers.iter().any(|t| t == "basic") {
        return Err(ApiError::Unprocessable("only the basic transfer is offered".into()));
    }
    let upload = match request.operation.as_str() {
        "upload" => true,
        "download" => false,
        other => return Err(ApiError::BadRequest(format!("unknown LFS operation {other:?}"))),
    };
    let repo = if upload {
        repo_for_write(&state, &caller, repo_type, namespace, name).await?
    } else {
        repo_for_read(&state, &caller, repo_type, namespace, name).await?
    };
    let mut objects = Vec::with_capacity(request.objects.len());
    for object in &request.objects {
        objects.push(describe(&state, &repo, object, upload).await?);
    }
    let answer = json!({ "transfer": "basic", "objects": objects, "hash_algo": "sha256" });
    Ok(([(CONTENT_TYPE, LFS_MEDIA_TYPE)], Json(answer)).into_response())
}

/// One object of the answer: its actions, or an error.
async fn describe(state: &AppState, repo: &Repo, object: &ObjectSpec, upload: bool) -> ApiResult<Value> {
    let Some(digest) = parse_lfs_oid(&object.oid) else {
        return Ok(json!({
            "oid": object.oid, "size": object.size,
            "error": { "code": 422, "message": "oid must be a lowercase hex sha256" },
        }));
    };
    let known = state.db.repo_file_by_sha256(repo.id, &digest).await?;
    let href = |action: &str, path: &str| {
        let expires_at = now_secs() + HREF_TTL_SECS;
        let signature = state.signer.lfs_signature(action, repo.id, &object.oid, object.size, expires_at);
        state.url(&format!(
            "/api/lfs/{path}/{}/{}?size={}&exp={expires_at}&sig={signature}",
            repo.id, object.oid, object.size
        ))
    };
    let base = json!({ "oid": object.oid, "size": object.size, "authenticated": true });
    Ok(match (upload, known) {
        // Already stored with this size: nothing to send.
        (true, Some((_, size))) if size == object.size => base,
        (true, _) => {
            let mut described = base;
            described["actions"] = json!({
                "upload": { "href": href("upload", "objects"), "expires_in": HREF_TTL_SECS },
                "verify": { "href": href("verify", "verify"), "expires_in": HREF_TTL_SECS },
            });
            described
        }
        (false, Some((_, size))) if size == object.size => {
            let mut described = base;
            described["actions"] =
                json!({ "download": { "href": href("download", "objects"), "expires_in": HREF_TTL_SECS } });
            described
        }
        (false, _) => json!({
            "oid": object.oid, "size": object.size,
            "error": { "code": 404, "message": "Object does not exist" },
        }),
    })
}
