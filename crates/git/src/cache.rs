//! Local bare repositories that mirror the metadata DB, so the `git` binary
//! can serve clones and fetches. A cache, not a store: any repo directory
//! (or the whole cache dir) may be deleted at any time and is rebuilt from
//! the DB on the next request. Several server processes may share one cache
//! dir; a file lock per repo keeps their updates apart.
//!
//! Each repo directory `{id}.git` holds, besides git's own files:
//! - `tessera-refs`: the DB refs it was last brought up to date with;
//! - `tessera-objects`: the ids (20 raw bytes each) of every object written
//!   into it. Objects are only ever added together with everything they
//!   reach, so the walk for an update stops at any id listed here.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tessera_db::{GitObject, MetadataStore, Repo};
use tessera_formats::git::{EntryMode, ObjectId, ObjectKind, parse_tree};
use tessera_formats::pack::write_pack;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::error::GitError;

/// The branch `HEAD` names, as on the Hub (and which pushes may not delete).
pub(crate) const DEFAULT_BRANCH: &str = "refs/heads/main";

/// Past this many packs a repo is repacked into one (with deltas).
const MAX_PACKS: usize = 16;

/// An update adding this many objects is repacked at once. The packs this
/// module writes carry no deltas, and git reuses whole objects as they are
/// unless told to look again (`repack -f`): on a 1,000-commit history that
/// shrinks what every clone sends about six times.
const REPACK_AFTER_OBJECTS: usize = 1000;

/// The state file names.
const REFS_FILE: &str = "tessera-refs";
const OBJECTS_FILE: &str = "tessera-objects";
const LOCK_FILE: &str = "tessera.lock";

/// What git needs in a cached repo beyond its objects and refs.
const CONFIG: &str = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n\
[uploadpack]\n\tallowFilter = true\n\tallowAnySHA1InWant = true\n\
[gc]\n\tauto = 0\n";

/// The cache of bare repos under one directory.
#[derive(Debug)]
pub struct RepoCache {
    root: PathBuf,
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

impl RepoCache {
    /// A cache under `root` (created on first use).
    pub fn new(root: PathBuf) -> Self {
        Self { root, locks: Mutex::new(HashMap::new()) }
    }

    /// A `git` command isolated from the user's and the system's config.
    pub fn git(&self) -> Command {
        let mut command = Command::new("git");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .kill_on_drop(true);
        command
    }

    /// The version line of the `git` binary, or why it cannot run.
    pub async fn git_version(&self) -> Result<String, GitError> {
        let output = self
            .git()
            .arg("--version")
            .output()
            .await
            .map_err(|error| GitError::Git(format!("cannot run git ({error}); install git 2.18 or later")))?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Brings the repo's cached copy up to date with the DB and returns its directory.
    pub async fn sync(&self, db: &dyn MetadataStore, repo: &Repo) -> Result<PathBuf, GitError> {
        let dir = self.root.join(format!("{}.git", repo.id));
        let (_, snapshot) = refs_snapshot(db, repo).await?;
        if up_to_date(&dir, &snapshot).await {
            return Ok(dir);
        }

        let local = self.local_lock(repo.id);
        let _local = local.lock().await;
        self.ensure_repo(&dir).await?;
        let lock_path = dir.join(LOCK_FILE);
        let _file_lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .map_err(|error| GitError::Git(format!("lock task failed: {error}")))??;
        // Read the refs again under the lock, so an update never writes refs
        // older than those another request or process wrote meanwhile.
        let (refs, snapshot) = refs_snapshot(db, repo).await?;
        if up_to_date(&dir, &snapshot).await {
            return Ok(dir);
        }
        if !ids_file_whole(&dir).await {
            // A write cut short: which ids are missing is unknown, so every
            // object is written again (duplicates cost only space).
            tracing::warn!(repo.id = repo.id, "git cache object list is torn; rebuilding it");
            tokio::fs::write(dir.join(OBJECTS_FILE), b"").await?;
        }

        let present = read_ids(&dir.join(OBJECTS_FILE)).await?;
        let tips: Vec<ObjectId> = refs.iter().map(|(_, id)| *id).collect();
        let missing = missing_closure(db, &tips, &present).await?;
        if !missing.is_empty() {
            self.index_pack(&dir, &missing).await?;
            let mut ids = Vec::with_capacity(missing.len() * 20);
            for object in &missing {
                ids.extend_from_slice(object.id.as_bytes());
            }
            let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(dir.join(OBJECTS_FILE)).await?;
            file.write_all(&ids).await?;
            file.flush().await?;
        }
        // The snapshot is also valid `packed-refs` content.
        write_atomically(&dir, "packed-refs", snapshot.as_bytes()).await?;
        write_atomically(&dir, REFS_FILE, snapshot.as_bytes()).await?;
        self.repack_if_needed(&dir, missing.len()).await?;
        tracing::debug!(
            repo.id = repo.id,
            git.objects_added = missing.len(),
            git.refs = refs.len(),
            "git cache updated"
        );
        Ok(dir)
    }

    /// Every object the repo reaches or ever reached, brought up to date
    /// first: what a push may build on without sending it. Objects are
    /// shared by all repos in the DB, so this, not the DB, says which ones a
    /// push to this repo may name.
    pub async fn known_objects(&self, db: &dyn MetadataStore, repo: &Repo) -> Result<HashSet<ObjectId>, GitError> {
        let dir = self.sync(db, repo).await?;
        read_ids(&dir.join(OBJECTS_FILE)).await
    }

    fn local_lock(&self, repo_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(repo_id).or_default().clone()
    }

    /// Creates an empty bare repo at `dir` unless one is there.
    async fn ensure_repo(&self, dir: &Path) -> Result<(), GitError> {
        if tokio::fs::try_exists(dir.join("config")).await? {
            return Ok(());
        }
        tokio::fs::create_dir_all(&self.root).await?;
        let staging = self.root.join(format!(".new-{}-{}", std::process::id(), rand_suffix()));
        for sub in ["objects/pack", "objects/info", "refs/heads", "refs/tags"] {
            tokio::fs::create_dir_all(staging.join(sub)).await?;
        }
        tokio::fs::write(staging.join("HEAD"), format!("ref: {DEFAULT_BRANCH}\n")).await?;
        tokio::fs::write(staging.join("config"), CONFIG).await?;
        if tokio::fs::rename(&staging, dir).await.is_err() {
            // Someone else created it first.
            tokio::fs::remove_dir_all(&staging).await?;
        }
        Ok(())
    }

    /// Adds `objects` to the repo as one pack.
    async fn index_pack(&self, dir: &Path, objects: &[GitObject]) -> Result<(), GitError> {
        let pack = write_pack(objects.iter().map(|object| (object.kind, object.data.as_slice())));
        let mut child = self
            .git()
            .env("GIT_DIR", dir)
            .args(["index-pack", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| GitError::Git(format!("cannot run git index-pack: {error}")))?;
        let mut stdin = child.stdin.take().ok_or_else(|| GitError::Git("no stdin".into()))?;
        stdin.write_all(&pack).await?;
        drop(stdin);
        let output = child.wait_with_output().await?;
        if !output.status.success() {
            return Err(GitError::Git(format!("index-pack: {}", String::from_utf8_lossy(&output.stderr).trim())));
        }
        Ok(())
    }

    /// Repacks into one pack (computing deltas) after a large update, or once
    /// updates left too many packs. Unreachable objects (of deleted or
    /// force-pushed refs) are kept: the object list still names them, and a
    /// ref may point at them again.
    async fn repack_if_needed(&self, dir: &Path, added: usize) -> Result<(), GitError> {
        let mut packs = 0;
        let mut entries = tokio::fs::read_dir(dir.join("objects/pack")).await?;
        while let Some(entry) = entries.next_entry().await? {
            packs += usize::from(entry.file_name().to_string_lossy().ends_with(".pack"));
        }
        if packs <= MAX_PACKS && added < REPACK_AFTER_OBJECTS {
            return Ok(());
        }
        let output = self
            .git()
            .env("GIT_DIR", dir)
            .args(["repack", "-a", "-d", "-f", "-q", "--keep-unreachable"])
            .output()
            .await?;
        if !output.status.success() {
            return Err(GitError::Git(format!("repack: {}", String::from_utf8_lossy(&output.stderr).trim())));
        }
        Ok(())
    }
}

/// The repo's refs in the DB, and their text as `tessera-refs` (and
/// `packed-refs`) hold it: `{id} {name}` lines.
async fn refs_snapshot(db: &dyn MetadataStore, repo: &Repo) -> Result<(Vec<(String, ObjectId)>, String), GitError> {
    let refs = db.refs(repo.id).await?;
    let snapshot = refs.iter().map(|(name, id)| format!("{id} {name}\n")).collect();
    Ok((refs, snapshot))
}

/// Whether the cached copy in `dir` holds exactly the refs of `snapshot`
/// and a whole object list.
async fn up_to_date(dir: &Path, snapshot: &str) -> bool {
    tokio::fs::read_to_string(dir.join(REFS_FILE)).await.ok().as_deref() == Some(snapshot) && ids_file_whole(dir).await
}

/// Whether the object list holds whole ids only (a missing list is whole).
async fn ids_file_whole(dir: &Path) -> bool {
    match tokio::fs::metadata(dir.join(OBJECTS_FILE)).await {
        Ok(metadata) => metadata.len() % 20 == 0,
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher as _, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// Writes `name` in `dir` through a temporary file and a rename.
async fn write_atomically(dir: &Path, name: &str, content: &[u8]) -> Result<(), GitError> {
    let temporary = dir.join(format!("{name}.{}.tmp", rand_suffix()));
    tokio::fs::write(&temporary, content).await?;
    tokio::fs::rename(&temporary, dir.join(name)).await?;
    Ok(())
}

/// The ids listed in an objects file (none if it does not exist).
async fn read_ids(path: &Path) -> Result<HashSet<ObjectId>, GitError> {
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    // A torn final write leaves a partial id, which is ignored.
    Ok(bytes
        .chunks_exact(20)
        .map(|raw| {
            let mut id = [0u8; 20];
            id.copy_from_slice(raw);
            ObjectId::from_bytes(id)
        })
        .collect())
}

/// Every object reachable from `tips` that is not in `present`, read from
/// the DB a level at a time. Each object must have the kind the object
/// pointing at it says (a tree entry's mode, a commit's `tree`/`parent`).
async fn missing_closure(
    db: &dyn MetadataStore,
    tips: &[ObjectId],
    present: &HashSet<ObjectId>,
) -> Result<Vec<GitObject>, GitError> {
    let mut seen = HashSet::new();
    let mut frontier: HashMap<ObjectId, Option<ObjectKind>> =
        tips.iter().filter(|id| !present.contains(id) && seen.insert(**id)).map(|id| (*id, None)).collect();
    let mut out = Vec::new();
    while !frontier.is_empty() {
        let ids: Vec<ObjectId> = frontier.keys().copied().collect();
        let objects = db.objects(&ids).await?;
        if objects.len() != ids.len() {
            let found: HashSet<ObjectId> = objects.iter().map(|object| object.id).collect();
            let lost = ids.iter().find(|id| !found.contains(id)).copied().unwrap_or_default();
            return Err(GitError::Git(format!("object {lost} is reachable from a ref but missing from the database")));
        }
        let mut next = HashMap::new();
        for object in objects {
            if frontier[&object.id].is_some_and(|kind| kind != object.kind) {
                return Err(GitError::Git(format!(
                    "stored {} {} is named as another kind",
                    object.kind.as_str(),
                    object.id
                )));
            }
            let children = links(&object).map_err(|reason| {
                GitError::Git(format!("stored {} {} is invalid: {reason}", object.kind.as_str(), object.id))
            })?;
            for child in children {
                if !present.contains(&child.id) && seen.insert(child.id) {
                    next.insert(child.id, child.kind);
                }
            }
            out.push(object);
        }
        frontier = next;
    }
    Ok(out)
}

/// An object another object points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// Its id.
    pub id: ObjectId,
    /// The kind it must have; `None` for a tag's target, which may be any.
    pub kind: Option<ObjectKind>,
    /// Its name, for a tree entry.
    pub name: Option<String>,
}

/// The objects an object points at: a commit's tree and parents, a tree's
/// entries (but not submodule commits, which live in other repos), a tag's target.
pub(crate) fn links(object: &GitObject) -> Result<Vec<Link>, String> {
    Ok(match object.kind {
        ObjectKind::Blob => Vec::new(),
        ObjectKind::Tree => parse_tree(&object.data)
            .map_err(|error| error.to_string())?
            .into_iter()
            .filter(|entry| entry.mode != EntryMode::Submodule)
            .map(|entry| Link {
                id: entry.id,
                kind: Some(if entry.mode.is_tree() { ObjectKind::Tree } else { ObjectKind::Blob }),
                name: Some(entry.name),
            })
            .collect(),
        ObjectKind::Commit | ObjectKind::Tag => header_links(&object.data)?,
    })
}

/// The objects named by the `tree`, `parent` and `object` header lines of a commit or tag.
fn header_links(data: &[u8]) -> Result<Vec<Link>, String> {
    let mut links = Vec::new();
    for line in data.split(|&byte| byte == b'\n') {
        if line.is_empty() {
            break;
        }
        let Some(space) = line.iter().position(|&byte| byte == b' ') else { continue };
        let kind = match &line[..space] {
            b"tree" => Some(ObjectKind::Tree),
            b"parent" => Some(ObjectKind::Commit),
            b"object" => None,
            _ => continue,
        };
        let hex = std::str::from_utf8(&line[space + 1..]).map_err(|_| "id is not text".to_owned())?;
        links.push(Link { id: ObjectId::from_hex(hex).map_err(|error| error.to_string())?, kind, name: None });
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_tag_links() {
        let tree = ObjectId::from_bytes([1; 20]);
        let parent = ObjectId::from_bytes([2; 20]);
        let commit = format!("tree {tree}\nparent {parent}\nauthor a <a@b> 1 +0000\n\ntree {parent}\n");
        let link = |id, kind| Link { id, kind, name: None };
        assert_eq!(
            header_links(commit.as_bytes()).unwrap(),
            vec![link(tree, Some(ObjectKind::Tree)), link(parent, Some(ObjectKind::Commit))],
            "the message is not read"
        );
        let tag = format!("object {tree}\ntype commit\ntag v1\n\nmessage\n");
        assert_eq!(header_links(tag.as_bytes()).unwrap(), vec![link(tree, None)]);
        assert!(header_links(b"tree nothex\n").is_err());
    }

    #[tokio::test]
    async fn objects_file_round_trip_ignores_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OBJECTS_FILE);
        assert!(read_ids(&path).await.unwrap().is_empty());
        let mut bytes = [7u8; 20].to_vec();
        bytes.extend_from_slice(&[9u8; 7]);
        tokio::fs::write(&path, bytes).await.unwrap();
        assert_eq!(read_ids(&path).await.unwrap(), HashSet::from([ObjectId::from_bytes([7; 20])]));
    }
}
