//! The web UI's error type: every failure is a page in the site's layout
//! with the status the API would give (a private repo is the same 404 as a
//! missing one); internal causes are logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_api::ApiError;

use crate::render::{Page, render_error};

/// Result of a page handler.
pub type WebResult<T> = Result<T, WebError>;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Anything the shared API layer refused or failed at.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A template failed to render (a bug of ours).
    #[error("template: {0}")]
    Template(#[from] tera::Error),
}

impl From<tessera_db::DbError> for WebError {
    fn from(error: tessera_db::DbError) -> Self {
        Self::Api(error.into())
    }
}

impl WebError {
    /// The status and the visitor-facing title and message.
    fn describe(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Api(ApiError::RepoNotFound | ApiError::RevisionNotFound(_) | ApiError::EntryNotFound { .. })
            | Self::Api(ApiError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "Not found", "This page does not exist, or you may not see it.".to_owned())
            }
            Self::Api(ApiError::Gated { message, .. }) => (StatusCode::FORBIDDEN, "Gated repository", message.clone()),
            Self::Api(error @ (ApiError::Unauthorized(_) | ApiError::Forbidden(_))) => {
                (error.status(), "Not allowed", error.to_string())
            }
            Self::Api(error @ (ApiError::BadRequest(_) | ApiError::Unprocessable(_))) => {
                (error.status(), "Bad request", error.to_string())
            }
            Self::Api(error) if !error.status().is_server_error() => {
                (error.status(), "Cannot show this page", error.to_string())
            }
            internal => {
                tracing::error!(error.cause = %internal, "web page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Server error", "Something went wrong on our side.".to_owned())
            }
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        // A moved repo's old name: the API's redirect (the shared middleware sets its Location).
        if let Self::Api(moved @ ApiError::RepoMoved(_)) = self {
            return moved.into_response();
        }
        let (status, title, message) = self.describe();
        match render_error(status, title, &message) {
            Ok(page) => page.into_response(),
            Err(error) => {
                tracing::error!(error.cause = %error, "error page failed");
                Page::plain(status, message).into_response()
            }
        }
    }
}

/// What a form shows above itself when the server refused it for a reason
/// the visitor can fix (bad input, a name taken, a missing right): the
/// status and message; any other error is passed on to the error page.
pub fn form_refusal(error: ApiError) -> WebResult<(StatusCode, String)> {
    match error {
        ApiError::BadRequest(_)
        | ApiError::Unprocessable(_)
        | ApiError::Conflict { .. }
        | ApiError::Forbidden(_)
        | ApiError::NotFound(_) => Ok((error.status(), error.to_string())),
        other => Err(other.into()),
    }
}
