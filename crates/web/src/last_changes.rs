//! The last commit that changed each entry of a directory, as the file
//! list shows it.
//!
//! Found by walking first-parent history from the page's commit: a commit
//! whose parent has the same tree id at the directory changed nothing in
//! it (one lookup); otherwise each entry whose id differs from the
//! parent's was last changed there. The walk stops when every entry is
//! placed, after [`MAX_WALK`] commits (older entries show no commit), or at
//! a commit whose answer is cached: entries still unplaced then were not
//! changed since, so that answer is theirs.
//!
//! Answers are cached in memory by commit id and path, which name
//! immutable history, so they hold on every process; the cache is bounded
//! ([`CACHED_DIRECTORIES`]). A page after a new commit walks one commit
//! and reuses the rest.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock, Mutex};

use lru::LruCache;
use serde::Serialize;
use tessera_api::ApiResult;
use tessera_api::time::iso8601;
use tessera_db::MetadataStore;
use tessera_formats::git::{Commit, ObjectId};
use tessera_hub::repo_model::load_commit;
use tessera_hub::repo_model::tree::{Node, list, lookup};

/// Commits walked at most for one directory.
pub const MAX_WALK: usize = 1_000;

/// Directories whose answers are kept.
pub const CACHED_DIRECTORIES: usize = 4_096;

/// The commit that last changed an entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LastChange {
    /// Full commit id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Author date, ISO 8601.
    pub date: String,
}

impl LastChange {
    fn of(id: &ObjectId, commit: &Commit) -> Self {
        Self { id: id.hex(), title: commit.title().to_owned(), date: iso8601(commit.author.time * 1000) }
    }
}

/// Entry name → its last change.
pub type LastChanges = HashMap<String, LastChange>;

type CacheKey = (ObjectId, String);

static CACHE: LazyLock<Mutex<LruCache<CacheKey, Arc<LastChanges>>>> =
    LazyLock::new(|| Mutex::new(LruCache::new(NonZeroUsize::new(CACHED_DIRECTORIES).unwrap_or(NonZeroUsize::MIN))));

fn cached(key: &CacheKey) -> Option<Arc<LastChanges>> {
    CACHE.lock().ok()?.get(key).cloned()
}

/// The entries of the directory at `path` (`""`: the root) of `tree`, by name.
async fn entries_at(
    db: &dyn MetadataStore,
    tree: ObjectId,
    path: &str,
) -> ApiResult<Option<(ObjectId, HashMap<String, ObjectId>)>> {
    let Some(dir) = (if path.is_empty() { Some(Node::root(tree)) } else { lookup(db, tree, path).await? }) else {
        return Ok(None);
    };
    if !dir.is_dir() {
        return Ok(None);
    }
    let entries = list(db, &dir, false).await?;
    let names = entries
        .into_iter()
        .map(|node| (node.path.rsplit('/').next().unwrap_or(&node.path).to_owned(), node.id))
        .collect();
    Ok(Some((dir.id, names)))
}

/// The tree id at `path` of `tree`, if it is a directory.
async fn dir_id(db: &dyn MetadataStore, tree: ObjectId, path: &str) -> ApiResult<Option<ObjectId>> {
    if path.is_empty() {
        return Ok(Some(tree));
    }
    Ok(lookup(db, tree, path).await?.filter(Node::is_dir).map(|node| node.id))
}

/// The last change of every entry of directory `path` at commit `head`.
pub async fn last_changes(db: &dyn MetadataStore, head: ObjectId, path: &str) -> ApiResult<Arc<LastChanges>> {
    let key = (head, path.to_owned());
    if let Some(answer) = cached(&key) {
        return Ok(answer);
    }
    let mut commit = load_commit(db, &head).await?;
    let Some((mut here, mut pending)) = entries_at(db, commit.tree, path).await? else {
        return Ok(Arc::default());
    };
    let mut found = LastChanges::new();
    let mut id = head;
    for step in 0..MAX_WALK {
        if pending.is_empty() {
            break;
        }
        if step > 0
            && let Some(earlier) = cached(&(id, path.to_owned()))
        {
            for name in pending.keys() {
                if let Some(change) = earlier.get(name) {
                    found.insert(name.clone(), change.clone());
                }
            }
            pending.clear();
            break;
        }
        let Some(parent) = commit.parents.first().copied() else {
            // The first commit added whatever is still unplaced.
            let change = LastChange::of(&id, &commit);
            found.extend(pending.drain().map(|(name, _)| (name, change.clone())));
            break;
        };
        let parent_commit = load_commit(db, &parent).await?;
        let parent_dir = dir_id(db, parent_commit.tree, path).await?;
        if parent_dir != Some(here) {
            let before = match parent_dir {
                Some(_) => entries_at(db, parent_commit.tree, path).await?.map(|(_, names)| names).unwrap_or_default(),
                None => HashMap::new(),
            };
            let change = LastChange::of(&id, &commit);
            pending.retain(|name, entry_id| {
                let changed = before.get(name) != Some(entry_id);
                if changed {
                    found.insert(name.clone(), change.clone());
                }
                !changed
            });
        }
        match parent_dir {
            Some(parent_dir) => here = parent_dir,
            None => break,
        }
        id = parent;
        commit = parent_commit;
    }
    let answer = Arc::new(found);
    if let Ok(mut cache) = CACHE.lock() {
        cache.put(key, Arc::clone(&answer));
    }
    Ok(answer)
}
