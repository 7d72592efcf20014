//! The error answers of the Git LFS API. git-lfs shows the `message` of a
//! JSON error body and, on a 401, asks git's credential helpers for a user
//! name and password and retries, so every 401 here carries
//! `WWW-Authenticate: Basic realm="Tessera"`. The body also keeps the
//! `error` key and the `X-Error-*` headers of the Hub API for
//! huggingface_hub, which posts to the batch endpoint too.

use axum::Json;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_api::ApiError;
use tessera_api::auth::BASIC_CHALLENGE;

use crate::LFS_MEDIA_TYPE;

/// Result of an LFS handler.
pub type LfsResult<T> = Result<T, LfsError>;

/// An error answered to a Git LFS client.
#[derive(Debug, thiserror::Error)]
pub enum LfsError {
    /// Any condition the shared API error describes, with its status.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The path is locked already (409, with the lock that holds it).
    #[error("{message}")]
    LockExists {
        /// Why, for people.
        message: String,
        /// The lock that holds the path, as the locking API shows locks.
        lock: Value,
    },
}

impl IntoResponse for LfsError {
    fn into_response(self) -> Response {
        let (message, lock) = match &self {
            Self::Api(ApiError::Internal(_)) => ("Internal server error".to_owned(), None),
            Self::Api(error) => (error.to_string(), None),
            Self::LockExists { message, lock } => (message.clone(), Some(lock.clone())),
        };
        let mut body = json!({ "message": message, "error": message });
        // The shared error sets the status, the `X-Error-*` headers and logs
        // internal failures once; only its body is replaced.
        let mut response = match self {
            Self::Api(error) => error.into_response(),
            Self::LockExists { .. } => StatusCode::CONFLICT.into_response(),
        };
        if let Some(lock) = lock {
            body["lock"] = lock;
        }
        let status = response.status();
        let mut replaced = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.remove(CONTENT_LENGTH);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(LFS_MEDIA_TYPE));
        std::mem::swap(replaced.headers_mut(), headers);
        std::mem::swap(replaced.extensions_mut(), response.extensions_mut());
        let headers = replaced.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
        }
        replaced
    }
}

impl From<tessera_db::DbError> for LfsError {
    fn from(error: tessera_db::DbError) -> Self {
        Self::Api(error.into())
    }
}
