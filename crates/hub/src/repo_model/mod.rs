//! The git side of a repo, over the metadata store: objects with real git
//! ids, refs moved by compare-and-swap, revisions resolved to commits,
//! trees read and walked ([`tree`]), commits built from Hub operations
//! ([`edit`]) and the `.gitattributes` rules that decide LFS ([`attributes`]).

pub mod attributes;
pub mod edit;
pub mod tree;

use std::collections::{HashSet, VecDeque};

use tessera_api::{ApiError, ApiResult};
use tessera_db::{GitObject, MetadataStore, User};
pub use tessera_formats::git::valid_ref_component;
use tessera_formats::git::{Commit, ObjectId, ObjectKind, Signature, TreeEntry, parse_tree};

/// The default branch.
pub const MAIN_BRANCH: &str = "main";

/// How many commits a search for a commit id visits at most.
const MAX_WALK: usize = 100_000;

/// A stored object, or an internal error if it is missing.
pub async fn load(db: &dyn MetadataStore, id: &ObjectId) -> ApiResult<GitObject> {
    db.object(id).await?.ok_or_else(|| ApiError::Internal(format!("git object {id} is missing")))
}

/// A stored commit.
pub async fn load_commit(db: &dyn MetadataStore, id: &ObjectId) -> ApiResult<Commit> {
    let object = load(db, id).await?;
    if object.kind != ObjectKind::Commit {
        return Err(ApiError::Internal(format!("object {id} is not a commit")));
    }
    Commit::parse(&object.data).map_err(ApiError::internal)
}

/// A stored tree's entries.
pub async fn load_tree(db: &dyn MetadataStore, id: &ObjectId) -> ApiResult<Vec<TreeEntry>> {
    let object = load(db, id).await?;
    if object.kind != ObjectKind::Tree {
        return Err(ApiError::Internal(format!("object {id} is not a tree")));
    }
    parse_tree(&object.data).map_err(ApiError::internal)
}

/// A revision resolved to a commit.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The commit id.
    pub id: ObjectId,
    /// The commit.
    pub commit: Commit,
}

/// Follows annotated tags to the commit they name.
async fn peel(db: &dyn MetadataStore, id: ObjectId) -> ApiResult<Option<ObjectId>> {
    let mut id = id;
    for _ in 0..16 {
        let Some(object) = db.object(&id).await? else { return Ok(None) };
        match object.kind {
            ObjectKind::Commit => return Ok(Some(id)),
            ObjectKind::Tag => {
                let text = String::from_utf8_lossy(&object.data);
                let target = text.lines().find_map(|line| line.strip_prefix("object "));
                match target.and_then(|hex| ObjectId::from_hex(hex).ok()) {
                    Some(next) => id = next,
                    None => return Ok(None),
                }
            }
            ObjectKind::Blob | ObjectKind::Tree => return Ok(None),
        }
    }
    Ok(None)
}

/// The commit a ref names (tags peeled), if the ref exists.
pub async fn ref_commit(db: &dyn MetadataStore, repo_id: i64, name: &str) -> ApiResult<Option<ObjectId>> {
    match db.ref_target(repo_id, name).await? {
        Some(target) => peel(db, target).await,
        None => Ok(None),
    }
}

fn is_hex_prefix(rev: &str) -> bool {
    (7..=40).contains(&rev.len()) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolves a revision — a branch, a tag, a full ref name (`refs/pr/1`), or
/// a full or abbreviated commit id reachable from the repo's refs — to a
/// commit; 404 `RevisionNotFound` otherwise.
pub async fn resolve_revision(db: &dyn MetadataStore, repo_id: i64, rev: &str) -> ApiResult<Resolved> {
    let not_found = || ApiError::RevisionNotFound(rev.to_owned());
    if rev.is_empty() {
        return Err(not_found());
    }
    let mut candidates = Vec::new();
    if rev.starts_with("refs/") {
        candidates.push(rev.to_owned());
    } else {
        candidates.push(format!("refs/heads/{rev}"));
        candidates.push(format!("refs/tags/{rev}"));
    }
    for name in candidates {
        if let Some(id) = ref_commit(db, repo_id, &name).await? {
            return Ok(Resolved { id, commit: load_commit(db, &id).await? });
        }
    }
    if is_hex_prefix(rev) {
        let wanted = rev.to_ascii_lowercase();
        if let Some(id) = find_reachable(db, repo_id, |id| id.hex().starts_with(&wanted)).await? {
            return Ok(Resolved { id, commit: load_commit(db, &id).await? });
        }
    }
    Err(not_found())
}

/// Searches the commits reachable from the repo's refs (heads first, then
/// all parents breadth-first) for one satisfying `wanted`. Commit ids are
/// global, so this is what keeps one repo from reading another's commits.
async fn find_reachable(
    db: &dyn MetadataStore,
    repo_id: i64,
    wanted: impl Fn(&ObjectId) -> bool,
) -> ApiResult<Option<ObjectId>> {
    let mut queue = VecDeque::new();
    for (_, target) in db.refs(repo_id).await? {
        if let Some(id) = peel(db, target).await? {
            if wanted(&id) {
                return Ok(Some(id));
            }
            queue.push_back(id);
        }
    }
    let mut seen: HashSet<ObjectId> = queue.iter().copied().collect();
    while let Some(id) = queue.pop_front() {
        if seen.len() > MAX_WALK {
            break;
        }
        let Some(object) = db.object(&id).await? else { continue };
        let Ok(commit) = Commit::parse(&object.data) else { continue };
        for parent in commit.parents {
            if seen.insert(parent) {
                if wanted(&parent) {
                    return Ok(Some(parent));
                }
                queue.push_back(parent);
            }
        }
    }
    Ok(None)
}

/// The full ref name a commit to `rev` moves: `refs/heads/{rev}`, or `rev`
/// itself when it is already `refs/heads/…` or `refs/pr/…`.
pub fn branch_ref_name(rev: &str) -> String {
    if rev.starts_with("refs/heads/") || rev.starts_with("refs/pr/") {
        rev.to_owned()
    } else {
        format!("refs/heads/{rev}")
    }
}

/// The ref a commit to `rev` moves and its current target; 404 `RevisionNotFound` if there is no such branch.
pub async fn branch_head(db: &dyn MetadataStore, repo_id: i64, rev: &str) -> ApiResult<(String, ObjectId)> {
    let name = branch_ref_name(rev);
    match db.ref_target(repo_id, &name).await? {
        Some(target) => Ok((name, target)),
        None => Err(ApiError::RevisionNotFound(rev.to_owned())),
    }
}

/// The signature of commits a user makes through the API.
pub fn signature_for(user: &User, time_secs: i64) -> Signature {
    Signature {
        name: user.name.clone(),
        email: format!("{}@users.noreply.tessera", user.name),
        time: time_secs,
        offset: "+0000".to_owned(),
    }
}

/// Commits following first parents from `head`, newest first: skips `skip`, returns at most `limit`.
pub async fn first_parent_history(
    db: &dyn MetadataStore,
    head: ObjectId,
    skip: usize,
    limit: usize,
) -> ApiResult<(Vec<(ObjectId, Commit)>, bool)> {
    let mut out = Vec::new();
    let mut next = Some(head);
    let mut index = 0;
    while let Some(id) = next {
        if out.len() == limit {
            return Ok((out, true));
        }
        let commit = load_commit(db, &id).await?;
        next = commit.parents.first().copied();
        if index >= skip {
            out.push((id, commit));
        }
        index += 1;
    }
    Ok((out, false))
}

/// Writes new objects; always before the ref that makes them reachable moves.
pub async fn store(db: &dyn MetadataStore, objects: &[GitObject]) -> ApiResult<()> {
    if !objects.is_empty() {
        db.put_objects(objects).await?;
    }
    Ok(())
}
