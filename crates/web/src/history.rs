//! History: the commits of a revision (optionally only those touching a
//! path), and one commit with its parents, message and per-file diff
//! against its first parent. Only commits reachable from the repo's refs
//! are shown (commit ids are shared by every repo of the store).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use similar::TextDiff;
use tessera_api::AppState;
use tessera_api::access::RepoAction;
use tessera_api::time::iso8601;
use tessera_db::MetadataStore;
use tessera_formats::git::{Commit, LfsPointer, MAX_POINTER_LEN, ObjectId};
use tessera_hub::extract::RepoPath;
use tessera_hub::repo_model::tree::{Node, list, lookup};
use tessera_hub::repo_model::{self, load, load_commit};

use crate::error::WebResult;
use crate::render::render;
use crate::repos::{RepoSummary, encode_revision, web_path};
use crate::session::Visitor;

/// Commits per history page.
const PAGE_SIZE: usize = 30;

/// Commits walked at most to fill one page of a path's history.
const MAX_PATH_WALK: usize = 5_000;

/// Files of a commit shown with their diff; later ones are listed only.
const MAX_DIFFED_FILES: usize = 100;

/// Largest file side shown as a line diff.
const MAX_DIFF_BYTES: usize = 256 * 1024;

/// One row of a history page.
#[derive(Debug, Serialize)]
struct CommitRow {
    id: String,
    short: String,
    title: String,
    author: String,
    date: String,
}

fn row(id: &ObjectId, commit: &Commit) -> CommitRow {
    CommitRow {
        id: id.hex(),
        short: id.hex()[..7].to_owned(),
        title: commit.title().to_owned(),
        author: commit.author.name.clone(),
        date: iso8601(commit.author.time * 1000),
    }
}

#[derive(Debug, Serialize)]
struct CommitsPage {
    repo: RepoSummary,
    tab: &'static str,
    revision: String,
    revision_path: String,
    path: String,
    commits: Vec<CommitRow>,
    previous: Option<String>,
    next: Option<String>,
}

/// The blob or tree id at `path` of a commit (`None`: absent).
async fn id_at(db: &dyn MetadataStore, commit: &Commit, path: &str) -> WebResult<Option<ObjectId>> {
    Ok(lookup(db, commit.tree, path).await?.map(|node| node.id))
}

/// `GET …/commits/{rev}[/{path}]?p=N`: first-parent history, newest first;
/// with a path, only the commits that changed it.
pub async fn commits(
    State(state): State<AppState>,
    visitor: Visitor,
    route: RepoPath,
    Query(query): Query<HashMap<String, String>>,
) -> WebResult<Response> {
    let caller = &visitor.0;
    let repo = route.authorized(&state, caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let revision = route.param("rev").to_owned();
    let resolved = repo_model::resolve_revision(db, repo.id, &revision).await?;
    let path = route.param("path").trim_matches('/').to_owned();
    let page: usize = query.get("p").and_then(|p| p.parse().ok()).unwrap_or(0);
    let skip = page * PAGE_SIZE;
    let mut rows = Vec::new();
    let mut more = false;
    let (mut next, mut matched, mut walked) = (Some(resolved.id), 0, 0);
    while let Some(id) = next {
        if walked == MAX_PATH_WALK {
            break;
        }
        walked += 1;
        let commit = load_commit(db, &id).await?;
        next = commit.parents.first().copied();
        let touched = if path.is_empty() {
            true
        } else {
            let here = id_at(db, &commit, &path).await?;
            let before = match next {
                Some(parent) => id_at(db, &load_commit(db, &parent).await?, &path).await?,
                None => None,
            };
            here != before
        };
        if !touched {
            continue;
        }
        if matched >= skip {
            if rows.len() == PAGE_SIZE {
                more = true;
                break;
            }
            rows.push(row(&id, &commit));
        }
        matched += 1;
    }
    let repo_path = web_path(&repo);
    let revision_path = encode_revision(&revision);
    let base = if path.is_empty() {
        format!("{repo_path}/commits/{revision_path}")
    } else {
        format!("{repo_path}/commits/{revision_path}/{path}")
    };
    let history = CommitsPage {
        repo: RepoSummary::of(&repo),
        tab: "files",
        previous: (page > 0).then(|| format!("{base}?p={}", page - 1)),
        next: more.then(|| format!("{base}?p={}", page + 1)),
        revision,
        revision_path,
        path,
        commits: rows,
    };
    Ok(render(&visitor, "commits.html", &history)?.into_response())
}

/// One changed file of a commit.
#[derive(Debug, Serialize)]
struct FileChange {
    path: String,
    status: &'static str,
    added: usize,
    removed: usize,
    /// Unified diff lines, each with its kind (`add`, `del`, `ctx`, `hunk`).
    lines: Vec<DiffLine>,
    /// Why no line diff is shown.
    summary: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct DiffLine {
    kind: &'static str,
    text: String,
}

#[derive(Debug, Serialize)]
struct CommitPage {
    repo: RepoSummary,
    tab: &'static str,
    revision_path: String,
    commit: CommitRow,
    message: String,
    parents: Vec<CommitRow>,
    files: Vec<FileChange>,
    browse_url: String,
}

/// A blob's text, if it is a small, non-pointer, UTF-8 file.
async fn diffable_text(db: &dyn MetadataStore, id: Option<ObjectId>) -> WebResult<Result<String, &'static str>> {
    let Some(id) = id else { return Ok(Ok(String::new())) };
    let data = load(db, &id).await?.data;
    if data.len() <= MAX_POINTER_LEN && LfsPointer::parse(&data).is_some() {
        return Ok(Err("Stored with Xet or LFS: no line diff."));
    }
    if data.len() > MAX_DIFF_BYTES {
        return Ok(Err("The diff for this file is too large to render."));
    }
    Ok(String::from_utf8(data).map_err(|_| "Binary file: no line diff."))
}

/// The files of a commit's tree, by path.
async fn files_of(db: &dyn MetadataStore, tree: Option<ObjectId>) -> WebResult<BTreeMap<String, ObjectId>> {
    let Some(tree) = tree else { return Ok(BTreeMap::new()) };
    Ok(list(db, &Node::root(tree), true)
        .await?
        .into_iter()
        .filter(|node| !node.is_dir())
        .map(|node| (node.path, node.id))
        .collect())
}

/// `GET …/commit/{sha}`: a commit reachable from the repo, its parents,
/// and what it changed against its first parent.
pub async fn commit(State(state): State<AppState>, visitor: Visitor, route: RepoPath) -> WebResult<Response> {
    let caller = &visitor.0;
    let repo = route.authorized(&state, caller, RepoAction::See).await?;
    let db = state.db.as_ref();
    let resolved = repo_model::resolve_revision(db, repo.id, route.param("sha")).await?;
    let mut parents = Vec::new();
    for parent in &resolved.commit.parents {
        parents.push(row(parent, &load_commit(db, parent).await?));
    }
    let parent_tree = match resolved.commit.parents.first() {
        Some(parent) => Some(load_commit(db, parent).await?.tree),
        None => None,
    };
    let before = files_of(db, parent_tree).await?;
    let after = files_of(db, Some(resolved.commit.tree)).await?;
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut files = Vec::new();
    for path in paths {
        let (old, new) = (before.get(path).copied(), after.get(path).copied());
        if old == new {
            continue;
        }
        let status = match (old, new) {
            (None, _) => "ADDED",
            (_, None) => "DELETED",
            _ => "CHANGED",
        };
        let mut change =
            FileChange { path: path.clone(), status, added: 0, removed: 0, lines: Vec::new(), summary: None };
        if files.len() >= MAX_DIFFED_FILES {
            change.summary = Some("Too many files changed: no line diff.");
        } else {
            match (diffable_text(db, old).await?, diffable_text(db, new).await?) {
                (Ok(old_text), Ok(new_text)) => diff_lines(&old_text, &new_text, &mut change),
                (Err(why), _) | (_, Err(why)) => change.summary = Some(why),
            }
        }
        files.push(change);
    }
    let repo_path = web_path(&repo);
    let page = CommitPage {
        browse_url: format!("{repo_path}/tree/{}", resolved.id.hex()),
        revision_path: encode_revision(repo_model::MAIN_BRANCH),
        repo: RepoSummary::of(&repo),
        tab: "files",
        commit: row(&resolved.id, &resolved.commit),
        message: resolved.commit.message.clone(),
        parents,
        files,
    };
    Ok(render(&visitor, "commit.html", &page)?.into_response())
}

/// Fills a change's unified diff (3 lines of context) and its line counts.
fn diff_lines(old: &str, new: &str, change: &mut FileChange) {
    let diff = TextDiff::from_lines(old, new);
    for group in diff.grouped_ops(3) {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        let (old_range, new_range) =
            (first.old_range().start..last.old_range().end, first.new_range().start..last.new_range().end);
        change.lines.push(DiffLine {
            kind: "hunk",
            text: format!(
                "@@ -{},{} +{},{} @@",
                old_range.start + 1,
                old_range.len(),
                new_range.start + 1,
                new_range.len()
            ),
        });
        for op in &group {
            for line in diff.iter_changes(op) {
                let kind = match line.tag() {
                    similar::ChangeTag::Insert => {
                        change.added += 1;
                        "add"
                    }
                    similar::ChangeTag::Delete => {
                        change.removed += 1;
                        "del"
                    }
                    similar::ChangeTag::Equal => "ctx",
                };
                change.lines.push(DiffLine { kind, text: line.value().trim_end_matches('\n').to_owned() });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_count_lines_with_context() {
        let mut change =
            FileChange { path: "a".into(), status: "CHANGED", added: 0, removed: 0, lines: Vec::new(), summary: None };
        diff_lines("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\nfour\n5\n6\n7\n8\n", &mut change);
        assert_eq!((change.added, change.removed), (1, 1));
        let kinds: Vec<_> = change.lines.iter().map(|line| line.kind).collect();
        assert_eq!(kinds, vec!["hunk", "ctx", "ctx", "ctx", "del", "add", "ctx", "ctx", "ctx"]);
        assert_eq!(change.lines[0].text, "@@ -1,7 +1,7 @@");
    }
}
