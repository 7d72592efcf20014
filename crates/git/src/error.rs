//! The git surface's error type. git clients show the status line and, for
//! some statuses, the body; 401 carries the `WWW-Authenticate` challenge so
//! git runs its credential helpers and asks again.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_api::ApiError;
use tessera_api::auth::BASIC_CHALLENGE;

/// An error answered to a git client.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// A malformed request (400).
    #[error("{0}")]
    BadRequest(String),
    /// Too many clones are being packed right now (503 with `Retry-After`).
    #[error("The server is busy packing other clones; try again shortly")]
    Busy,
    /// Running or talking to the `git` binary failed (500; the cause is logged).
    #[error("git failed: {0}")]
    Git(String),
    /// Reading or writing the cache failed (500; the cause is logged).
    #[error("cache I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// Any other API error (metadata store failures, mostly).
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<tessera_db::DbError> for GitError {
    fn from(error: tessera_db::DbError) -> Self {
        Self::Api(error.into())
    }
}

impl IntoResponse for GitError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            // No credentials, or bad ones, where they are needed: 401 with a Basic challenge.
            Self::Api(ApiError::Unauthorized(why)) => {
                (StatusCode::UNAUTHORIZED, format!("{why}: use your user name and an access token as password"))
            }
            Self::Api(error) => return error.into_response(),
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, message),
            Self::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, Self::Busy.to_string()),
            internal @ (Self::Git(_) | Self::Io(_)) => {
                tracing::error!(error.cause = %internal, "git request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error".to_owned())
            }
        };
        let mut response =
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n")).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
        }
        response
    }
}
