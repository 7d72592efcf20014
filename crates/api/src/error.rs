//! The API error type. Every handler returns [`ApiResult`]; the response
//! carries HF's error headers so `huggingface_hub` raises the right exception:
//! `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`),
//! `X-Error-Message`, and a JSON body `{"error": "…"}`.
//!
//! Internal failures are logged once here and answered with a generic message.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::json;
use tessera_db::Repo;

use crate::state::App;

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The repo does not exist or the caller may not see it (404 `RepoNotFound`).
    #[error("Repository not found")]
    RepoNotFound,
    /// The revision does not exist (404 `RevisionNotFound`).
    #[error("Invalid rev id: {0}")]
    RevisionNotFound(String),
    /// The path does not exist at the revision (404 `EntryNotFound`).
    #[error("{message}")]
    EntryNotFound {
        /// What is missing, e.g. `Entry not found: a/b.txt`.
        message: String,
        /// The commit that was searched, sent as `X-Repo-Commit`.
        commit: Option<String>,
    },
    /// The repo is gated and the caller has no accepted access request:
    /// 401 for anonymous callers, else 403, with `X-Error-Code: GatedRepo`.
    #[error("{message}")]
    Gated {
        /// Whether the caller is anonymous.
        anonymous: bool,
        /// What to do about it.
        message: String,
    },
    /// The repo was moved: 307 to the same URL with its new id (the
    /// `Location` is set by [`crate::access::locate_moved_repos`]).
    #[error("Repository moved to {}", .0.to)]
    RepoMoved(MovedRepo),
    /// Something else is missing (404).
    #[error("{0}")]
    NotFound(String),
    /// Malformed input (400).
    #[error("{0}")]
    BadRequest(String),
    /// No or bad credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials valid but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// A name is taken (409); `url` names the existing resource.
    #[error("{message}")]
    Conflict {
        /// What collided.
        message: String,
        /// The existing resource's URL, when there is one.
        url: Option<String>,
    },
    /// The branch moved since the caller looked (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// A byte range starts past the end (416).
    #[error("Requested range not satisfiable")]
    RangeNotSatisfiable {
        /// The full size, for `Content-Range: bytes */size`.
        size: u64,
    },
    /// Well-formed but invalid input (422).
    #[error("{0}")]
    Unprocessable(String),
    /// Too busy right now; retry after the given seconds (503).
    #[error("server busy, retry later")]
    Busy {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// A failure of ours (500); the cause is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::RepoNotFound | Self::RevisionNotFound(_) | Self::EntryNotFound { .. } | Self::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            Self::Gated { anonymous: true, .. } => StatusCode::UNAUTHORIZED,
            Self::Gated { anonymous: false, .. } => StatusCode::FORBIDDEN,
            Self::RepoMoved(_) => StatusCode::TEMPORARY_REDIRECT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// HF's `X-Error-Code`, for the errors clients classify by it.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::RepoNotFound => Some("RepoNotFound"),
            Self::RevisionNotFound(_) => Some("RevisionNotFound"),
            Self::EntryNotFound { .. } => Some("EntryNotFound"),
            Self::Gated { .. } => Some("GatedRepo"),
            _ => None,
        }
    }

    /// 404 `EntryNotFound` for `path` at `commit`.
    pub fn entry_not_found(path: &str, commit: Option<String>) -> Self {
        Self::EntryNotFound { message: format!("Entry not found: {path}"), commit }
    }

    /// The `GatedRepo` error for `repo`, worded as huggingface.co words it.
    pub fn gated(app: &App, repo: &Repo, anonymous: bool) -> Self {
        let what = format!("{} {}", repo.repo_type.as_str(), repo.full_name());
        let message = if anonymous {
            format!(
                "Access to {what} is restricted. You must have access to it and be authenticated to access it. Please log in."
            )
        } else {
            let url = app.url(&format!("/{}{}", repo.repo_type.url_prefix(), repo.full_name()));
            format!(
                "Access to {what} is restricted and you are not in the authorized list. Visit {url} to ask for access."
            )
        };
        Self::Gated { anonymous, message }
    }

    /// Wraps any error as an internal one.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

/// A repo id that now names another: `from` as the request spelled it, `to` canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedRepo {
    /// The old `namespace/name`, as requested.
    pub from: String,
    /// The new `namespace/name`.
    pub to: String,
}

impl MovedRepo {
    /// `path_and_query` with the first pair of path segments that decode to
    /// the old `namespace` and `name` (the name may carry `.git`) replaced
    /// by the new id; `None` if the path names no such pair.
    pub fn relocate(&self, path_and_query: &str) -> Option<String> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let (from_namespace, from_name) = self.from.split_once('/')?;
        let decode = |segment: &str| percent_decode_str(segment).decode_utf8_lossy().into_owned();
        let mut segments: Vec<String> = path.split('/').map(str::to_owned).collect();
        let at = (0..segments.len().saturating_sub(1)).find(|&i| {
            let name = decode(&segments[i + 1]);
            decode(&segments[i]) == from_namespace && name.strip_suffix(".git").unwrap_or(&name) == from_name
        })?;
        let (to_namespace, to_name) = self.to.split_once('/')?;
        let git_suffix = if decode(&segments[at + 1]).ends_with(".git") { ".git" } else { "" };
        segments[at] = to_namespace.to_owned();
        segments[at + 1] = format!("{to_name}{git_suffix}");
        let path = segments.join("/");
        Some(match query {
            Some(query) => format!("{path}?{query}"),
            None => path,
        })
    }
}

/// Header values must be visible ASCII; anything else is replaced.
fn header_safe(message: &str) -> HeaderValue {
    let cleaned: String =
        message.chars().take(500).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    HeaderValue::from_str(&cleaned).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(error.cause = %cause, "internal error");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let mut headers = HeaderMap::new();
        if let Some(code) = self.code() {
            headers.insert(HeaderName::from_static("x-error-code"), HeaderValue::from_static(code));
        }
        headers.insert(HeaderName::from_static("x-error-message"), header_safe(&message));
        let mut body = json!({ "error": message });
        match &self {
            Self::EntryNotFound { commit: Some(commit), .. } => {
                headers.insert(HeaderName::from_static("x-repo-commit"), header_safe(commit));
            }
            Self::Conflict { url: Some(url), .. } => body["url"] = json!(url),
            Self::RangeNotSatisfiable { size } => {
                headers.insert(header::CONTENT_RANGE, header_safe(&format!("bytes */{size}")));
            }
            Self::Busy { retry_after } => {
                headers.insert(header::RETRY_AFTER, header_safe(&retry_after.to_string()));
            }
            _ => {}
        }
        let mut response = (self.status(), headers, Json(body)).into_response();
        if let Self::RepoMoved(moved) = self {
            response.extensions_mut().insert(moved);
        }
        response
    }
}

impl From<tessera_db::DbError> for ApiError {
    fn from(error: tessera_db::DbError) -> Self {
        match error {
            tessera_db::DbError::Conflict { what } => {
                Self::Conflict { message: format!("{what} already exists"), url: None }
            }
            other => Self::internal(other),
        }
    }
}

impl From<tessera_storage::StorageError> for ApiError {
    fn from(error: tessera_storage::StorageError) -> Self {
        Self::internal(error)
    }
}

impl From<tessera_formats::FormatError> for ApiError {
    fn from(error: tessera_formats::FormatError) -> Self {
        Self::BadRequest(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_repos_relocate() {
        let moved = MovedRepo { from: "Alice/old".into(), to: "acme/new".into() };
        assert_eq!(
            moved.relocate("/api/models/Alice/old/tree/main").as_deref(),
            Some("/api/models/acme/new/tree/main")
        );
        assert_eq!(
            moved.relocate("/Alice/old.git/info/refs?service=x").as_deref(),
            Some("/acme/new.git/info/refs?service=x")
        );
        assert_eq!(moved.relocate("/Alice/old").as_deref(), Some("/acme/new"));
        assert_eq!(moved.relocate("/Alice/older/x"), None);
        assert_eq!(
            moved.relocate("/api/models/Alice/ol%64/tree/refs%2Fpr%2F1?x=1").as_deref(),
            Some("/api/models/acme/new/tree/refs%2Fpr%2F1?x=1"),
            "percent-encoded ids are found, other segments kept as sent"
        );
    }
}
