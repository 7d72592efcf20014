//! Reading trees: one path, a directory listing (optionally recursive), and
//! what the Hub tells about a file — its real size and, for LFS pointers,
//! the sha256 and the Xet file it maps to.

use std::collections::{HashMap, HashSet};

use tessera_api::{ApiError, ApiResult};
use tessera_db::{GitObject, MetadataStore};
use tessera_formats::MerkleHash;
use tessera_formats::git::{EntryMode, LfsPointer, MAX_POINTER_LEN, ObjectId, parse_lfs_oid};

use super::{load, load_tree};

/// A file or directory at a path of a commit's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its path from the root (empty for the root).
    pub path: String,
    /// Its mode.
    pub mode: EntryMode,
    /// Its blob or tree id.
    pub id: ObjectId,
}

impl Node {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode.is_tree()
    }

    /// The root directory of a commit.
    pub fn root(tree: ObjectId) -> Self {
        Self { path: String::new(), mode: EntryMode::Tree, id: tree }
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") }
}

/// The node at `path` under the root `tree` (empty path: the root). Submodules count as missing.
pub async fn lookup(db: &dyn MetadataStore, tree: ObjectId, path: &str) -> ApiResult<Option<Node>> {
    let mut node = Node::root(tree);
    for part in path.split('/').filter(|part| !part.is_empty()) {
        if !node.is_dir() {
            return Ok(None);
        }
        let entries = load_tree(db, &node.id).await?;
        let Some(entry) = entries.into_iter().find(|entry| entry.name == part) else { return Ok(None) };
        if entry.mode == EntryMode::Submodule {
            return Ok(None);
        }
        node = Node { path: join(&node.path, part), mode: entry.mode, id: entry.id };
    }
    Ok(Some(node))
}

/// The entries of directory `dir`, in git order; with `recursive`, every
/// file and directory below it, each directory followed by its content.
pub async fn list(db: &dyn MetadataStore, dir: &Node, recursive: bool) -> ApiResult<Vec<Node>> {
    let children = |dir: Node| async move {
        let entries = load_tree(db, &dir.id).await?;
        ApiResult::Ok(
            entries
                .into_iter()
                .filter(|entry| entry.mode != EntryMode::Submodule)
                .map(|entry| Node { path: join(&dir.path, &entry.name), mode: entry.mode, id: entry.id })
                .collect::<Vec<_>>(),
        )
    };
    let mut out = Vec::new();
    let mut stack: Vec<Node> = children(dir.clone()).await?.into_iter().rev().collect();
    while let Some(node) = stack.pop() {
        if recursive && node.is_dir() {
            stack.extend(children(node.clone()).await?.into_iter().rev());
        }
        out.push(node);
    }
    Ok(out)
}

/// What a file of a tree is, beyond its blob id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDetails {
    /// The git blob id.
    pub blob_id: ObjectId,
    /// The file's real size (the LFS object's size for a pointer).
    pub size: u64,
    /// Set when the blob is an LFS pointer.
    pub lfs: Option<LfsDetails>,
}

/// An LFS pointer's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfsDetails {
    /// The content's sha256, lowercase hex.
    pub sha256: String,
    /// The content's size.
    pub size: u64,
    /// The size of the pointer blob.
    pub pointer_size: u64,
    /// The Xet file holding the content, when this repo uploaded it through Xet.
    pub xet_hash: Option<MerkleHash>,
}

/// Describes files, remembering blobs already seen in this request.
pub struct Describer<'a> {
    db: &'a dyn MetadataStore,
    repo_id: i64,
    seen: HashMap<ObjectId, FileDetails>,
}

impl<'a> Describer<'a> {
    /// A describer for one repo's files.
    pub fn new(db: &'a dyn MetadataStore, repo_id: i64) -> Self {
        Self { db, repo_id, seen: HashMap::new() }
    }

    /// The details of blob `blob_id`.
    pub async fn describe(&mut self, blob_id: ObjectId) -> ApiResult<FileDetails> {
        if let Some(details) = self.seen.get(&blob_id) {
            return Ok(details.clone());
        }
        // Only a small blob can be a pointer; a larger one is described by its size alone.
        let size = self
            .db
            .object_size(&blob_id)
            .await?
            .ok_or_else(|| ApiError::internal(format!("git object {blob_id} is missing")))?;
        let details = if size > MAX_POINTER_LEN as u64 {
            FileDetails { blob_id, size, lfs: None }
        } else {
            self.details_of(&load(self.db, &blob_id).await?).await?
        };
        self.seen.insert(blob_id, details.clone());
        Ok(details)
    }

    /// Describes many blobs with a few batched queries (sizes, then the
    /// small blobs that may be pointers), instead of one or two per blob;
    /// [`Describer::describe`] then answers them from memory.
    pub async fn prefetch(&mut self, blob_ids: &[ObjectId]) -> ApiResult<()> {
        let wanted: Vec<ObjectId> = blob_ids
            .iter()
            .copied()
            .filter(|id| !self.seen.contains_key(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut small = Vec::new();
        for (blob_id, size) in self.db.object_sizes(&wanted).await? {
            if size > MAX_POINTER_LEN as u64 {
                self.seen.insert(blob_id, FileDetails { blob_id, size, lfs: None });
            } else {
                small.push(blob_id);
            }
        }
        for blob in self.db.objects(&small).await? {
            let details = self.details_of(&blob).await?;
            self.seen.insert(blob.id, details);
        }
        Ok(())
    }

    /// The details of a small blob: an LFS pointer's facts, or its own size.
    async fn details_of(&self, blob: &GitObject) -> ApiResult<FileDetails> {
        let Some(pointer) = LfsPointer::parse(&blob.data) else {
            return Ok(FileDetails { blob_id: blob.id, size: blob.data.len() as u64, lfs: None });
        };
        let xet_hash = match parse_lfs_oid(&pointer.sha256) {
            Some(raw) => self.db.repo_file_by_sha256(self.repo_id, &raw).await?.map(|(hash, _)| hash),
            None => None,
        };
        Ok(FileDetails {
            blob_id: blob.id,
            size: pointer.size,
            lfs: Some(LfsDetails {
                sha256: pointer.sha256,
                size: pointer.size,
                pointer_size: blob.data.len() as u64,
                xet_hash,
            }),
        })
    }
}
