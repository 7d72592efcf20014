//! Domain types stored in the metadata DB.

use tessera_formats::MerkleHash;
use tessera_formats::shard::FileTerm;

/// An account: a user, or an organization. Both own a namespace, and one
/// name space holds both, case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Unique name in its canonical spelling (the namespace of its repos).
    pub name: String,
    /// A user or an organization.
    pub kind: AccountKind,
    /// Whether the user administers the server (never for organizations).
    pub is_admin: bool,
    /// Whether the user is disabled: none of their tokens work.
    pub disabled: bool,
    /// Creation time, unix ms.
    pub created_at: i64,
}

impl User {
    /// Whether this account is an organization.
    pub fn is_org(&self) -> bool {
        self.kind == AccountKind::Org
    }
}

/// What an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A person (or a robot) who signs in with tokens.
    User,
    /// An organization: a namespace with members.
    Org,
}

impl AccountKind {
    /// `user` or `org`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Org => "org",
        }
    }

    /// Parses `user` or `org`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::User, Self::Org].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// A member's role in an organization, weakest first (HF's roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgRole {
    /// Reads the organization's private repos.
    Read,
    /// Creates repos, and writes those they created.
    Contributor,
    /// Writes every repo of the organization.
    Write,
    /// Also manages members and settings.
    Admin,
}

impl OrgRole {
    /// Every role, weakest first.
    pub const ALL: [Self; 4] = [Self::Read, Self::Contributor, Self::Write, Self::Admin];

    /// `read`, `contributor`, `write` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Contributor => "contributor",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The organization.
    pub org: User,
    /// The member.
    pub user: User,
    /// Their role.
    pub role: OrgRole,
}

/// What signing in as a user checks. No `Debug`: it holds the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginState {
    /// The argon2 PHC string, if the user has a password.
    pub password_hash: Option<String>,
    /// Until when (unix ms) sign-ins are refused after too many failures.
    pub locked_until: i64,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// Read repos the user can see.
    Read,
    /// Everything the user can do.
    Write,
    /// Only what its [`TokenGrant`]s name, and never more than the user can do.
    FineGrained,
}

impl TokenScope {
    /// `read`, `write` or `fineGrained` (HF's role names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::FineGrained => "fineGrained",
        }
    }

    /// Parses a role name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Read, Self::Write, Self::FineGrained].into_iter().find(|scope| scope.as_str() == text)
    }
}

/// One thing a fine-grained token may reach, and whether it may write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// A repo, or a namespace.
    pub target: GrantTarget,
    /// Write as well as read.
    pub write: bool,
}

/// What a [`TokenGrant`] reaches. Names are filled in when grants are read
/// (and ignored when they are created), so a moved repo keeps its grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantTarget {
    /// One repo.
    Repo {
        /// Its row id.
        id: i64,
        /// Its type.
        repo_type: RepoType,
        /// `namespace/name`, canonical.
        full_name: String,
    },
    /// Every repo of a user's or an organization's namespace.
    Namespace {
        /// The account's row id.
        id: i64,
        /// Its name.
        name: String,
        /// A user or an organization.
        kind: AccountKind,
    },
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
    /// What a fine-grained token reaches (empty for the others).
    pub grants: Vec<TokenGrant>,
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
    /// Whether only those with access can see it.
    pub private: bool,
    /// The account owning its namespace (a user or an organization).
    pub owner_id: i64,
    /// The user who created it.
    pub creator_id: i64,
    /// Whether downloads need an accepted access request.
    pub gating: Gating,
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
    /// The account owning the namespace.
    pub owner_id: i64,
    /// The user creating it.
    pub creator_id: i64,
    /// Creation time, unix ms.
    pub created_at: i64,
}

/// Whether a repo's files need an accepted access request (HF's gated repos).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gating {
    /// Anyone who can see the repo can download.
    #[default]
    Open,
    /// Requests are accepted at once.
    Auto,
    /// Requests wait for a maintainer.
    Manual,
}

impl Gating {
    /// `auto` or `manual`; `None` when open (HF's `gated: false`).
    pub fn as_setting(self) -> Option<&'static str> {
        match self {
            Self::Open => None,
            Self::Auto => Some("auto"),
            Self::Manual => Some("manual"),
        }
    }

    /// The gating a stored or requested setting names (`None` is open).
    pub fn from_setting(text: Option<&str>) -> Option<Self> {
        match text {
            None => Some(Self::Open),
            Some("auto") => Some(Self::Auto),
            Some("manual") => Some(Self::Manual),
            Some(_) => None,
        }
    }
}

/// Where a user's request to download a gated repo stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessStatus {
    /// Waiting for a maintainer.
    Pending,
    /// May download.
    Accepted,
    /// Refused.
    Rejected,
}

impl AccessStatus {
    /// `pending`, `accepted` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }

    /// Parses a status name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Rejected].into_iter().find(|status| status.as_str() == text)
    }
}

/// A user's request to download a gated repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Row id (HF's `requestId`).
    pub id: i64,
    /// The repo.
    pub repo_id: i64,
    /// The requesting user.
    pub user: User,
    /// Where it stands.
    pub status: AccessStatus,
    /// The form fields the user sent, as a JSON object.
    pub fields: Option<String>,
    /// When it last changed, unix ms.
    pub updated_at: i64,
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

/// The bytes one Xet file's upload added to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBytes {
    /// The Xet file.
    pub file: MerkleHash,
    /// Serialized (compressed) bytes of the xorbs it was first to use.
    pub serialized: u64,
    /// Their uncompressed bytes.
    pub uncompressed: u64,
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
