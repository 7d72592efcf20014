//! Clone and fetch: the ref advertisement (`GET …/info/refs`) and
//! `POST …/git-upload-pack`, both answered by `git upload-pack
//! --stateless-rpc` over the repo's cached copy, brought up to date from the
//! DB first. Protocol v2 is passed to git through `GIT_PROTOCOL`.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tessera_api::access::OldName;
use tessera_api::auth::Caller;
use tessera_api::repo_url::RepoUrl;
use tessera_api::time::now_ms;
use tessera_api::{ApiError, AppState};
use tessera_formats::pktline::{FLUSH, write_packet};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, ReadBuf};
use tokio::process::Command;
use tokio_util::io::ReaderStream;

use crate::access::{Need, authorize};
use crate::body;
use crate::error::GitError;
use crate::receive;
use crate::router::GitService;

/// The largest upload-pack request accepted (wants and haves), after inflating.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024 * 1024;

/// Read size for streaming git's output into the response.
const STREAM_CHUNK: usize = 64 * 1024;

/// How long a fetch waits for a pack job permit before it is answered 503.
const PERMIT_WAIT: Duration = Duration::from_secs(30);

/// How long git's output may go unread (git sends keep-alives every 5 s
/// while it prepares a pack) before git is stopped.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// How often the idle limit is checked.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// How much of git's stderr is kept for the log.
const MAX_STDERR: u64 = 16 * 1024;

/// `GET …/info/refs?service=git-upload-pack|git-receive-pack`.
pub async fn info_refs(
    State(state): State<AppState>,
    Extension(git): Extension<Arc<GitService>>,
    caller: Result<Caller, ApiError>,
    route: RepoUrl,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, GitError> {
    match query.get("service").map(String::as_str) {
        Some("git-upload-pack") => {}
        Some("git-receive-pack") => {
            let repo = authorize(&state, caller, &route, Need::Write, OldName::Redirect).await?;
            return receive::advertise(&state, &repo).await;
        }
        _ => return Err(GitError::Forbidden("Only the smart HTTP protocol is served (git 1.6.6 or later)".into())),
    }
    let repo = authorize(&state, caller, &route, Need::Read, OldName::Redirect).await?;
    let dir = git.cache.sync(state.db.as_ref(), &repo).await?;
    let protocol = body::protocol(&headers);
    let output = upload_pack_command(&git, &dir, protocol.as_deref(), &["--http-backend-info-refs"])
        .stdin(Stdio::null())
        .output()
        .await?;
    if !output.status.success() {
        return Err(GitError::Git(format!("upload-pack: {}", String::from_utf8_lossy(&output.stderr).trim())));
    }
    // As git http-backend: the service line only for v0/v1.
    let mut advertisement = Vec::with_capacity(output.stdout.len() + 40);
    if !body::is_v2(protocol.as_deref()) {
        write_packet(&mut advertisement, b"# service=git-upload-pack\n");
        advertisement.extend_from_slice(FLUSH);
    }
    advertisement.extend_from_slice(&output.stdout);
    Ok(git_response("application/x-git-upload-pack-advertisement", Body::from(advertisement)))
}

/// `POST …/git-upload-pack`: negotiation and the pack, streamed from git.
pub async fn upload_pack(
    State(state): State<AppState>,
    Extension(git): Extension<Arc<GitService>>,
    caller: Result<Caller, ApiError>,
    route: RepoUrl,
    headers: HeaderMap,
    request: Bytes,
) -> Result<Response, GitError> {
    let repo = authorize(&state, caller, &route, Need::Read, OldName::Serve).await?;
    let request = body::decode(&headers, request, MAX_REQUEST_BYTES)?;
    let dir = git.cache.sync(state.db.as_ref(), &repo).await?;
    let permit = tokio::time::timeout(PERMIT_WAIT, git.pack_jobs.clone().acquire_owned())
        .await
        .map_err(|_| GitError::Busy)?
        .map_err(|_| GitError::Git("the pack job queue is closed".into()))?;
    let protocol = body::protocol(&headers);
    let mut child = upload_pack_command(&git, &dir, protocol.as_deref(), &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| GitError::Git(format!("cannot run git upload-pack: {error}")))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(GitError::Git("upload-pack pipes missing".into()));
    };
    tokio::spawn(async move {
        // git may stop reading early (a bad request); its exit status tells.
        let _ = stdin.write_all(&request).await;
    });
    let repo_id = repo.id;
    let dir_name = display_dir(&dir);
    let last_read = Arc::new(AtomicI64::new(now_ms()));
    let output = Watched { inner: stdout, last_read: last_read.clone() };
    tokio::spawn(async move {
        let errors = tokio::spawn(async move {
            let mut errors = String::new();
            let _ = stderr.take(MAX_STDERR).read_to_string(&mut errors).await;
            errors
        });
        // A client that stops reading blocks git, and git holds a permit:
        // past the idle limit git is killed.
        let mut ticks = tokio::time::interval(IDLE_CHECK);
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = ticks.tick() => {
                    if now_ms() - last_read.load(Ordering::Relaxed) > IDLE_LIMIT.as_millis() as i64 {
                        tracing::warn!(repo.id = repo_id, "the client stopped reading the pack; upload-pack stopped");
                        let _ = child.start_kill();
                    }
                }
            }
        };
        let errors = errors.await.unwrap_or_default();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                tracing::warn!(repo.id = repo_id, git.dir = %dir_name, git.status = %status, git.stderr = %errors.trim(), "upload-pack failed")
            }
            Err(error) => tracing::warn!(repo.id = repo_id, error = %error, "upload-pack wait failed"),
        }
        drop(permit);
    });
    Ok(git_response(
        "application/x-git-upload-pack-result",
        Body::from_stream(ReaderStream::with_capacity(output, STREAM_CHUNK)),
    ))
}

/// `git upload-pack --stateless-rpc [options] <dir>`, speaking the protocol
/// the client asked for.
fn upload_pack_command(git: &GitService, dir: &Path, protocol: Option<&str>, options: &[&str]) -> Command {
    let mut command = git.cache.git();
    command
        .args(["upload-pack", "--stateless-rpc"])
        .args(options)
        .arg(dir)
        .envs(protocol.map(|value| ("GIT_PROTOCOL", value)));
    command
}

/// git's output, noting when the response last took some of it.
struct Watched<R> {
    inner: R,
    last_read: Arc<AtomicI64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Watched<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.last_read.store(now_ms(), Ordering::Relaxed);
        }
        poll
    }
}

fn display_dir(dir: &Path) -> String {
    dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A git response: its media type, never cached.
pub fn git_response(content_type: &'static str, body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, max-age=0, must-revalidate"));
    response
}

/// Bytes as a git response body.
pub fn bytes_response(content_type: &'static str, bytes: Vec<u8>) -> Response {
    git_response(content_type, Body::from(Bytes::from(bytes)))
}
