//! The metadata store: every durable fact other than blob bytes.
//!
//! [`MetadataStore`] is the one trait of this backend family. [`SqlStore`]
//! implements it once over sqlx's `Any` driver, so the same SQL runs on the
//! embedded SQLite file and on Postgres; only the migrations differ per
//! dialect. Queries use `$n` placeholders in order of first appearance.

mod model;
mod sql;

pub use model::*;
pub use sql::SqlStore;

use async_trait::async_trait;
use tessera_formats::MerkleHash;
use tessera_formats::git::{ObjectId, ObjectKind};
use tessera_formats::xorb::XorbIndex;

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// A unique name is taken.
    #[error("{what} already exists")]
    Conflict {
        /// What collided.
        what: String,
    },
    /// A stored value could not be decoded.
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    /// The database failed or is unreachable.
    #[error("database: {0}")]
    Backend(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database cannot be upgraded as it is; the message says what to change.
    #[error("cannot upgrade the database: {0}")]
    Upgrade(String),
}

/// Short-hand result for this crate.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Every metadata operation the server performs.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    // ---- health ----

    /// Checks the database answers (readiness probes).
    async fn ping(&self) -> Result<()>;

    // ---- settings ----

    /// The value of a setting, creating it from `default` if absent (first writer wins).
    async fn setting_or_insert(&self, key: &str, default: Vec<u8>) -> Result<Vec<u8>>;

    // ---- accounts: users and organizations ----

    /// Creates a user; [`DbError::Conflict`] if any account has the name, in any case.
    async fn create_user(&self, name: &str, is_admin: bool) -> Result<User>;
    /// Creates an organization with `owner_id` as its first admin.
    async fn create_org(&self, name: &str, owner_id: i64) -> Result<User>;
    /// A user or an organization by name, case-insensitively.
    async fn user_by_name(&self, name: &str) -> Result<Option<User>>;
    /// An account by row id.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>>;
    /// Every account of a kind, by name.
    async fn list_accounts(&self, kind: AccountKind) -> Result<Vec<User>>;
    /// Number of users (organizations not counted).
    async fn user_count(&self) -> Result<i64>;
    /// Disables or enables a user.
    async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> Result<()>;
    /// Deletes an account with its tokens, memberships and access requests;
    /// [`DbError::Conflict`] while repos or locks still name it.
    async fn delete_account(&self, id: i64) -> Result<()>;

    /// Adds a member to an organization, or changes their role.
    async fn set_member(&self, org_id: i64, user_id: i64, role: OrgRole) -> Result<()>;
    /// Removes a member; `false` if they were not one.
    async fn remove_member(&self, org_id: i64, user_id: i64) -> Result<bool>;
    /// An organization's members, by name.
    async fn org_members(&self, org_id: i64) -> Result<Vec<Membership>>;
    /// The organizations a user belongs to, by name.
    async fn user_orgs(&self, user_id: i64) -> Result<Vec<Membership>>;
    /// A user's role in an organization.
    async fn member_role(&self, org_id: i64, user_id: i64) -> Result<Option<OrgRole>>;

    // ---- passwords and browser sessions ----

    /// Sets (or with `None` removes) a user's password hash, and clears their failed logins.
    async fn set_password_hash(&self, user_id: i64, hash: Option<&str>) -> Result<()>;
    /// What signing in as a user checks.
    async fn login_state(&self, user_id: i64) -> Result<Option<LoginState>>;
    /// Counts a failed sign-in; the `max_failures`th in a row locks the
    /// account until `now_ms + lock_ms` (and starts counting again).
    async fn record_login_failure(&self, user_id: i64, now_ms: i64, max_failures: i64, lock_ms: i64) -> Result<()>;
    /// Stores a session by the hash of its id; it ends at `expires_at` (unix ms).
    async fn create_session(&self, id_hash: &[u8], user_id: i64, created_at: i64, expires_at: i64) -> Result<()>;
    /// The user of a live session, unless that user is disabled.
    async fn session_user(&self, id_hash: &[u8], now_ms: i64) -> Result<Option<User>>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &[u8]) -> Result<()>;
    /// Ends every session of a user but the one whose id hashes to `keep` (after a password change).
    async fn delete_other_sessions(&self, user_id: i64, keep: &[u8]) -> Result<()>;

    // ---- profiles and sign-up invitations ----

    /// The full name an account shows on its profile, if set.
    async fn full_name(&self, account_id: i64) -> Result<Option<String>>;
    /// Sets (or with `None` clears) an account's full name.
    async fn set_full_name(&self, account_id: i64, full_name: Option<&str>) -> Result<()>;
    /// Stores an invitation by the hash of its code; it ends at `expires_at` (unix ms).
    async fn create_invite(&self, code_hash: &[u8], created_by: i64, created_at: i64, expires_at: i64) -> Result<i64>;
    /// Claims a live, unused invitation (marks it used now); its id, or `None` when there is none to claim.
    async fn claim_invite(&self, code_hash: &[u8], now_ms: i64) -> Result<Option<i64>>;
    /// Records who used a claimed invitation, or with `None` releases the claim.
    async fn settle_invite(&self, invite_id: i64, used_by: Option<i64>) -> Result<()>;

    // ---- tokens ----

    /// Stores a token by the hash of its secret, with the grants of a fine-grained one.
    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
        scope: TokenScope,
        grants: &[TokenGrant],
    ) -> Result<Token>;
    /// The token with this secret hash, and its user, unless that user is disabled.
    async fn token_by_hash(&self, token_hash: &[u8]) -> Result<Option<(User, Token)>>;
    /// A token by row id, and its user, unless that user is disabled.
    async fn token_by_id(&self, id: i64) -> Result<Option<(User, Token)>>;
    /// A user's tokens, oldest first, even while the user is disabled.
    async fn tokens(&self, user_id: i64) -> Result<Vec<Token>>;
    /// Revokes a token; `false` if there was none.
    async fn delete_token(&self, id: i64) -> Result<bool>;

    // ---- repos ----

    /// Creates a repo; [`DbError::Conflict`] if the name is taken in any
    /// case. It takes the name over from a moved repo's redirect.
    async fn create_repo(&self, repo: &NewRepo) -> Result<Repo>;
    /// A repo by type and full name, case-insensitively.
    async fn repo(&self, repo_type: RepoType, namespace: &str, name: &str) -> Result<Option<Repo>>;
    /// A repo by row id.
    async fn repo_by_id(&self, id: i64) -> Result<Option<Repo>>;
    /// The repo now answering to an old name of a moved repo.
    async fn redirected_repo(&self, repo_type: RepoType, namespace: &str, name: &str) -> Result<Option<Repo>>;
    /// Moves a repo to a new namespace and name (owned by `owner_id`),
    /// leaving a redirect at the old name; [`DbError::Conflict`] if the new name is taken.
    async fn move_repo(&self, repo_id: i64, namespace: &str, name: &str, owner_id: i64) -> Result<Repo>;
    /// Deletes a repo with its refs, file links, LFS locks, grants, requests and redirects.
    async fn delete_repo(&self, repo_id: i64) -> Result<()>;
    /// Sets a repo's visibility.
    async fn set_repo_private(&self, repo_id: i64, private: bool) -> Result<()>;
    /// Sets a repo's gating.
    async fn set_repo_gating(&self, repo_id: i64, gating: Gating) -> Result<()>;
    /// Records a change to the repo at `time_ms`.
    async fn touch_repo(&self, repo_id: i64, time_ms: i64) -> Result<()>;
    /// Repos of a type, by name.
    async fn list_repos(&self, repo_type: RepoType) -> Result<Vec<Repo>>;
    /// Every repo of a namespace (owned by the account `owner_id`), of every type.
    async fn namespace_repos(&self, owner_id: i64) -> Result<Vec<Repo>>;

    // ---- access requests of gated repos ----

    /// Records a user's request (or its new status), keeping its fields
    /// when `fields` is `None`.
    async fn put_access_request(
        &self,
        repo_id: i64,
        user_id: i64,
        status: AccessStatus,
        fields: Option<&str>,
    ) -> Result<AccessRequest>;
    /// A user's request for a repo.
    async fn access_request(&self, repo_id: i64, user_id: i64) -> Result<Option<AccessRequest>>;
    /// A request by its id, within a repo.
    async fn access_request_by_id(&self, repo_id: i64, id: i64) -> Result<Option<AccessRequest>>;
    /// A repo's requests in one status, oldest change first.
    async fn access_requests(&self, repo_id: i64, status: AccessStatus) -> Result<Vec<AccessRequest>>;

    // ---- git objects and refs ----

    /// Stores git objects (idempotent: existing ids are kept).
    async fn put_objects(&self, objects: &[GitObject]) -> Result<()>;
    /// A git object by id.
    async fn object(&self, id: &ObjectId) -> Result<Option<GitObject>>;
    /// A git object's content length, without loading it.
    async fn object_size(&self, id: &ObjectId) -> Result<Option<u64>>;
    /// The content lengths of the objects among `ids` that are stored, in no particular order.
    async fn object_sizes(&self, ids: &[ObjectId]) -> Result<Vec<(ObjectId, u64)>>;
    /// The objects among `ids` that are stored, in no particular order.
    async fn objects(&self, ids: &[ObjectId]) -> Result<Vec<GitObject>>;
    /// The kinds of the objects among `ids` that are stored, without loading them.
    async fn object_kinds(&self, ids: &[ObjectId]) -> Result<Vec<(ObjectId, ObjectKind)>>;
    /// All refs of a repo, by full name (`refs/heads/main`).
    async fn refs(&self, repo_id: i64) -> Result<Vec<(String, ObjectId)>>;
    /// One ref's target.
    async fn ref_target(&self, repo_id: i64, name: &str) -> Result<Option<ObjectId>>;
    /// Compare-and-swap of a ref: sets `name` to `new` only if it currently
    /// points at `expected` (`None`: only if it does not exist). `new = None`
    /// deletes it. Returns whether the swap happened.
    async fn update_ref(
        &self,
        repo_id: i64,
        name: &str,
        expected: Option<ObjectId>,
        new: Option<ObjectId>,
    ) -> Result<bool> {
        self.update_refs(repo_id, &[RefUpdate { name, expected, new }]).await
    }
    /// Compare-and-swap of several refs at once: all of them swap, or none
    /// (`false`) when any one does not point where expected.
    async fn update_refs(&self, repo_id: i64, updates: &[RefUpdate<'_>]) -> Result<bool>;

    // ---- Xet ----

    /// Records a validated xorb; `false` if it was already known.
    async fn insert_xorb(&self, index: &XorbIndex, time_ms: i64) -> Result<bool>;
    /// A xorb's chunk table.
    async fn xorb(&self, hash: &MerkleHash) -> Result<Option<XorbIndex>>;
    /// Records a file's reconstruction (idempotent) and links it to a repo
    /// with the sha256 its uploader claimed.
    async fn register_file(
        &self,
        repo_id: i64,
        file: &XetFile,
        sha256: Option<&MerkleHash>,
        time_ms: i64,
    ) -> Result<()>;
    /// A file's reconstruction.
    async fn xet_file(&self, hash: &MerkleHash) -> Result<Option<XetFile>>;
    /// Whether `repo_id` may read the file.
    async fn repo_has_file(&self, repo_id: i64, file_hash: &MerkleHash) -> Result<bool>;
    /// The file a repo's uploads registered under this sha256. Unlike
    /// [`MetadataStore::register_file`], which takes the sha256 as shards carry
    /// it (Xet byte order), this takes the plain digest bytes.
    async fn repo_file_by_sha256(&self, repo_id: i64, sha256: &[u8; 32]) -> Result<Option<(MerkleHash, u64)>>;
    /// Indexes `(chunk, xorb)` pairs for global dedup (idempotent).
    async fn add_dedup_chunks(&self, pairs: &[(MerkleHash, MerkleHash)]) -> Result<()>;
    /// The xorbs to offer a client holding this chunk (at most `limit`, oldest first).
    async fn dedup_xorbs(&self, chunk_hash: &MerkleHash, limit: i64) -> Result<Vec<MerkleHash>>;

    // ---- statistics ----

    /// Totals for the admin stats endpoint.
    async fn stats(&self) -> Result<Stats>;
    /// What each of `files` added to the store: the serialized and
    /// uncompressed bytes of the xorbs it was the first file to use. Files
    /// that added nothing are left out.
    async fn stored_by_files(&self, files: &[MerkleHash]) -> Result<Vec<StoredBytes>>;
    /// Attributes the xorbs of files registered before xorbs knew their
    /// first file (migration 0006), oldest file first; once per database.
    /// Returns how many files it went through.
    async fn attribute_earlier_uploads(&self) -> Result<u64>;

    // ---- LFS locks ----

    /// Locks `path` of a repo for `owner_id`, unless it is locked already.
    async fn create_lfs_lock(&self, repo_id: i64, path: &str, owner_id: i64, time_ms: i64) -> Result<LockAttempt>;
    /// A repo's locks matching `query`, in id order.
    async fn lfs_locks(&self, repo_id: i64, query: &LfsLockQuery) -> Result<Vec<LfsLock>>;
    /// One lock of a repo.
    async fn lfs_lock(&self, repo_id: i64, id: i64) -> Result<Option<LfsLock>>;
    /// Removes a lock of a repo; `false` if there was none.
    async fn delete_lfs_lock(&self, repo_id: i64, id: i64) -> Result<bool>;
}

/// One ref move of [`MetadataStore::update_refs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefUpdate<'a> {
    /// The full ref name (`refs/heads/main`).
    pub name: &'a str,
    /// Where it must point now (`None`: it must not exist).
    pub expected: Option<ObjectId>,
    /// Where it will point (`None`: it is deleted).
    pub new: Option<ObjectId>,
}

/// A stored git object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitObject {
    /// Its id.
    pub id: ObjectId,
    /// Its kind.
    pub kind: ObjectKind,
    /// Its content (without the `kind len\0` header).
    pub data: Vec<u8>,
}

impl GitObject {
    /// An object with its id computed from kind and content.
    pub fn new(kind: ObjectKind, data: Vec<u8>) -> Self {
        Self { id: ObjectId::for_object(kind, &data), kind, data }
    }
}
