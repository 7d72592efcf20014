//! The Git LFS file locking API under each repo's LFS URL
//! (`…/info/lfs/locks`, git-lfs `docs/api/locking.md`):
//!
//! | route | who | answer |
//! |---|---|---|
//! | `POST locks` `{path, ref?}` | writers | 201 `{lock}`; 409 `{lock, message}` if the path is locked |
//! | `GET locks?path&id&cursor&limit&refspec` | readers | `{locks, next_cursor?}` |
//! | `POST locks/verify` `{ref?, cursor?, limit?}` | writers | `{ours, theirs, next_cursor?}` |
//! | `POST locks/{id}/unlock` `{force?, ref?}` | the lock's owner; with `force` any maintainer | 200 `{lock}`; 403; 404 |
//!
//! Locks are per repo, one per path, whatever the ref (the API's `ref` is
//! only for authorisation, and the repo decides that). Cursors are lock ids.
//! Each handler resolves the repo and the caller's access, calls the
//! metadata store, and shapes the answer; errors go through [`LfsError`].

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tessera_api::access::RepoAction;
use tessera_api::time::{iso8601, now_ms};
use tessera_api::{ApiError, AppState};
use tessera_db::{LfsLock, LfsLockQuery, LockAttempt};

use crate::LFS_MEDIA_TYPE;
use crate::error::{LfsError, LfsResult};
use crate::repo::{LfsCaller, LfsRepoPath};

/// Locks per page when the client names no limit.
const DEFAULT_PAGE: i64 = 100;
/// The largest page a client may ask for.
const MAX_PAGE: i64 = 1000;
/// The longest lockable path, bytes.
const MAX_PATH_LEN: usize = 4096;

/// A lock as the API shows it.
fn lock_json(lock: &LfsLock) -> Value {
    json!({
        "id": lock.id.to_string(),
        "path": lock.path,
        "locked_at": iso8601(lock.created_at),
        "owner": { "name": lock.owner_name },
    })
}

/// A JSON answer with the LFS media type.
fn answer(status: StatusCode, body: Value) -> Response {
    (status, [(CONTENT_TYPE, LFS_MEDIA_TYPE)], Json(body)).into_response()
}

/// Parses a JSON body; an empty body is the type's default.
fn parse_body<T: DeserializeOwned + Default>(body: &Bytes) -> LfsResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| ApiError::BadRequest(format!("invalid JSON body: {error}")).into())
}

/// The optional `ref` of a request (accepted, not used).
#[derive(Debug, Default, Deserialize)]
struct RefSpec {
    #[serde(rename = "name")]
    _name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CreateRequest {
    path: String,
    #[serde(default, rename = "ref")]
    _reference: Option<RefSpec>,
}

/// `POST …/info/lfs/locks`: locks a path for the caller.
pub async fn create(
    State(state): State<AppState>,
    LfsCaller(caller): LfsCaller,
    route: LfsRepoPath,
    body: Bytes,
) -> LfsResult<Response> {
    let (repo, principal) = route.writable(&state, &caller).await?;
    let request: CreateRequest = parse_body(&body)?;
    let path = request.path;
    if path.is_empty() || path.len() > MAX_PATH_LEN || path.contains('\0') {
        return Err(ApiError::Unprocessable("the path to lock must be 1 to 4096 bytes, without NUL".into()).into());
    }
    match state.db.create_lfs_lock(repo.id, &path, principal.user.id, now_ms()).await? {
        LockAttempt::Created(lock) => {
            tracing::info!(repo.id = repo.id, user.id = principal.user.id, lfs.lock_id = lock.id, "LFS lock created");
            Ok(answer(StatusCode::CREATED, json!({ "lock": lock_json(&lock) })))
        }
        LockAttempt::Taken(lock) => Err(LfsError::LockExists {
            message: format!("{} is already locked by {}", lock.path, lock.owner_name),
            lock: lock_json(&lock),
        }),
    }
}

/// One page of locks: `limit` of them from `cursor`, and the next cursor.
async fn page(
    state: &AppState,
    repo_id: i64,
    mut query: LfsLockQuery,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> LfsResult<(Vec<LfsLock>, Option<String>)> {
    query.from_id = match cursor.filter(|cursor| !cursor.is_empty()) {
        Some(cursor) => Some(cursor.parse().map_err(|_| ApiError::BadRequest(format!("invalid cursor {cursor:?}")))?),
        None => None,
    };
    let limit = match limit {
        None | Some(0) => DEFAULT_PAGE,
        Some(limit) => limit.clamp(1, MAX_PAGE),
    };
    query.limit = limit + 1;
    let mut locks = state.db.lfs_locks(repo_id, &query).await?;
    let next = if locks.len() as i64 > limit { locks.pop().map(|lock| lock.id.to_string()) } else { None };
    Ok((locks, next))
}

/// The query of `GET locks`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    path: Option<String>,
    id: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
    #[serde(rename = "refspec")]
    _refspec: Option<String>,
}

/// `GET …/info/lfs/locks`: the repo's locks, filtered and paginated.
pub async fn list(
    State(state): State<AppState>,
    LfsCaller(caller): LfsCaller,
    route: LfsRepoPath,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> LfsResult<Response> {
    let repo = route.authorized(&state, &caller, RepoAction::See).await?;
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(format!("invalid query: {rejection}")))?;
    let id = match query.id.as_deref().filter(|id| !id.is_empty()) {
        // An id we never issue matches no lock.
        Some(id) => match id.parse() {
            Ok(id) => Some(id),
            Err(_) => return Ok(answer(StatusCode::OK, json!({ "locks": [] }))),
        },
        None => None,
    };
    let filter = LfsLockQuery { path: query.path.filter(|path| !path.is_empty()), id, ..LfsLockQuery::default() };
    let (locks, next) = page(&state, repo.id, filter, query.cursor.as_deref(), query.limit).await?;
    let mut body = json!({ "locks": locks.iter().map(lock_json).collect::<Vec<_>>() });
    if let Some(next) = next {
        body["next_cursor"] = json!(next);
    }
    Ok(answer(StatusCode::OK, body))
}

#[derive(Debug, Default, Deserialize)]
struct VerifyRequest {
    cursor: Option<String>,
    limit: Option<i64>,
    #[serde(default, rename = "ref")]
    _reference: Option<RefSpec>,
}

/// `POST …/info/lfs/locks/verify`: the repo's locks split into the caller's
/// (`ours`) and everyone else's (`theirs`), which git-lfs checks before a push.
pub async fn verify(
    State(state): State<AppState>,
    LfsCaller(caller): LfsCaller,
    route: LfsRepoPath,
    body: Bytes,
) -> LfsResult<Response> {
    let (repo, principal) = route.writable(&state, &caller).await?;
    let request: VerifyRequest = parse_body(&body)?;
    let (locks, next) =
        page(&state, repo.id, LfsLockQuery::default(), request.cursor.as_deref(), request.limit).await?;
    let (ours, theirs): (Vec<_>, Vec<_>) = locks.iter().partition(|lock| lock.owner_id == principal.user.id);
    let mut body = json!({
        "ours": ours.into_iter().map(lock_json).collect::<Vec<_>>(),
        "theirs": theirs.into_iter().map(lock_json).collect::<Vec<_>>(),
    });
    if let Some(next) = next {
        body["next_cursor"] = json!(next);
    }
    Ok(answer(StatusCode::OK, body))
}

#[derive(Debug, Default, Deserialize)]
struct UnlockRequest {
    #[serde(default)]
    force: bool,
    #[serde(default, rename = "ref")]
    _reference: Option<RefSpec>,
}

/// `POST …/info/lfs/locks/{id}/unlock`: removes a lock. Its owner may;
/// anyone else who may write the repo only with `force`.
pub async fn unlock(
    State(state): State<AppState>,
    LfsCaller(caller): LfsCaller,
    route: LfsRepoPath,
    body: Bytes,
) -> LfsResult<Response> {
    let (repo, principal) = route.writable(&state, &caller).await?;
    let request: UnlockRequest = parse_body(&body)?;
    let not_found = || LfsError::from(ApiError::NotFound("Lock not found".into()));
    let id: i64 = route.param("id").parse().map_err(|_| not_found())?;
    let lock = state.db.lfs_lock(repo.id, id).await?.ok_or_else(not_found)?;
    if lock.owner_id != principal.user.id && !request.force {
        return Err(ApiError::Forbidden(format!(
            "{} is locked by {}; only they can unlock it, or a maintainer with force",
            lock.path, lock.owner_name
        ))
        .into());
    }
    if !state.db.delete_lfs_lock(repo.id, id).await? {
        return Err(not_found());
    }
    tracing::info!(
        repo.id = repo.id,
        user.id = principal.user.id,
        lfs.lock_id = id,
        lfs.forced = lock.owner_id != principal.user.id,
        "LFS lock removed"
    );
    Ok(answer(StatusCode::OK, json!({ "lock": lock_json(&lock) })))
}
