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

use crate::error::{WebResult, form_refusal};
use crate::markdown::{Card, LinkBase, render_card};
use crate::render::{decimal_size, render};
use crate::session::{Visitor, form_fields, sign_in_first};
use crate::storage::{StoragePanel, panel};
use std::collections::BTreeMap;
use tessera_hub::repos::{apply_settings, relocate_repo};

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
    storage: Option<StoragePanel>,
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
        storage: None,
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
    let mut large_files = BTreeMap::new();
    for blob_id in &files {
        let details = describer.describe(*blob_id).await?;
        total += details.size;
        if let Some(xet_hash) = details.lfs.and_then(|lfs| lfs.xet_hash) {
            large_files.insert(xet_hash, details.size);
        }
    }
    page.storage = panel(db, &large_files).await?;
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

/// The repo type a `/new…` page creates.
fn new_page_type(path: &str) -> RepoType {
    match path {
        "/new-dataset" => RepoType::Dataset,
        "/new-space" => RepoType::Space,
        _ => RepoType::Model,
    }
}

#[derive(Debug, Serialize)]
struct NewRepoPage {
    kind: &'static str,
    action: String,
    owners: Vec<String>,
    owner: String,
    name: String,
    private: bool,
    error: Option<String>,
}

/// The namespaces the signed-in user may create repos in: their own, then
/// their organizations where they are at least a contributor.
async fn owners(state: &AppState, user: &tessera_db::User) -> WebResult<Vec<String>> {
    let mut owners = vec![user.name.clone()];
    for membership in state.db.user_orgs(user.id).await? {
        if membership.role >= tessera_db::OrgRole::Contributor {
            owners.push(membership.org.name);
        }
    }
    Ok(owners)
}

/// `GET /new`, `/new-dataset`, `/new-space`: the form for a new repo.
pub async fn new_form(State(state): State<AppState>, visitor: Visitor, uri: axum::http::Uri) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else {
        return Ok(sign_in_first(uri.path()));
    };
    let owners = owners(&state, &principal.user).await?;
    let page = NewRepoPage {
        kind: new_page_type(uri.path()).as_str(),
        action: uri.path().to_owned(),
        owner: principal.user.name.clone(),
        owners,
        name: String::new(),
        private: false,
        error: None,
    };
    Ok(render(&visitor, "new_repo.html", &page)?.into_response())
}

/// `POST /new…` with `owner`, `name` and `visibility`: creates the repo
/// (the API's rules and errors) and opens it.
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let Some(principal) = visitor.0.0.as_ref() else {
        return Ok(sign_in_first(uri.path()));
    };
    let form = form_fields(&body);
    let owner = form.get("owner").cloned().unwrap_or_else(|| principal.user.name.clone());
    let name = form.get("name").map(|name| name.trim().to_owned()).unwrap_or_default();
    let private = form.get("visibility").is_some_and(|visibility| visibility == "private");
    let repo_type = new_page_type(uri.path());
    match tessera_hub::repos::create_repo(&state, &visitor.0, repo_type, &owner, &name, private).await {
        Ok(repo) => Ok(Redirect::to(&web_path(&repo)).into_response()),
        Err(
            error @ (ApiError::BadRequest(_)
            | ApiError::Conflict { .. }
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)),
        ) => {
            let page = NewRepoPage {
                kind: repo_type.as_str(),
                action: uri.path().to_owned(),
                owners: owners(&state, &principal.user).await?,
                owner,
                name,
                private,
                error: Some(error.to_string()),
            };
            Ok(render(&visitor, "new_repo.html", &page)?.into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Serialize)]
struct SettingsPage {
    repo: RepoSummary,
    tab: &'static str,
    revision_path: String,
    message: Option<String>,
}

/// `GET …/settings`: visibility, gating and deletion, for those who may write the repo.
pub async fn settings(State(state): State<AppState>, visitor: Visitor, route: RepoPath) -> WebResult<Response> {
    let repo = route.authorized(&state, &visitor.0, RepoAction::Write).await?;
    let page = SettingsPage {
        repo: RepoSummary::of(&repo),
        tab: "settings",
        revision_path: encode_revision(MAIN_BRANCH),
        message: None,
    };
    Ok(render(&visitor, "repo_settings.html", &page)?.into_response())
}

/// `POST …/settings` with `action` = `visibility` (`visibility`),
/// `gating` (`gated`: `off`, `auto`, `manual`), `move` (`to`: the new
/// `namespace/name`; the old id redirects) or `delete` (`confirm`: the
/// repo's id typed out).
pub async fn update_settings(
    State(state): State<AppState>,
    visitor: Visitor,
    route: RepoPath,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let repo = route.authorized(&state, &visitor.0, RepoAction::Write).await?;
    let form = form_fields(&body);
    let field = |key: &str| form.get(key).map(String::as_str).unwrap_or_default();
    let message = match field("action") {
        "visibility" => {
            let private = field("visibility") == "private";
            apply_settings(&state, &repo, Some(private), None).await?;
            format!("{} is now {}.", repo.full_name(), if private { "private" } else { "public" })
        }
        "gating" => {
            let gating = match field("gated") {
                "auto" => tessera_db::Gating::Auto,
                "manual" => tessera_db::Gating::Manual,
                _ => tessera_db::Gating::Open,
            };
            apply_settings(&state, &repo, None, Some(gating)).await?;
            format!("Gating: {}.", gating.as_setting().unwrap_or("off"))
        }
        "move" => {
            let target = field("to").trim().to_owned();
            let moved = match target.split_once('/') {
                Some((namespace, name)) => relocate_repo(&state, &visitor.0, &repo, namespace, name).await,
                None => Err(ApiError::BadRequest(format!("Type the new id as namespace/name, not {target:?}"))),
            };
            match moved {
                Ok(moved) => return Ok(Redirect::to(&format!("{}/settings", web_path(&moved))).into_response()),
                Err(error) => form_refusal(error)?.1,
            }
        }
        "delete" if field("confirm") == repo.full_name() => {
            state.db.delete_repo(repo.id).await?;
            tracing::info!(repo.id = repo.id, repo.name = %repo.full_name(), "repo deleted in the web UI");
            return Ok(Redirect::to("/").into_response());
        }
        "delete" => format!("Type {} to delete it.", repo.full_name()),
        _ => return Err(ApiError::BadRequest("Unknown settings action".into()).into()),
    };
    let repo = state.db.repo_by_id(repo.id).await?.ok_or(ApiError::RepoNotFound)?;
    let page = SettingsPage {
        repo: RepoSummary::of(&repo),
        tab: "settings",
        revision_path: encode_revision(MAIN_BRANCH),
        message: Some(message),
    };
    Ok(render(&visitor, "repo_settings.html", &page)?.into_response())
}
