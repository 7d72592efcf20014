//! Building a commit from Hub operations: only the directories on touched
//! paths are loaded; new trees are written bottom-up; emptied directories
//! disappear (git has no empty trees). Nothing is stored here — the caller
//! stores [`BuiltCommit::objects`] and then moves the ref.

use std::collections::{BTreeMap, HashMap};

use tessera_api::{ApiError, ApiResult};
use tessera_db::{GitObject, MetadataStore};
use tessera_formats::git::{Commit, EntryMode, ObjectId, ObjectKind, Signature, TreeEntry, encode_tree};

use super::attributes::{Attributes, lfs_rule_for_path};
use super::{load, load_commit, load_tree};

/// The attributes file at the root.
pub const GITATTRIBUTES: &str = ".gitattributes";

/// One change of a commit. Paths are already validated and normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Adds or replaces a file.
    Upsert {
        /// Its path.
        path: String,
        /// The blob content (the pointer bytes for an LFS file).
        content: Vec<u8>,
        /// Whether the content is an LFS pointer (then `.gitattributes` must cover the path).
        lfs: bool,
    },
    /// Deletes a file; 404 `EntryNotFound` if there is none.
    Delete {
        /// Its path.
        path: String,
    },
    /// Deletes a directory and everything below it; 404 `EntryNotFound` if there is none.
    DeleteFolder {
        /// Its path.
        path: String,
    },
}

/// A commit ready to store.
#[derive(Debug, Clone)]
pub struct BuiltCommit {
    /// The commit id.
    pub id: ObjectId,
    /// The commit.
    pub commit: Commit,
    /// Every new object (blobs, trees, the commit), the commit last.
    pub objects: Vec<GitObject>,
}

/// A child of a loaded directory.
#[derive(Debug, Clone, Copy)]
enum Child {
    Blob {
        mode: EntryMode,
        id: ObjectId,
    },
    /// A directory; `None` until written when it is new.
    Dir {
        id: Option<ObjectId>,
    },
}

fn split_parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") }
}

fn depth(path: &str) -> usize {
    if path.is_empty() { 0 } else { path.matches('/').count() + 1 }
}

fn missing_file(path: &str) -> ApiError {
    ApiError::EntryNotFound { message: format!("A file with this name doesn't exist: {path}"), commit: None }
}

fn missing_folder(path: &str) -> ApiError {
    ApiError::EntryNotFound { message: format!("A folder with this name doesn't exist: {path}"), commit: None }
}

/// The directories of a commit being edited.
struct Editor<'a> {
    db: &'a dyn MetadataStore,
    /// Loaded directories by path (`""` is the root).
    dirs: HashMap<String, BTreeMap<String, Child>>,
    /// New blobs by id.
    blobs: HashMap<ObjectId, Vec<u8>>,
}

impl<'a> Editor<'a> {
    async fn new(db: &'a dyn MetadataStore, root: Option<ObjectId>) -> ApiResult<Self> {
        let mut editor = Self { db, dirs: HashMap::new(), blobs: HashMap::new() };
        let entries = match root {
            Some(tree) => editor.read_dir(&tree).await?,
            None => BTreeMap::new(),
        };
        editor.dirs.insert(String::new(), entries);
        Ok(editor)
    }

    async fn read_dir(&self, tree: &ObjectId) -> ApiResult<BTreeMap<String, Child>> {
        Ok(load_tree(self.db, tree)
            .await?
            .into_iter()
            .map(|entry| {
                let child = if entry.mode.is_tree() {
                    Child::Dir { id: Some(entry.id) }
                } else {
                    Child::Blob { mode: entry.mode, id: entry.id }
                };
                (entry.name, child)
            })
            .collect())
    }

    /// Loads the directories down to `path`; with `create`, makes missing
    /// ones (422 if a file is in the way), else answers whether it exists.
    async fn open_dir(&mut self, path: &str, create: bool) -> ApiResult<bool> {
        let mut current = String::new();
        for part in path.split('/').filter(|part| !part.is_empty()) {
            let child_path = join(&current, part);
            if !self.dirs.contains_key(&child_path) {
                let parent = self
                    .dirs
                    .get_mut(&current)
                    .ok_or_else(|| ApiError::Internal(format!("directory {current:?} not loaded")))?;
                match parent.get(part).copied() {
                    Some(Child::Dir { id: Some(id) }) => {
                        let entries = self.read_dir(&id).await?;
                        self.dirs.insert(child_path.clone(), entries);
                    }
                    Some(Child::Dir { id: None }) => {
                        return Err(ApiError::Internal(format!("new directory {child_path:?} not loaded")));
                    }
                    Some(Child::Blob { .. }) if create => {
                        return Err(ApiError::Unprocessable(format!(
                            "Cannot create {path:?}: {child_path:?} is a file"
                        )));
                    }
                    Some(Child::Blob { .. }) => return Ok(false),
                    None if create => {
                        parent.insert(part.to_owned(), Child::Dir { id: None });
                        self.dirs.insert(child_path.clone(), BTreeMap::new());
                    }
                    None => return Ok(false),
                }
            }
            current = child_path;
        }
        Ok(true)
    }

    fn dir_mut(&mut self, path: &str) -> ApiResult<&mut BTreeMap<String, Child>> {
        self.dirs.get_mut(path).ok_or_else(|| ApiError::Internal(format!("directory {path:?} not loaded")))
    }

    async fn upsert(&mut self, path: &str, content: Vec<u8>) -> ApiResult<()> {
        let (dir, name) = split_parent(path);
        self.open_dir(dir, true).await?;
        let id = ObjectId::for_object(ObjectKind::Blob, &content);
        let entries = self.dir_mut(dir)?;
        let mode = match entries.get(name) {
            Some(Child::Dir { .. }) => {
                return Err(ApiError::Unprocessable(format!("Cannot write file {path:?}: it is a directory")));
            }
            Some(Child::Blob { mode: EntryMode::Executable, .. }) => EntryMode::Executable,
            _ => EntryMode::File,
        };
        entries.insert(name.to_owned(), Child::Blob { mode, id });
        self.blobs.insert(id, content);
        Ok(())
    }

    async fn delete(&mut self, path: &str) -> ApiResult<()> {
        let (dir, name) = split_parent(path);
        if !self.open_dir(dir, false).await? {
            return Err(missing_file(path));
        }
        let entries = self.dir_mut(dir)?;
        match entries.get(name) {
            Some(Child::Blob { .. }) => {
                entries.remove(name);
                Ok(())
            }
            _ => Err(missing_file(path)),
        }
    }

    async fn delete_folder(&mut self, path: &str) -> ApiResult<()> {
        let (dir, name) = split_parent(path);
        if !self.open_dir(dir, false).await? {
            return Err(missing_folder(path));
        }
        let entries = self.dir_mut(dir)?;
        match entries.get(name) {
            Some(Child::Dir { .. }) => {
                entries.remove(name);
                let inside = format!("{path}/");
                self.dirs.retain(|loaded, _| loaded != path && !loaded.starts_with(&inside));
                Ok(())
            }
            _ => Err(missing_folder(path)),
        }
    }

    /// The content of the file at `path`, if there is one.
    async fn read_file(&mut self, path: &str) -> ApiResult<Option<Vec<u8>>> {
        let (dir, name) = split_parent(path);
        if !self.open_dir(dir, false).await? {
            return Ok(None);
        }
        let Some(Child::Blob { id, .. }) = self.dir_mut(dir)?.get(name).copied() else { return Ok(None) };
        if let Some(content) = self.blobs.get(&id) {
            return Ok(Some(content.clone()));
        }
        Ok(Some(load(self.db, &id).await?.data))
    }

    /// Adds an exact rule to `.gitattributes` for every pointer path no rule covers.
    async fn cover_lfs_paths(&mut self, paths: &[&str]) -> ApiResult<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let current = self.read_file(GITATTRIBUTES).await?.unwrap_or_default();
        let mut text = String::from_utf8_lossy(&current).into_owned();
        let attributes = Attributes::parse(&text);
        let missing: Vec<&str> = paths.iter().copied().filter(|path| !attributes.is_lfs(path)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for path in missing {
            text.push_str(&lfs_rule_for_path(path));
            text.push('\n');
        }
        self.upsert(GITATTRIBUTES, text.into_bytes()).await
    }

    /// Writes the loaded directories bottom-up; the root tree's id and every new object.
    fn finish(mut self) -> ApiResult<(ObjectId, Vec<GitObject>)> {
        let mut paths: Vec<String> = self.dirs.keys().cloned().collect();
        paths.sort_by_key(|path| std::cmp::Reverse(depth(path)));
        let mut objects: Vec<GitObject> =
            self.blobs.drain().map(|(id, data)| GitObject { id, kind: ObjectKind::Blob, data }).collect();
        let mut written: HashMap<String, Option<ObjectId>> = HashMap::new();
        for path in paths {
            let children = self.dirs.remove(&path).unwrap_or_default();
            let mut entries = Vec::with_capacity(children.len());
            for (name, child) in children {
                match child {
                    Child::Blob { mode, id } => entries.push(TreeEntry { mode, name, id }),
                    Child::Dir { id } => {
                        let sub = join(&path, &name);
                        let id = written.get(&sub).copied().unwrap_or(id);
                        if let Some(id) = id {
                            entries.push(TreeEntry { mode: EntryMode::Tree, name, id });
                        }
                    }
                }
            }
            if entries.is_empty() && !path.is_empty() {
                written.insert(path, None);
                continue;
            }
            let tree = GitObject::new(ObjectKind::Tree, encode_tree(&mut entries));
            written.insert(path, Some(tree.id));
            objects.push(tree);
        }
        let root = written
            .get("")
            .copied()
            .flatten()
            .ok_or_else(|| ApiError::Internal("the root tree was not written".into()))?;
        Ok((root, objects))
    }
}

/// Applies `operations` in order on top of `parent` (none: an empty tree)
/// and builds the commit.
pub async fn build_commit(
    db: &dyn MetadataStore,
    parent: Option<ObjectId>,
    operations: &[Operation],
    author: &Signature,
    message: &str,
) -> ApiResult<BuiltCommit> {
    let root = match parent {
        Some(parent) => Some(load_commit(db, &parent).await?.tree),
        None => None,
    };
    let mut editor = Editor::new(db, root).await?;
    let mut lfs_paths = Vec::new();
    for operation in operations {
        match operation {
            Operation::Upsert { path, content, lfs } => {
                editor.upsert(path, content.clone()).await?;
                if *lfs {
                    lfs_paths.push(path.as_str());
                }
            }
            Operation::Delete { path } => editor.delete(path).await?,
            Operation::DeleteFolder { path } => editor.delete_folder(path).await?,
        }
    }
    // A pointer that a later operation replaced or deleted needs no rule.
    let mut covered = Vec::new();
    for path in lfs_paths {
        if let Some(content) = editor.read_file(path).await?
            && tessera_formats::git::LfsPointer::parse(&content).is_some()
        {
            covered.push(path);
        }
    }
    editor.cover_lfs_paths(&covered).await?;
    let (tree, mut objects) = editor.finish()?;
    let commit = Commit {
        tree,
        parents: parent.into_iter().collect(),
        author: author.clone(),
        committer: author.clone(),
        message: message.to_owned(),
    };
    let object = GitObject::new(ObjectKind::Commit, commit.encode());
    let id = object.id;
    objects.push(object);
    Ok(BuiltCommit { id, commit, objects })
}
