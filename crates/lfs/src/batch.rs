//! `POST {repo}.git/info/lfs/objects/batch`: which objects to upload or
//! download, and how.
//!
//! Downloads use the basic transfer: a signed download href per object the
//! repo holds, a per-object 404 for others. Uploads use the basic transfer
//! (signed upload and verify hrefs) unless the client offers `xet`, as
//! git-xet and older huggingface_hub do: then the answer is
//! `"transfer": "xet"`, and each object the repo lacks gets an upload action
//! whose href is the repo's `xet-write-token` URL for the ref and whose
//! headers carry a CAS write token for the repo (`X-Xet-Cas-Url`,
//! `X-Xet-Access-Token`, `X-Xet-Token-Expiration`, `X-Xet-Session-Id`); the
//! client then uploads through the Xet CAS. Objects the repo already holds
//! have no actions in either transfer. Every object answer is scoped to the
//! repo: another repo's objects are neither offered nor reported as stored.

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_api::access::RepoAction;
use tessera_api::auth::Caller;
use tessera_api::signing::LfsHref;
use tessera_api::time::now_secs;
use tessera_api::xet_token::XetAccess;
use tessera_api::{ApiError, AppState};
use tessera_db::Repo;
use tessera_formats::git::parse_lfs_oid;

use crate::LFS_MEDIA_TYPE;
use crate::error::LfsResult;
use crate::repo::{LfsCaller, LfsRepoPath};

/// How long object hrefs stay valid, seconds.
const HREF_TTL_SECS: i64 = 3600;

/// What stays literal when a ref becomes one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[derive(Debug, Deserialize)]
struct BatchRequest {
    operation: String,
    #[serde(default)]
    transfers: Vec<String>,
    objects: Vec<ObjectSpec>,
    #[serde(default, rename = "ref")]
    reference: Option<RefSpec>,
    #[serde(default)]
    hash_algo: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RefSpec {
    name: String,
}

#[derive(Debug, Deserialize)]
struct ObjectSpec {
    oid: String,
    size: u64,
}

/// The transfer an answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transfer {
    /// Signed hrefs to this server.
    Basic,
    /// Uploads through the Xet CAS.
    Xet,
}

impl Transfer {
    fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Xet => "xet",
        }
    }

    /// `xet` for uploads that offer it, else `basic` if offered (no list
    /// offers `basic`), else 422.
    fn choose(upload: bool, offered: &[String]) -> Result<Self, ApiError> {
        let offers = |name: &str| offered.iter().any(|transfer| transfer == name);
        if upload && offers("xet") {
            Ok(Self::Xet)
        } else if offered.is_empty() || offers("basic") {
            Ok(Self::Basic)
        } else {
            let supported = if upload { "basic or xet" } else { "basic" };
            Err(ApiError::Unprocessable(format!(
                "no supported transfer offered: this server supports {supported} for {}s, the client offered {}",
                if upload { "upload" } else { "download" },
                offered.join(", ")
            )))
        }
    }
}

/// The batch endpoint.
pub async fn batch(
    State(state): State<AppState>,
    LfsCaller(caller): LfsCaller,
    route: LfsRepoPath,
    body: Bytes,
) -> LfsResult<Response> {
    let request: BatchRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::BadRequest(format!("invalid LFS batch request: {error}")))?;
    let upload = match request.operation.as_str() {
        "upload" => true,
        "download" => false,
        other => return Err(ApiError::BadRequest(format!("unknown LFS operation {other:?}")).into()),
    };
    let repo = if upload {
        route.writable(&state, &caller).await?.0
    } else {
        route.authorized(&state, &caller, RepoAction::Download).await?
    };
    if let Some(algo) = request.hash_algo.as_deref().filter(|algo| *algo != "sha256") {
        return Err(ApiError::Conflict { message: format!("unsupported hash algorithm {algo:?}"), url: None }.into());
    }
    let transfer = Transfer::choose(upload, &request.transfers)?;
    let xet = match transfer {
        Transfer::Xet => Some(xet_upload_action(&state, &caller, &repo, request.reference.as_ref())?),
        Transfer::Basic => None,
    };
    let mut objects = Vec::with_capacity(request.objects.len());
    for object in &request.objects {
        objects.push(describe(&state, &caller, &repo, object, upload, xet.as_ref()).await?);
    }
    tracing::debug!(
        repo.id = repo.id,
        lfs.upload = upload,
        lfs.transfer = transfer.as_str(),
        lfs.objects = objects.len(),
        "LFS batch"
    );
    let answer = json!({ "transfer": transfer.as_str(), "objects": objects, "hash_algo": "sha256" });
    Ok(([(CONTENT_TYPE, LFS_MEDIA_TYPE)], Json(answer)).into_response())
}

/// The upload action of the `xet` transfer, shared by every object of one
/// batch: the token route of the repo and ref, and a fresh write token.
fn xet_upload_action(state: &AppState, caller: &Caller, repo: &Repo, reference: Option<&RefSpec>) -> LfsResult<Value> {
    let revision = reference.map_or("main", |spec| spec.name.strip_prefix("refs/heads/").unwrap_or(&spec.name));
    let revision = if revision.is_empty() { "main" } else { revision };
    let href = state.url(&format!(
        "/api/{}/{}/{}/xet-write-token/{}",
        repo.repo_type.plural(),
        repo.namespace,
        repo.name,
        utf8_percent_encode(revision, SEGMENT)
    ));
    let access = XetAccess::issue(state, caller, repo, true);
    let header = json!({
        "X-Xet-Cas-Url": access.cas_url,
        "X-Xet-Access-Token": access.token,
        "X-Xet-Token-Expiration": access.expires_at.to_string(),
        "X-Xet-Session-Id": session_id(),
    });
    Ok(json!({ "upload": { "href": href, "header": header } }))
}

/// A random UUID (version 4 layout) naming one upload session.
fn session_id() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// One object of the answer: its actions, or an error.
async fn describe(
    state: &AppState,
    caller: &Caller,
    repo: &Repo,
    object: &ObjectSpec,
    upload: bool,
    xet: Option<&Value>,
) -> LfsResult<Value> {
    let Some(digest) = parse_lfs_oid(&object.oid) else {
        return Ok(json!({
            "oid": object.oid, "size": object.size,
            "error": { "code": 422, "message": "oid must be a lowercase hex sha256" },
        }));
    };
    let known = state.db.repo_file_by_sha256(repo.id, &digest).await?;
    let href = |action: &str, path: &str| {
        let expires_at = now_secs() + HREF_TTL_SECS;
        let token_id = caller.0.as_ref().map(|principal| principal.token.id);
        let signed = LfsHref { action, repo_id: repo.id, token_id, oid: &object.oid, size: object.size, expires_at };
        let signature = state.signer.lfs_signature(&signed);
        let token_id = token_id.map_or_else(|| "-".to_owned(), |id| id.to_string());
        state.url(&format!(
            "/api/lfs/{path}/{}/{}?size={}&tok={token_id}&exp={expires_at}&sig={signature}",
            repo.id, object.oid, object.size
        ))
    };
    let base = json!({ "oid": object.oid, "size": object.size, "authenticated": true });
    Ok(match (upload, known) {
        // Already stored in this repo with this size: nothing to send.
        (true, Some((_, size))) if size == object.size => base,
        (true, _) => {
            let mut described = base;
            described["actions"] = match xet {
                Some(action) => action.clone(),
                None => json!({
                    "upload": { "href": href("upload", "objects"), "expires_in": HREF_TTL_SECS },
                    "verify": { "href": href("verify", "verify"), "expires_in": HREF_TTL_SECS },
                }),
            };
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
