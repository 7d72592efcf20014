//! The repo a git or git-lfs URL names: `/[datasets/|spaces/]{namespace}/{repo}[.git]/…`.
//! git-lfs derives its URLs from the git remote, so the `.git` suffix is
//! optional on both surfaces; the type comes from the prefix (models have none).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::request::Parts;
use tessera_db::RepoType;

use crate::error::ApiError;

/// The repo part of a git or git-lfs URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// Model, dataset or space.
    pub repo_type: RepoType,
    /// The owner.
    pub namespace: String,
    /// The repo name, without `.git`.
    pub name: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RepoUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(format!("Invalid path: {rejection}")))?;
        let repo_type = RepoType::from_url_path(parts.extensions.get::<MatchedPath>().map_or("", MatchedPath::as_str));
        let param = |key: &str| params.get(key).map_or("", String::as_str);
        let name = param("repo");
        let name = name.strip_suffix(".git").unwrap_or(name);
        if param("namespace").is_empty() || name.is_empty() {
            return Err(ApiError::RepoNotFound);
        }
        Ok(Self { repo_type, namespace: param("namespace").to_owned(), name: name.to_owned() })
    }
}
