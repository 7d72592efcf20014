//! Request plumbing shared by the handlers: the repo named by the route
//! (with its percent-decoded parameters), form bodies with repeated keys,
//! query flags, absolute URLs and `Link` pagination.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Uri};
use percent_encoding::percent_decode_str;
use tessera_api::access::{RepoAction, repo_for};
use tessera_api::auth::Caller;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::{Repo, RepoType};

use crate::repo_model::MAIN_BRANCH;

/// The repo a route names — `/api/{repo_type}/{namespace}/{name}/…`, or
/// `/[datasets/|spaces/]{namespace}/{name}/…` for file routes — and the
/// route's other parameters, percent-decoded (`%2F` becomes `/`).
#[derive(Debug, Clone)]
pub struct RepoPath {
    /// The repo type.
    pub repo_type: RepoType,
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    params: HashMap<String, String>,
}

impl RepoPath {
    /// A route parameter (`rev`, `path`, `branch`, `tag`), empty if absent.
    pub fn param(&self, key: &str) -> &str {
        self.params.get(key).map_or("", String::as_str)
    }

    /// `namespace/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The `rev` parameter, `main` when the route has none.
    pub fn revision(&self) -> &str {
        match self.param("rev") {
            "" => MAIN_BRANCH,
            rev => rev,
        }
    }

    /// The named repo, if the caller may do `action` on it (else 404
    /// `RepoNotFound`, `GatedRepo`, 401 or 403, per the access rule).
    pub async fn authorized(&self, state: &AppState, caller: &Caller, action: RepoAction) -> ApiResult<Repo> {
        repo_for(state, caller, self.repo_type, &self.namespace, &self.name, action).await
    }
}

impl FromRequestParts<AppState> for RepoPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(format!("Invalid path: {rejection}")))?;
        let repo_type = match params.get("repo_type") {
            Some(plural) => RepoType::from_plural(plural).ok_or(ApiError::RepoNotFound)?,
            None => RepoType::from_url_path(parts.extensions.get::<MatchedPath>().map_or("", MatchedPath::as_str)),
        };
        let get = |key: &str| params.get(key).cloned().ok_or(ApiError::RepoNotFound);
        Ok(Self { repo_type, namespace: get("namespace")?, name: get("name")?, params })
    }
}

/// The web URL of a repo: `{public_url}/[datasets/|spaces/]{ns}/{name}`.
pub fn repo_url(state: &AppState, repo: &Repo) -> String {
    state.url(&format!("/{}{}", repo.repo_type.url_prefix(), repo.full_name()))
}

/// The Hub's 24-hex `_id` for a repo.
pub fn repo_object_id(repo: &Repo) -> String {
    format!("{:024x}", repo.id)
}

/// Whether a query flag is set (`1`, `true`, `True`).
pub fn flag(query: &HashMap<String, String>, key: &str) -> bool {
    query.get(key).is_some_and(|value| matches!(value.as_str(), "1" | "true" | "True"))
}

/// Decodes an `application/x-www-form-urlencoded` body, keeping repeated keys.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// `Link: <{public_url}{path}?{query with cursor}>; rel="next"` for the request `uri`.
pub fn next_link(state: &AppState, uri: &Uri, cursor: &str) -> ApiResult<HeaderValue> {
    let mut query: Vec<&str> =
        uri.query().unwrap_or("").split('&').filter(|pair| !pair.is_empty() && !pair.starts_with("cursor=")).collect();
    let cursor_pair = format!("cursor={cursor}");
    query.push(&cursor_pair);
    let url = state.url(&format!("{}?{}", uri.path(), query.join("&")));
    HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).map_err(ApiError::internal)
}

/// A page of `items` starting at the request's `cursor` (an offset).
pub fn page_bounds(query: &HashMap<String, String>, total: usize, page_size: usize) -> (usize, usize) {
    let start = query.get("cursor").and_then(|cursor| cursor.parse::<usize>().ok()).unwrap_or(0).min(total);
    (start, (start + page_size).min(total))
}

/// Normalizes a path of a commit operation: strips leading `/` and `./`,
/// then rejects empty, `.`/`..` and `.git` segments, backslashes and
/// control characters (422).
pub fn normalize_repo_path(path: &str) -> ApiResult<String> {
    let mut rest = path;
    loop {
        if let Some(stripped) = rest.strip_prefix('/') {
            rest = stripped;
        } else if let Some(stripped) = rest.strip_prefix("./") {
            rest = stripped;
        } else {
            break;
        }
    }
    let invalid = |why: &str| ApiError::Unprocessable(format!("Invalid path {path:?}: {why}"));
    if rest.is_empty() {
        return Err(invalid("empty path"));
    }
    if rest.len() > 4096 {
        return Err(invalid("too long"));
    }
    if rest.contains('\\') || rest.chars().any(char::is_control) {
        return Err(invalid("backslashes and control characters are not allowed"));
    }
    for segment in rest.split('/') {
        match segment {
            "" => return Err(invalid("empty path segment")),
            "." | ".." => return Err(invalid("relative path segments are not allowed")),
            ".git" => return Err(invalid("the .git folder is reserved")),
            _ => {}
        }
    }
    Ok(rest.to_owned())
}

/// Parses a JSON body (400 with serde's message on failure).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|error| ApiError::BadRequest(format!("Invalid JSON body: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_or_fail() {
        assert_eq!(normalize_repo_path("/./a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(normalize_repo_path("sub dir/w.bin").unwrap(), "sub dir/w.bin");
        for bad in ["", "/", "a//b", "../x", "a/../b", "..\\ddd", ".git/config", "a/.git/x", "a/"] {
            assert!(normalize_repo_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forms_keep_repeated_keys() {
        assert_eq!(
            form_pairs(b"paths=a.txt&paths=sub+dir%2Fw.bin&expand=false"),
            vec![
                ("paths".to_owned(), "a.txt".to_owned()),
                ("paths".to_owned(), "sub dir/w.bin".to_owned()),
                ("expand".to_owned(), "false".to_owned()),
            ]
        );
    }
}
