//! The repo a git URL names: `/{ns}/{name}[.git]/…`, with the repo type
//! taken from a `datasets/` or `spaces/` prefix (models have none).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::request::Parts;
use tessera_db::RepoType;

use crate::error::GitError;

/// The repo part of a git URL.
#[derive(Debug, Clone)]
pub struct GitRoute {
    /// Model, dataset or space.
    pub repo_type: RepoType,
    /// The owner.
    pub namespace: String,
    /// The repo name, without `.git`.
    pub name: String,
}

impl<S: Send + Sync> FromRequestParts<S> for GitRoute {
    type Rejection = GitError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let matched = MatchedPath::from_request_parts(parts, state)
            .await
            .map_err(|_| GitError::BadRequest("not a git route".into()))?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|error| GitError::BadRequest(format!("bad repo path: {error}")))?;
        let param = |key: &str| params.get(key).map_or("", String::as_str);
        let name = param("repo");
        let name = name.strip_suffix(".git").unwrap_or(name);
        if param("namespace").is_empty() || name.is_empty() {
            return Err(GitError::RepoNotFound);
        }
        Ok(Self {
            repo_type: RepoType::from_url_path(matched.as_str()),
            namespace: param("namespace").to_owned(),
            name: name.to_owned(),
        })
    }
}
