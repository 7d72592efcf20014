//! The front page and the listings `/models`, `/datasets` and `/spaces`
//! (`search`, `author`, `sort`, `p`), showing only repos the visitor may see.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_api::AppState;
use tessera_api::access::Viewer;
use tessera_db::{Repo, RepoType};

use crate::error::WebResult;
use crate::render::render;
use crate::repos::RepoSummary;
use crate::session::Visitor;

/// Repos per listing page.
const PAGE_SIZE: usize = 30;

/// Repos per type on the front page.
const HOME_RECENT: usize = 10;

/// The repos of a type the visitor may see, most recently updated first.
async fn visible_repos(state: &AppState, viewer: &Viewer<'_>, repo_type: RepoType) -> WebResult<Vec<Repo>> {
    let mut repos: Vec<Repo> =
        state.db.list_repos(repo_type).await?.into_iter().filter(|repo| viewer.can_see(repo)).collect();
    repos.sort_by_key(|repo| std::cmp::Reverse(repo.updated_at));
    Ok(repos)
}

#[derive(Debug, Serialize)]
struct Section {
    title: &'static str,
    url: &'static str,
    repos: Vec<RepoSummary>,
}

#[derive(Debug, Serialize)]
struct HomePage {
    sections: Vec<Section>,
}

/// `GET /`: the most recently updated repos of each type.
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> WebResult<Response> {
    let caller = &visitor.0;
    let viewer = Viewer::new(&state, caller).await?;
    let mut sections = Vec::new();
    for (repo_type, title, url) in [
        (RepoType::Model, "Models", "/models"),
        (RepoType::Dataset, "Datasets", "/datasets"),
        (RepoType::Space, "Spaces", "/spaces"),
    ] {
        let repos = visible_repos(&state, &viewer, repo_type).await?;
        sections.push(Section { title, url, repos: repos.iter().take(HOME_RECENT).map(RepoSummary::of).collect() });
    }
    Ok(render(&visitor, "home.html", &HomePage { sections })?.into_response())
}

#[derive(Debug, Serialize)]
struct ListingPage {
    title: &'static str,
    path: String,
    search: String,
    author: String,
    sort: String,
    total: usize,
    repos: Vec<RepoSummary>,
    previous: Option<String>,
    next: Option<String>,
}

/// `GET /models`, `/datasets`, `/spaces`: a page of repos, filtered by
/// `search` (in the id) and `author`, sorted by `sort` (`updated`,
/// `created`, `name`), paged by `p` (from 0).
pub async fn listing(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
) -> WebResult<Response> {
    let caller = &visitor.0;
    let repo_type = RepoType::from_plural(uri.path().trim_matches('/')).unwrap_or(RepoType::Model);
    let title = match repo_type {
        RepoType::Model => "Models",
        RepoType::Dataset => "Datasets",
        RepoType::Space => "Spaces",
    };
    let viewer = Viewer::new(&state, caller).await?;
    let search = query.get("search").cloned().unwrap_or_default();
    let author = query.get("author").cloned().unwrap_or_default();
    let sort = query.get("sort").cloned().unwrap_or_else(|| "updated".to_owned());
    let needle = search.to_lowercase();
    let mut repos: Vec<Repo> = visible_repos(&state, &viewer, repo_type)
        .await?
        .into_iter()
        .filter(|repo| needle.is_empty() || repo.full_name().to_lowercase().contains(&needle))
        .filter(|repo| author.is_empty() || repo.namespace.eq_ignore_ascii_case(&author))
        .collect();
    match sort.as_str() {
        "created" => repos.sort_by_key(|repo| std::cmp::Reverse(repo.created_at)),
        "name" => repos.sort_by_key(|repo| repo.full_name().to_lowercase()),
        _ => {}
    }
    let page: usize = query.get("p").and_then(|p| p.parse().ok()).unwrap_or(0);
    let start = (page * PAGE_SIZE).min(repos.len());
    let end = (start + PAGE_SIZE).min(repos.len());
    let link = |p: usize| {
        let mut pairs = vec![format!("p={p}"), format!("sort={sort}")];
        for (key, value) in [("search", &search), ("author", &author)] {
            if !value.is_empty() {
                pairs.push(format!(
                    "{key}={}",
                    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                ));
            }
        }
        format!("{}?{}", uri.path(), pairs.join("&"))
    };
    let listing = ListingPage {
        title,
        path: uri.path().to_owned(),
        total: repos.len(),
        repos: repos[start..end].iter().map(RepoSummary::of).collect(),
        previous: (page > 0).then(|| link(page - 1)),
        next: (end < repos.len()).then(|| link(page + 1)),
        search,
        author,
        sort,
    };
    Ok(render(&visitor, "listing.html", &listing)?.into_response())
}
