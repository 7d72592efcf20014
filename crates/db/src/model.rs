//! Domain types stored in the metadata DB.

use tessera_formats::MerkleHash;
use tessera_formats::shard::FileTerm;

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Unique user name (the namespace of their repos).
    pub name: String,
    /// Whether the user administers the server.
    pub is_admin: bool,
    /// Creation time, unix ms.
    pub created_at: i64,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TokenScope {
    /// Read repos the user can see.
    Read,
    /// Also create repos and write to them.
    Write,
}

impl TokenScope {
    /// `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// Parses `read` or `write`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }
}

/// An access token (its secret is only ever stored hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Display name.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// Creation time, unix ms.
    pub created_at: i64,
}

/// The three kinds of repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoType {
    /// A model.
    Model,
    /// A dataset.
    Dataset,
    /// A space.
    Space,
}

impl RepoType {
    /// All types.
    pub const ALL: [Self; 3] = [Self::Model, Self::Dataset, Self::Space];

    /// `model`, `dataset` or `space`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Dataset => "dataset",
            Self::Space => "space",
        }
    }

    /// Parses the singular name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Parses the plural used in API paths (`models`, …).
    pub fn from_plural(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.plural() == text)
    }

    /// `models`, `datasets` or `spaces`.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
            Self::Space => "spaces",
        }
    }

    /// The type a web, file or git URL path names by its prefix
    /// (`/datasets/…`, `/spaces/…`, anything else a model).
    pub fn from_url_path(path: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|t| !t.url_prefix().is_empty() && path.trim_start_matches('/').starts_with(t.url_prefix()))
            .unwrap_or(Self::Model)
    }

    /// The prefix of file and web URLs: empty for models.
    pub fn url_prefix(self) -> &'static str {
        match self {
            Self::Model => "",
            Self::Dataset => "datasets/",
            Self::Space => "spaces/",
        }
    }
}

/// A repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// Row id.
    pub id: i64,
    /// Its type.
    pub repo_type: RepoType,
    /// Owner namespace.
    pub namespace: String,
    /// Name within the namespace.
    pub name: String,
    /// Whether only its owner (and admins) can see it.
    pub private: bool,
    /// Owning user.
    pub owner_id: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
    /// Last change, unix ms.
    pub updated_at: i64,
}

impl Repo {
    /// `namespace/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A repository to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepo {
    /// Its type.
    pub repo_type: RepoType,
    /// Owner namespace.
    pub namespace: String,
    /// Name within the namespace.
    pub name: String,
    /// Visibility.
    pub private: bool,
    /// Owning user.
    pub owner_id: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
}

/// A file known to the CAS: its size and reconstruction terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XetFile {
    /// The Xet file hash.
    pub hash: MerkleHash,
    /// Size in bytes.
    pub size: u64,
    /// Terms in file order.
    pub terms: Vec<FileTerm>,
}

/// Totals for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Users.
    pub users: i64,
    /// Repositories.
    pub repos: i64,
    /// Xorbs stored.
    pub xorbs: i64,
    /// Serialized bytes of all xorbs (what the blob store holds for Xet).
    pub xorb_bytes: i64,
    /// Uncompressed bytes of all xorbs.
    pub xorb_uncompressed_bytes: i64,
    /// Distinct Xet files.
    pub xet_files: i64,
    /// Σ sizes of distinct Xet files (the logical bytes before dedup).
    pub xet_file_bytes: i64,
    /// Git objects (shared by all repos).
    pub git_objects: i64,
}

/// A Git LFS file lock: one path of a repo, held by one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfsLock {
    /// Row id (the lock id clients see, as a string).
    pub id: i64,
    /// The repo.
    pub repo_id: i64,
    /// The locked path, relative to the repo root.
    pub path: String,
    /// The user holding it.
    pub owner_id: i64,
    /// That user's name.
    pub owner_name: String,
    /// Creation time, unix ms.
    pub created_at: i64,
}

/// Which locks of a repo to list, in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LfsLockQuery {
    /// Only the lock on this path.
    pub path: Option<String>,
    /// Only the lock with this id.
    pub id: Option<i64>,
    /// Only locks with an id at least this one (pagination).
    pub from_id: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// The outcome of taking a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAttempt {
    /// The new lock.
    Created(LfsLock),
    /// The path was already locked: the lock that holds it.
    Taken(LfsLock),
}
