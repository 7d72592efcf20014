//! The repo page `/[datasets/|spaces/]{ns}/{name}`: the model card, its
//! metadata chips, the sidebar (files, size, storage) and copy boxes for
//! the clients; and what other pages share about repos.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use tessera_api::access::RepoAction;
use tessera_api::time::iso8601;
use tessera_api::{ApiError, AppState};
use tessera_db::{Repo, RepoType};
use tessera_hub::extract::RepoPath;
use tessera_hub::repo_model::tree::{Describer, Node, list, lookup};
use tessera_hub::repo_model::{self, MAIN_BRANCH, load};

use crate::error::WebResult;
use crate::markdown::{Card, LinkBase, render_card};
use crate::render::{decimal_size, render};
use crate::session::Visitor;

/// Largest README rendered as a card.
const MAX_CARD_BYTES: u64 = 512 * 1024;

/// A repo as listings and headers show it.
#[derive(Debug, Clone, Serialize)]
pub struct RepoSummary {
    /// `ns/name`.
    pub id: String,
    /// `model`, `dataset` or `space`.
    pub kind: &'static str,
    /// Its web path.
    pub url: String,
    /// Whether it is private.
    pub private: bool,
    /// `auto` or `manual` when gated.
    pub gated: Option<&'static str>,
    /// Last change, ISO 8601.
    pub updated: String,
}

impl RepoSummary {
    /// The summary of `repo`.
    pub fn of(repo: &Repo) -> Self {
        Self {
            id: repo.full_name(),
            kind: repo.repo_type.as_str(),
            url: web_path(repo),
            private: repo.private,
            gated: repo.gating.as_setting(),
            updated: iso8601(repo.updated_at),
        }
    }
}

/// A repo's web path: `/[datasets/|spaces/]{ns}/{name}`.
pub fn web_path(repo: &Repo) -> String {
    format!("/{}{}", repo.repo_type.url_prefix(), repo.full_name())
}

/// A revision as one URL path segment (`refs/pr/1` → `refs%2Fpr%2F1`).
pub fn encode_revision(revision: &str) -> String {
    utf8_percent_encode(revision, NON_ALPHANUMERIC).to_string()
}

/// The copy-box commands of a repo.
#[derive(Debug, Serialize)]
struct CopyBoxes {
    hf_download: String,
    endpoint: String,
    git_clone: String,
    python: String,
}

fn copy_boxes(state: &AppState, repo: &Repo) -> CopyBoxes {
    let type_flag = match repo.repo_type {
        RepoType::Model => String::new(),
        other => format!(" --repo-type {}", other.as_str()),
    };
    let type_arg = match repo.repo_type {
        RepoType::Model => String::new(),
        other => format!(", repo_type=\"{}\"", other.as_str()),
    };
    CopyBoxes {
        hf_download: format!("hf download {}{type_flag}", repo.full_name()),
        endpoint: format!("export HF_ENDPOINT={}", state.public_url),
        git_clone: format!("git clone {}", state.url(&web_path(repo))),
        python: format!(
            "from huggingface_hub import snapshot_download\nsnapshot_download(\"{}\"{type_arg})",
            repo.full_name()
        ),
    }
}

#[derive(Debug, Serialize)]
struct RepoPage {
    repo: RepoSummary,
    tab: &'static str,
    revision: String,
    revision_path: String,
    card: Option<Card>,
    readme_note: Option<&'static str>,
    file_count: usize,
    total_size: String,
    commit: Option<String>,
    copy: CopyBoxes,
}

/// `GET /[datasets/|spaces/]{ns}/{name}`; a browser opening a clone URL
/// (`….git`) is sent to the repo page.
pub async fn show(State(state): State<AppState>, visitor: Visitor, route: RepoPath) -> WebResult<Response> {
    let caller = &visitor.0;
    if let Some(name) = route.name.strip_suffix(".git") {
        let prefix = route.repo_type.url_prefix();
        return Ok(Redirect::permanent(&format!("/{prefix}{}/{name}", route.namespace)).into_response());
    }
    let repo = route.authorized(&state, caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let revision = MAIN_BRANCH.to_owned();
    let links = LinkBase { repo_path: web_path(&repo), revision: encode_revision(&revision) };
    let mut page = RepoPage {
        repo: RepoSummary::of(&repo),
        tab: "card",
        revision_path: links.revision.clone(),
        revision,
        card: None,
        readme_note: None,
        file_count: 0,
        total_size: decimal_size(0),
        commit: None,
        copy: copy_boxes(&state, &repo),
    };
    let resolved = match repo_model::resolve_revision(db, repo.id, MAIN_BRANCH).await {
        Ok(resolved) => resolved,
        Err(ApiError::RevisionNotFound(_)) => {
            page.readme_note = Some("This repository has no main branch yet.");
            return Ok(render(&visitor, "repo.html", &page)?.into_response());
        }
        Err(error) => return Err(error.into()),
    };
    page.commit = Some(resolved.id.hex());
    let mut describer = Describer::new(db, repo.id);
    let files: Vec<_> = list(db, &Node::root(resolved.commit.tree), true)
        .await?
        .into_iter()
        .filter(|node| !node.is_dir())
        .map(|node| node.id)
        .collect();
    describer.prefetch(&files).await?;
    let mut total = 0;
    for blob_id in &files {
        total += describer.describe(*blob_id).await?.size;
    }
    page.file_count = files.len();
    page.total_size = decimal_size(total);
    match lookup(db, resolved.commit.tree, "README.md").await? {
        Some(node) if !node.is_dir() => {
            let details = describer.describe(node.id).await?;
            if details.lfs.is_some() {
                page.readme_note = Some("The README is stored in Xet or LFS; open it from the file list.");
            } else if details.size > MAX_CARD_BYTES {
                page.readme_note = Some("The README is too large to render here.");
            } else {
                let blob = load(db, &node.id).await?;
                page.card = Some(render_card(&String::from_utf8_lossy(&blob.data), &links));
            }
        }
        _ => page.readme_note = Some("No model card"),
    }
    Ok(render(&visitor, "repo.html", &page)?.into_response())
}
