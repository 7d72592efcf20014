//! [`MetadataStore`] over sqlx's `Any` driver (SQLite or Postgres).

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row as _};
use tessera_formats::MerkleHash;
use tessera_formats::git::{ObjectId, ObjectKind};
use tessera_formats::shard::FileTerm;
use tessera_formats::xorb::{XorbChunk, XorbIndex};

use crate::{
    AccessRequest, AccessStatus, AccountKind, DbError, Gating, GitObject, GrantTarget, LfsLock, LfsLockQuery,
    LockAttempt, LoginState, Membership, MetadataStore, NewRepo, OrgRole, RefUpdate, Repo, RepoType, Result, Stats,
    StoredBytes, Token, TokenGrant, TokenScope, User, XetFile,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The SQL metadata store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: &'static str,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl SqlStore {
    /// Connects to `url` (`sqlite://…?mode=rwc` or `postgres://…`) and applies
    /// the migrations of its dialect.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        let pool = AnyPoolOptions::new().max_connections(if backend == "sqlite" { 8 } else { 16 }).connect(url).await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        self.refuse_case_collisions().await?;
        let migrator = if self.backend == "sqlite" { &SQLITE_MIGRATIONS } else { &POSTGRES_MIGRATIONS };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Before names become case-insensitive (migration 0003), a database of
    /// an earlier release may hold names that differ only in case; the
    /// upgrade would fail on its unique indexes. Says which, so an operator
    /// can rename them. (A fresh database has no tables yet: nothing to check.)
    async fn refuse_case_collisions(&self) -> Result<()> {
        const USERS: &str = "SELECT name AS id FROM users WHERE lower(name) IN \
             (SELECT lower(name) FROM users GROUP BY lower(name) HAVING COUNT(*) > 1) ORDER BY lower(name), name";
        const REPOS: &str = "SELECT repo_type || ' ' || namespace || '/' || name AS id FROM repos r WHERE \
             (SELECT COUNT(*) FROM repos o WHERE o.repo_type = r.repo_type AND lower(o.namespace) = lower(r.namespace) \
              AND lower(o.name) = lower(r.name)) > 1 ORDER BY lower(namespace), lower(name), namespace, name";
        let mut colliding = Vec::new();
        for (what, sql) in [("users", USERS), ("repos", REPOS)] {
            let Ok(rows) = sqlx::query(sql).fetch_all(&self.pool).await else { continue };
            let ids: Vec<String> = rows.iter().filter_map(|row| row.try_get::<String, _>("id").ok()).collect();
            if !ids.is_empty() {
                colliding.push(format!("{what}: {}", ids.join(", ")));
            }
        }
        if colliding.is_empty() {
            return Ok(());
        }
        Err(DbError::Upgrade(format!(
            "names are now case-insensitive, and these differ only in case ({}); rename or delete all but one \
             of each (with the previous release, or in the database), then start again",
            colliding.join("; ")
        )))
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// `columns` of the `git_objects` rows among `ids`, in batches of [`ID_BATCH`].
    async fn object_rows(&self, columns: &str, ids: &[ObjectId]) -> Result<Vec<AnyRow>> {
        let mut rows = Vec::with_capacity(ids.len());
        for batch in ids.chunks(ID_BATCH) {
            let sql = format!("SELECT {columns} FROM git_objects WHERE oid IN ({})", placeholders(batch.len()));
            let mut query = sqlx::query(&sql);
            for id in batch {
                query = query.bind(id.as_bytes().to_vec());
            }
            rows.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(rows)
    }
}

/// Ids per `IN (…)` query: well under SQLite's and Postgres' bind limits.
const ID_BATCH: usize = 500;

/// `$1, $2, … $n`.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn corrupt(what: impl Into<String>) -> DbError {
    DbError::Corrupt(what.into())
}

fn hash_from(bytes: &[u8]) -> Result<MerkleHash> {
    let raw: [u8; 32] = bytes.try_into().map_err(|_| corrupt("hash is not 32 bytes"))?;
    Ok(MerkleHash::from_bytes(raw))
}

/// The `kind` column of a `git_objects` row.
fn kind_from(row: &AnyRow) -> Result<ObjectKind> {
    let kind: String = row.try_get("kind")?;
    ObjectKind::parse(&kind).ok_or_else(|| corrupt(format!("object kind {kind}")))
}

fn oid_from(bytes: &[u8]) -> Result<ObjectId> {
    let raw: [u8; 20] = bytes.try_into().map_err(|_| corrupt("object id is not 20 bytes"))?;
    Ok(ObjectId::from_bytes(raw))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// A xorb's chunk table as stored: per chunk its hash, uncompressed length and byte end.
fn encode_chunk_index(index: &XorbIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(index.chunks.len() * 40);
    for chunk in &index.chunks {
        out.extend_from_slice(chunk.hash.as_bytes());
        out.extend_from_slice(&chunk.uncompressed_len.to_le_bytes());
        out.extend_from_slice(&(chunk.byte_end as u32).to_le_bytes());
    }
    out
}

fn decode_chunk_index(hash: MerkleHash, bytes: &[u8]) -> Result<XorbIndex> {
    if !bytes.len().is_multiple_of(40) {
        return Err(corrupt("xorb chunk index length"));
    }
    let mut chunks = Vec::with_capacity(bytes.len() / 40);
    let (mut byte_start, mut uncompressed_start) = (0u64, 0u64);
    for record in bytes.chunks_exact(40) {
        let uncompressed_len = u32_at(record, 32);
        let byte_end = u64::from(u32_at(record, 36));
        chunks.push(XorbChunk {
            hash: hash_from(&record[..32])?,
            uncompressed_len,
            byte_start,
            byte_end,
            uncompressed_start,
        });
        byte_start = byte_end;
        uncompressed_start += u64::from(uncompressed_len);
    }
    Ok(XorbIndex { hash, chunks })
}

/// Makes `file` the first file of each of its xorbs that has none yet.
async fn attribute_xorbs(connection: &mut sqlx::AnyConnection, file: &MerkleHash, terms: &[FileTerm]) -> Result<()> {
    let mut xorbs: Vec<Vec<u8>> = terms.iter().map(|term| term.xorb_hash.as_bytes().to_vec()).collect();
    xorbs.sort();
    xorbs.dedup();
    for batch in xorbs.chunks(ID_BATCH) {
        let sql = format!(
            "UPDATE xorbs SET first_file = ${} WHERE first_file IS NULL AND hash IN ({})",
            batch.len() + 1,
            placeholders(batch.len())
        );
        let mut query = sqlx::query(&sql);
        for xorb in batch {
            query = query.bind(xorb.clone());
        }
        query.bind(file.as_bytes().to_vec()).execute(&mut *connection).await?;
    }
    Ok(())
}

fn encode_terms(terms: &[FileTerm]) -> Vec<u8> {
    let mut out = Vec::with_capacity(terms.len() * 44);
    for term in terms {
        out.extend_from_slice(term.xorb_hash.as_bytes());
        out.extend_from_slice(&term.unpacked_bytes.to_le_bytes());
        out.extend_from_slice(&term.chunk_start.to_le_bytes());
        out.extend_from_slice(&term.chunk_end.to_le_bytes());
    }
    out
}

fn decode_terms(bytes: &[u8]) -> Result<Vec<FileTerm>> {
    if !bytes.len().is_multiple_of(44) {
        return Err(corrupt("file terms length"));
    }
    bytes
        .chunks_exact(44)
        .map(|record| {
            Ok(FileTerm {
                xorb_hash: hash_from(&record[..32])?,
                xorb_flags: 0,
                unpacked_bytes: u32_at(record, 32),
                chunk_start: u32_at(record, 36),
                chunk_end: u32_at(record, 40),
            })
        })
        .collect()
}

/// The columns of an account row (`users`), each prefixed by `prefix`.
fn user_columns(table: &str, prefix: &str) -> String {
    ["id", "name", "kind", "is_admin", "disabled", "created_at"]
        .iter()
        .map(|column| format!("{table}.{column} AS {prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An account from columns named by [`user_columns`] with `prefix`.
fn user_at(row: &AnyRow, prefix: &str) -> Result<User> {
    let column = |name: &str| format!("{prefix}{name}");
    let kind: String = row.try_get(column("kind").as_str())?;
    Ok(User {
        id: row.try_get(column("id").as_str())?,
        name: row.try_get(column("name").as_str())?,
        kind: AccountKind::parse(&kind).ok_or_else(|| corrupt(format!("account kind {kind}")))?,
        is_admin: row.try_get::<i64, _>(column("is_admin").as_str())? != 0,
        disabled: row.try_get::<i64, _>(column("disabled").as_str())? != 0,
        created_at: row.try_get(column("created_at").as_str())?,
    })
}

/// `SELECT` of whole account rows.
fn user_select() -> String {
    format!("SELECT {} FROM users u", user_columns("u", "u_"))
}

fn repo_from(row: &AnyRow) -> Result<Repo> {
    let repo_type: String = row.try_get("repo_type")?;
    let gated: Option<String> = row.try_get("gated")?;
    Ok(Repo {
        id: row.try_get("id")?,
        repo_type: RepoType::parse(&repo_type).ok_or_else(|| corrupt(format!("repo type {repo_type}")))?,
        namespace: row.try_get("namespace")?,
        name: row.try_get("name")?,
        private: row.try_get::<i64, _>("private")? != 0,
        owner_id: row.try_get("owner_id")?,
        creator_id: row.try_get::<Option<i64>, _>("creator_id")?.unwrap_or(row.try_get("owner_id")?),
        gating: Gating::from_setting(gated.as_deref()).ok_or_else(|| corrupt(format!("gating {gated:?}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// [`DbError::Conflict`] for a unique violation, else the error itself.
fn conflict_as(what: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> DbError {
    move |error| if is_unique_violation(&error) { DbError::Conflict { what: what() } } else { error.into() }
}

const REPO_COLUMNS: &str =
    "id, repo_type, namespace, name, private, owner_id, creator_id, gated, created_at, updated_at";

/// Token rows with their users (`t` is `tokens`, `u` is `users`) where `condition` holds.
fn token_select(condition: &str) -> String {
    format!(
        "SELECT t.id AS token_id, t.name AS token_name, t.scope, t.created_at AS token_created_at, {} \
         FROM tokens t JOIN users u ON u.id = t.user_id WHERE {condition}",
        user_columns("u", "u_")
    )
}

/// The condition that keeps disabled users' tokens from ever authenticating.
const USABLE_TOKEN: &str = "u.disabled = 0";

/// A membership with its organization (`o_`) and user (`u_`).
fn membership_select() -> String {
    format!(
        "SELECT m.role, {}, {} FROM org_members m JOIN users o ON o.id = m.org_id JOIN users u ON u.id = m.user_id",
        user_columns("o", "o_"),
        user_columns("u", "u_")
    )
}

fn membership_from(row: &AnyRow) -> Result<Membership> {
    let role: String = row.try_get("role")?;
    Ok(Membership {
        org: user_at(row, "o_")?,
        user: user_at(row, "u_")?,
        role: OrgRole::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
    })
}

/// An access request with its user (`a` is `access_requests`).
fn access_request_select() -> String {
    format!(
        "SELECT a.id, a.repo_id, a.status, a.fields, a.updated_at, {} FROM access_requests a JOIN users u ON u.id = a.user_id",
        user_columns("u", "u_")
    )
}

fn access_request_from(row: &AnyRow) -> Result<AccessRequest> {
    let status: String = row.try_get("status")?;
    Ok(AccessRequest {
        id: row.try_get("id")?,
        repo_id: row.try_get("repo_id")?,
        user: user_at(row, "u_")?,
        status: AccessStatus::parse(&status).ok_or_else(|| corrupt(format!("access status {status}")))?,
        fields: row.try_get("fields")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A lock with its owner's name (`l` is `lfs_locks`, `u` is `users`).
const LOCK_SELECT: &str = "SELECT l.id, l.repo_id, l.path, l.owner_id, u.name AS owner_name, l.created_at \
     FROM lfs_locks l JOIN users u ON u.id = l.owner_id";

fn lock_from(row: &AnyRow) -> Result<LfsLock> {
    Ok(LfsLock {
        id: row.try_get("id")?,
        repo_id: row.try_get("repo_id")?,
        path: row.try_get("path")?,
        owner_id: row.try_get("owner_id")?,
        owner_name: row.try_get("owner_name")?,
        created_at: row.try_get("created_at")?,
    })
}

impl SqlStore {
    /// A token row of [`token_select`] with its user, and the grants of a fine-grained token.
    async fn token_with_user(&self, row: Option<AnyRow>) -> Result<Option<(User, Token)>> {
        let Some(row) = row else { return Ok(None) };
        let user = user_at(&row, "u_")?;
        let scope: String = row.try_get("scope")?;
        let scope = TokenScope::parse(&scope).ok_or_else(|| corrupt(format!("token scope {scope}")))?;
        let id: i64 = row.try_get("token_id")?;
        let grants = if scope == TokenScope::FineGrained { self.token_grants(id).await? } else { Vec::new() };
        let token = Token {
            id,
            user_id: user.id,
            name: row.try_get("token_name")?,
            scope,
            grants,
            created_at: row.try_get("token_created_at")?,
        };
        Ok(Some((user, token)))
    }

    /// A fine-grained token's grants, with the names of what they reach.
    async fn token_grants(&self, token_id: i64) -> Result<Vec<TokenGrant>> {
        let rows = sqlx::query(
            "SELECT s.access, r.id AS repo_id, r.repo_type, r.namespace AS repo_namespace, r.name AS repo_name,                     a.id AS account_id, a.name AS account_name, a.kind AS account_kind              FROM token_scopes s LEFT JOIN repos r ON r.id = s.repo_id LEFT JOIN users a ON a.id = s.namespace_id              WHERE s.token_id = $1 ORDER BY s.id",
        )
        .bind(token_id)
        .fetch_all(&self.pool)
        .await?;
        let mut grants = Vec::with_capacity(rows.len());
        for row in rows {
            let write = row.try_get::<String, _>("access")? == "write";
            let target = if let Some(id) = row.try_get::<Option<i64>, _>("repo_id")? {
                let repo_type: String = row.try_get("repo_type")?;
                let namespace: String = row.try_get("repo_namespace")?;
                let name: String = row.try_get("repo_name")?;
                GrantTarget::Repo {
                    id,
                    repo_type: RepoType::parse(&repo_type).ok_or_else(|| corrupt(format!("repo type {repo_type}")))?,
                    full_name: format!("{namespace}/{name}"),
                }
            } else if let Some(id) = row.try_get::<Option<i64>, _>("account_id")? {
                let kind: String = row.try_get("account_kind")?;
                GrantTarget::Namespace {
                    id,
                    name: row.try_get("account_name")?,
                    kind: AccountKind::parse(&kind).ok_or_else(|| corrupt(format!("account kind {kind}")))?,
                }
            } else {
                continue; // what it named is gone
            };
            grants.push(TokenGrant { target, write });
        }
        Ok(grants)
    }

    /// The lock on `path` of a repo.
    async fn lfs_lock_on(&self, repo_id: i64, path: &str) -> Result<Option<LfsLock>> {
        let row = sqlx::query(&format!("{LOCK_SELECT} WHERE l.repo_id = $1 AND l.path = $2"))
            .bind(repo_id)
            .bind(path)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(lock_from).transpose()
    }
}

#[async_trait]
impl MetadataStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn setting_or_insert(&self, key: &str, default: Vec<u8>) -> Result<Vec<u8>> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(default)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_one(&self.pool).await?;
        Ok(row.try_get("value")?)
    }

    async fn create_user(&self, name: &str, is_admin: bool) -> Result<User> {
        let id = sqlx::query(
            "INSERT INTO users (name, kind, is_admin, created_at) VALUES ($1, 'user', $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(i64::from(is_admin))
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(conflict_as(|| format!("account {name}")))?
        .try_get("id")?;
        self.user_by_id(id).await?.ok_or_else(|| corrupt("new user vanished"))
    }

    async fn create_org(&self, name: &str, owner_id: i64) -> Result<User> {
        let now = now_ms();
        let mut transaction = self.pool.begin().await?;
        let id: i64 =
            sqlx::query("INSERT INTO users (name, kind, is_admin, created_at) VALUES ($1, 'org', 0, $2) RETURNING id")
                .bind(name)
                .bind(now)
                .fetch_one(&mut *transaction)
                .await
                .map_err(conflict_as(|| format!("account {name}")))?
                .try_get("id")?;
        sqlx::query("INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(owner_id)
            .bind(OrgRole::Admin.as_str())
            .bind(now)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        self.user_by_id(id).await?.ok_or_else(|| corrupt("new organization vanished"))
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query(&format!("{} WHERE lower(u.name) = lower($1)", user_select()))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| user_at(&row, "u_")).transpose()
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
        let row =
            sqlx::query(&format!("{} WHERE u.id = $1", user_select())).bind(id).fetch_optional(&self.pool).await?;
        row.map(|row| user_at(&row, "u_")).transpose()
    }

    async fn list_accounts(&self, kind: AccountKind) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!("{} WHERE u.kind = $1 ORDER BY lower(u.name)", user_select()))
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| user_at(row, "u_")).collect()
    }

    async fn user_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE kind = 'user'").fetch_one(&self.pool).await?;
        Ok(row.try_get("n")?)
    }

    async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> Result<()> {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2 AND kind = 'user'")
            .bind(i64::from(disabled))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_account(&self, id: i64) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let owned: i64 = sqlx::query("SELECT COUNT(*) AS n FROM repos WHERE owner_id = $1")
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?
            .try_get("n")?;
        if owned > 0 {
            return Err(DbError::Conflict { what: format!("{owned} repos of this namespace") });
        }
        // Repos a user created in an organization stay the organization's.
        sqlx::query("UPDATE repos SET creator_id = owner_id WHERE creator_id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        for statement in [
            "DELETE FROM lfs_locks WHERE owner_id = $1",
            "DELETE FROM token_scopes WHERE namespace_id = $1 OR token_id IN (SELECT id FROM tokens WHERE user_id = $1)",
            "DELETE FROM tokens WHERE user_id = $1",
            "DELETE FROM sessions WHERE user_id = $1",
            "UPDATE invites SET created_by = NULL WHERE created_by = $1",
            "UPDATE invites SET used_by = NULL WHERE used_by = $1",
            "DELETE FROM org_members WHERE user_id = $1 OR org_id = $1",
            "DELETE FROM access_requests WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(statement).bind(id).execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn set_member(&self, org_id: i64, user_id: i64, role: OrgRole) -> Result<()> {
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_member(&self, org_id: i64, user_id: i64) -> Result<bool> {
        let result = sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn org_members(&self, org_id: i64) -> Result<Vec<Membership>> {
        let rows = sqlx::query(&format!("{} WHERE m.org_id = $1 ORDER BY lower(u.name)", membership_select()))
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(membership_from).collect()
    }

    async fn user_orgs(&self, user_id: i64) -> Result<Vec<Membership>> {
        let rows = sqlx::query(&format!("{} WHERE m.user_id = $1 ORDER BY lower(o.name)", membership_select()))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(membership_from).collect()
    }

    async fn member_role(&self, org_id: i64, user_id: i64) -> Result<Option<OrgRole>> {
        let row = sqlx::query("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let role: String = row.try_get("role")?;
            OrgRole::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))
        })
        .transpose()
    }

    async fn set_password_hash(&self, user_id: i64, hash: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = 0 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn login_state(&self, user_id: i64) -> Result<Option<LoginState>> {
        let row = sqlx::query("SELECT password_hash, locked_until FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(LoginState { password_hash: row.try_get("password_hash")?, locked_until: row.try_get("locked_until")? })
        })
        .transpose()
    }

    async fn record_login_failure(&self, user_id: i64, now_ms: i64, max_failures: i64, lock_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE users SET \
               locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END, \
               failed_logins = CASE WHEN failed_logins + 1 >= $1 THEN 0 ELSE failed_logins + 1 END \
             WHERE id = $3",
        )
        .bind(max_failures)
        .bind(now_ms + lock_ms)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_session(&self, id_hash: &[u8], user_id: i64, created_at: i64, expires_at: i64) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        // A successful sign-in also clears the failure count.
        sqlx::query("UPDATE users SET failed_logins = 0 WHERE id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2")
            .bind(user_id)
            .bind(created_at)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id_hash.to_vec())
            .bind(user_id)
            .bind(created_at)
            .bind(expires_at)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn session_user(&self, id_hash: &[u8], now_ms: i64) -> Result<Option<User>> {
        let row = sqlx::query(&format!(
            "{} JOIN sessions s ON s.user_id = u.id WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
            user_select()
        ))
        .bind(id_hash.to_vec())
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| user_at(&row, "u_")).transpose()
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash.to_vec()).execute(&self.pool).await?;
        Ok(())
    }

    async fn delete_other_sessions(&self, user_id: i64, keep: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user_id)
            .bind(keep.to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn full_name(&self, account_id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT full_name FROM users WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get("full_name")?,
            None => None,
        })
    }

    async fn set_full_name(&self, account_id: i64, full_name: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE users SET full_name = $1 WHERE id = $2")
            .bind(full_name)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_invite(&self, code_hash: &[u8], created_by: i64, created_at: i64, expires_at: i64) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO invites (code_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(code_hash.to_vec())
        .bind(created_by)
        .bind(created_at)
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn claim_invite(&self, code_hash: &[u8], now_ms: i64) -> Result<Option<i64>> {
        let row = sqlx::query(
            "UPDATE invites SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING id",
        )
        .bind(now_ms)
        .bind(code_hash.to_vec())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| row.try_get("id")).transpose().map_err(Into::into)
    }

    async fn settle_invite(&self, invite_id: i64, used_by: Option<i64>) -> Result<()> {
        let statement = match used_by {
            Some(_) => "UPDATE invites SET used_by = $1 WHERE id = $2",
            None => "UPDATE invites SET used_at = NULL, used_by = $1 WHERE id = $2",
        };
        sqlx::query(statement).bind(used_by).bind(invite_id).execute(&self.pool).await?;
        Ok(())
    }

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &[u8],
        scope: TokenScope,
        grants: &[TokenGrant],
    ) -> Result<Token> {
        let created_at = now_ms();
        let mut transaction = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO tokens (user_id, name, token_hash, scope, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash.to_vec())
        .bind(scope.as_str())
        .bind(created_at)
        .fetch_one(&mut *transaction)
        .await
        .map_err(conflict_as(|| "token".into()))?
        .try_get("id")?;
        for grant in grants {
            let (repo_id, namespace_id) = match &grant.target {
                GrantTarget::Repo { id, .. } => (Some(*id), None),
                GrantTarget::Namespace { id, .. } => (None, Some(*id)),
            };
            sqlx::query("INSERT INTO token_scopes (token_id, repo_id, namespace_id, access) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(repo_id)
                .bind(namespace_id)
                .bind(if grant.write { "write" } else { "read" })
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(Token { id, user_id, name: name.to_owned(), scope, grants: grants.to_vec(), created_at })
    }

    async fn token_by_hash(&self, token_hash: &[u8]) -> Result<Option<(User, Token)>> {
        let row = sqlx::query(&token_select(&format!("{USABLE_TOKEN} AND t.token_hash = $1")))
            .bind(token_hash.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        self.token_with_user(row).await
    }

    async fn token_by_id(&self, id: i64) -> Result<Option<(User, Token)>> {
        let row = sqlx::query(&token_select(&format!("{USABLE_TOKEN} AND t.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.token_with_user(row).await
    }

    async fn tokens(&self, user_id: i64) -> Result<Vec<Token>> {
        // Listed whether or not the user is disabled, so admins can audit them.
        let rows =
            sqlx::query(&token_select("t.user_id = $1 ORDER BY t.id")).bind(user_id).fetch_all(&self.pool).await?;
        let mut tokens = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some((_, token)) = self.token_with_user(Some(row)).await? {
                tokens.push(token);
            }
        }
        Ok(tokens)
    }

    async fn delete_token(&self, id: i64) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("DELETE FROM token_scopes WHERE token_id = $1").bind(id).execute(&mut *transaction).await?;
        let result = sqlx::query("DELETE FROM tokens WHERE id = $1").bind(id).execute(&mut *transaction).await?;
        transaction.commit().await?;
        Ok(result.rows_affected() == 1)
    }

    async fn create_repo(&self, repo: &NewRepo) -> Result<Repo> {
        let mut transaction = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO repos (repo_type, namespace, name, private, owner_id, creator_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {REPO_COLUMNS}"
        ))
        .bind(repo.repo_type.as_str())
        .bind(&repo.namespace)
        .bind(&repo.name)
        .bind(i64::from(repo.private))
        .bind(repo.owner_id)
        .bind(repo.creator_id)
        .bind(repo.created_at)
        .fetch_one(&mut *transaction)
        .await
        .map_err(conflict_as(|| format!("{} {}/{}", repo.repo_type.as_str(), repo.namespace, repo.name)))?;
        sqlx::query("DELETE FROM repo_redirects WHERE repo_type = $1 AND namespace = lower($2) AND name = lower($3)")
            .bind(repo.repo_type.as_str())
            .bind(&repo.namespace)
            .bind(&repo.name)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        repo_from(&row)
    }

    async fn repo(&self, repo_type: RepoType, namespace: &str, name: &str) -> Result<Option<Repo>> {
        let row = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repos \
             WHERE repo_type = $1 AND lower(namespace) = lower($2) AND lower(name) = lower($3)"
        ))
        .bind(repo_type.as_str())
        .bind(namespace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(repo_from).transpose()
    }

    async fn repo_by_id(&self, id: i64) -> Result<Option<Repo>> {
        let row = sqlx::query(&format!("SELECT {REPO_COLUMNS} FROM repos WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(repo_from).transpose()
    }

    async fn redirected_repo(&self, repo_type: RepoType, namespace: &str, name: &str) -> Result<Option<Repo>> {
        let row = sqlx::query(
            "SELECT repo_id FROM repo_redirects WHERE repo_type = $1 AND namespace = lower($2) AND name = lower($3)",
        )
        .bind(repo_type.as_str())
        .bind(namespace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.repo_by_id(row.try_get("repo_id")?).await,
            None => Ok(None),
        }
    }

    async fn move_repo(&self, repo_id: i64, namespace: &str, name: &str, owner_id: i64) -> Result<Repo> {
        let mut transaction = self.pool.begin().await?;
        let old = sqlx::query(&format!("SELECT {REPO_COLUMNS} FROM repos WHERE id = $1"))
            .bind(repo_id)
            .fetch_optional(&mut *transaction)
            .await?;
        let old = repo_from(&old.ok_or_else(|| corrupt(format!("repo {repo_id} vanished")))?)?;
        let row = sqlx::query(&format!(
            "UPDATE repos SET namespace = $1, name = $2, owner_id = $3 WHERE id = $4 RETURNING {REPO_COLUMNS}"
        ))
        .bind(namespace)
        .bind(name)
        .bind(owner_id)
        .bind(repo_id)
        .fetch_one(&mut *transaction)
        .await
        .map_err(conflict_as(|| format!("{} {namespace}/{name}", old.repo_type.as_str())))?;
        sqlx::query("DELETE FROM repo_redirects WHERE repo_type = $1 AND namespace = lower($2) AND name = lower($3)")
            .bind(old.repo_type.as_str())
            .bind(namespace)
            .bind(name)
            .execute(&mut *transaction)
            .await?;
        if !old.full_name().eq_ignore_ascii_case(&format!("{namespace}/{name}")) {
            sqlx::query(
                "INSERT INTO repo_redirects (repo_type, namespace, name, repo_id, created_at) \
                 VALUES ($1, lower($2), lower($3), $4, $5) \
                 ON CONFLICT (repo_type, namespace, name) DO UPDATE SET repo_id = excluded.repo_id, created_at = excluded.created_at",
            )
            .bind(old.repo_type.as_str())
            .bind(&old.namespace)
            .bind(&old.name)
            .bind(repo_id)
            .bind(now_ms())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        repo_from(&row)
    }

    async fn delete_repo(&self, repo_id: i64) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        for table in ["refs", "repo_xet_files", "lfs_locks", "token_scopes", "access_requests", "repo_redirects"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE repo_id = $1"))
                .bind(repo_id)
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::query("DELETE FROM repos WHERE id = $1").bind(repo_id).execute(&mut *transaction).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn set_repo_private(&self, repo_id: i64, private: bool) -> Result<()> {
        sqlx::query("UPDATE repos SET private = $1 WHERE id = $2")
            .bind(i64::from(private))
            .bind(repo_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_repo_gating(&self, repo_id: i64, gating: Gating) -> Result<()> {
        sqlx::query("UPDATE repos SET gated = $1 WHERE id = $2")
            .bind(gating.as_setting())
            .bind(repo_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn touch_repo(&self, repo_id: i64, time_ms: i64) -> Result<()> {
        sqlx::query("UPDATE repos SET updated_at = $1 WHERE id = $2")
            .bind(time_ms)
            .bind(repo_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_repos(&self, repo_type: RepoType) -> Result<Vec<Repo>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repos WHERE repo_type = $1 ORDER BY lower(namespace), lower(name)"
        ))
        .bind(repo_type.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(repo_from).collect()
    }

    async fn namespace_repos(&self, owner_id: i64) -> Result<Vec<Repo>> {
        let rows = sqlx::query(&format!("SELECT {REPO_COLUMNS} FROM repos WHERE owner_id = $1 ORDER BY lower(name)"))
            .bind(owner_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(repo_from).collect()
    }

    async fn put_access_request(
        &self,
        repo_id: i64,
        user_id: i64,
        status: AccessStatus,
        fields: Option<&str>,
    ) -> Result<AccessRequest> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO access_requests (repo_id, user_id, status, fields, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (repo_id, user_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, \
             fields = COALESCE(excluded.fields, access_requests.fields)",
        )
        .bind(repo_id)
        .bind(user_id)
        .bind(status.as_str())
        .bind(fields)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.access_request(repo_id, user_id).await?.ok_or_else(|| corrupt("new access request vanished"))
    }

    async fn access_request(&self, repo_id: i64, user_id: i64) -> Result<Option<AccessRequest>> {
        let row = sqlx::query(&format!("{} WHERE a.repo_id = $1 AND a.user_id = $2", access_request_select()))
            .bind(repo_id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(access_request_from).transpose()
    }

    async fn access_request_by_id(&self, repo_id: i64, id: i64) -> Result<Option<AccessRequest>> {
        let row = sqlx::query(&format!("{} WHERE a.repo_id = $1 AND a.id = $2", access_request_select()))
            .bind(repo_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(access_request_from).transpose()
    }

    async fn access_requests(&self, repo_id: i64, status: AccessStatus) -> Result<Vec<AccessRequest>> {
        let rows = sqlx::query(&format!(
            "{} WHERE a.repo_id = $1 AND a.status = $2 ORDER BY a.updated_at, a.id",
            access_request_select()
        ))
        .bind(repo_id)
        .bind(status.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(access_request_from).collect()
    }

    async fn put_objects(&self, objects: &[GitObject]) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        for object in objects {
            sqlx::query("INSERT INTO git_objects (oid, kind, data) VALUES ($1, $2, $3) ON CONFLICT (oid) DO NOTHING")
                .bind(object.id.as_bytes().to_vec())
                .bind(object.kind.as_str())
                .bind(object.data.clone())
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn object(&self, id: &ObjectId) -> Result<Option<GitObject>> {
        Ok(self.objects(std::slice::from_ref(id)).await?.pop())
    }

    async fn object_size(&self, id: &ObjectId) -> Result<Option<u64>> {
        let row = sqlx::query("SELECT CAST(LENGTH(data) AS BIGINT) AS size FROM git_objects WHERE oid = $1")
            .bind(id.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok(row.try_get::<i64, _>("size")? as u64)).transpose()
    }

    async fn object_sizes(&self, ids: &[ObjectId]) -> Result<Vec<(ObjectId, u64)>> {
        self.object_rows("oid, CAST(LENGTH(data) AS BIGINT) AS size", ids)
            .await?
            .iter()
            .map(|row| Ok((oid_from(&row.try_get::<Vec<u8>, _>("oid")?)?, row.try_get::<i64, _>("size")? as u64)))
            .collect()
    }

    async fn objects(&self, ids: &[ObjectId]) -> Result<Vec<GitObject>> {
        self.object_rows("oid, kind, data", ids)
            .await?
            .iter()
            .map(|row| {
                Ok(GitObject {
                    id: oid_from(&row.try_get::<Vec<u8>, _>("oid")?)?,
                    kind: kind_from(row)?,
                    data: row.try_get("data")?,
                })
            })
            .collect()
    }

    async fn object_kinds(&self, ids: &[ObjectId]) -> Result<Vec<(ObjectId, ObjectKind)>> {
        self.object_rows("oid, kind", ids)
            .await?
            .iter()
            .map(|row| Ok((oid_from(&row.try_get::<Vec<u8>, _>("oid")?)?, kind_from(row)?)))
            .collect()
    }

    async fn refs(&self, repo_id: i64) -> Result<Vec<(String, ObjectId)>> {
        let rows = sqlx::query("SELECT name, target FROM refs WHERE repo_id = $1 ORDER BY name")
            .bind(repo_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok((row.try_get("name")?, oid_from(&row.try_get::<Vec<u8>, _>("target")?)?))).collect()
    }

    async fn ref_target(&self, repo_id: i64, name: &str) -> Result<Option<ObjectId>> {
        let row = sqlx::query("SELECT target FROM refs WHERE repo_id = $1 AND name = $2")
            .bind(repo_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| oid_from(&row.try_get::<Vec<u8>, _>("target")?)).transpose()
    }

    async fn update_refs(&self, repo_id: i64, updates: &[RefUpdate<'_>]) -> Result<bool> {
        let mut transaction = self.pool.begin().await?;
        for update in updates {
            let (name, expected, new) = (update.name, update.expected, update.new);
            let swapped = match (expected, new) {
                (None, None) => sqlx::query("SELECT 1 AS n FROM refs WHERE repo_id = $1 AND name = $2")
                    .bind(repo_id)
                    .bind(name)
                    .fetch_optional(&mut *transaction)
                    .await?
                    .is_none(),
                (None, Some(new)) => {
                    sqlx::query(
                        "INSERT INTO refs (repo_id, name, target) VALUES ($1, $2, $3) \
                         ON CONFLICT (repo_id, name) DO NOTHING",
                    )
                    .bind(repo_id)
                    .bind(name)
                    .bind(new.as_bytes().to_vec())
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected()
                        == 1
                }
                (Some(old), Some(new)) => {
                    sqlx::query("UPDATE refs SET target = $1 WHERE repo_id = $2 AND name = $3 AND target = $4")
                        .bind(new.as_bytes().to_vec())
                        .bind(repo_id)
                        .bind(name)
                        .bind(old.as_bytes().to_vec())
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected()
                        == 1
                }
                (Some(old), None) => {
                    sqlx::query("DELETE FROM refs WHERE repo_id = $1 AND name = $2 AND target = $3")
                        .bind(repo_id)
                        .bind(name)
                        .bind(old.as_bytes().to_vec())
                        .execute(&mut *transaction)
                        .await?
                        .rows_affected()
                        == 1
                }
            };
            if !swapped {
                transaction.rollback().await?;
                return Ok(false);
            }
        }
        transaction.commit().await?;
        Ok(true)
    }

    async fn insert_xorb(&self, index: &XorbIndex, time_ms: i64) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO xorbs (hash, serialized_len, uncompressed_len, chunk_count, chunk_index, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(index.hash.as_bytes().to_vec())
        .bind(index.serialized_len() as i64)
        .bind(index.uncompressed_len() as i64)
        .bind(index.chunks.len() as i64)
        .bind(encode_chunk_index(index))
        .bind(time_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn xorb(&self, hash: &MerkleHash) -> Result<Option<XorbIndex>> {
        let row = sqlx::query("SELECT chunk_index FROM xorbs WHERE hash = $1")
            .bind(hash.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| decode_chunk_index(*hash, &row.try_get::<Vec<u8>, _>("chunk_index")?)).transpose()
    }

    async fn register_file(
        &self,
        repo_id: i64,
        file: &XetFile,
        sha256: Option<&MerkleHash>,
        time_ms: i64,
    ) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO xet_files (hash, size, terms, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(file.hash.as_bytes().to_vec())
        .bind(file.size as i64)
        .bind(encode_terms(&file.terms))
        .bind(time_ms)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if inserted > 0 {
            attribute_xorbs(&mut transaction, &file.hash, &file.terms).await?;
        }
        // The latest upload's claim wins within a repo.
        sqlx::query(
            "INSERT INTO repo_xet_files (repo_id, file_hash, sha256, size) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (repo_id, file_hash) DO UPDATE SET sha256 = excluded.sha256",
        )
        .bind(repo_id)
        .bind(file.hash.as_bytes().to_vec())
        .bind(sha256.map(|sha| sha.to_be_digest().to_vec()))
        .bind(file.size as i64)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn xet_file(&self, hash: &MerkleHash) -> Result<Option<XetFile>> {
        let row = sqlx::query("SELECT size, terms FROM xet_files WHERE hash = $1")
            .bind(hash.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(XetFile {
            hash: *hash,
            size: row.try_get::<i64, _>("size")? as u64,
            terms: decode_terms(&row.try_get::<Vec<u8>, _>("terms")?)?,
        }))
    }

    async fn repo_has_file(&self, repo_id: i64, file_hash: &MerkleHash) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS found FROM repo_xet_files WHERE repo_id = $1 AND file_hash = $2")
            .bind(repo_id)
            .bind(file_hash.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn repo_file_by_sha256(&self, repo_id: i64, sha256: &[u8; 32]) -> Result<Option<(MerkleHash, u64)>> {
        let row = sqlx::query("SELECT file_hash, size FROM repo_xet_files WHERE repo_id = $1 AND sha256 = $2")
            .bind(repo_id)
            .bind(sha256.to_vec())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok((hash_from(&row.try_get::<Vec<u8>, _>("file_hash")?)?, row.try_get::<i64, _>("size")? as u64)))
            .transpose()
    }

    async fn add_dedup_chunks(&self, pairs: &[(MerkleHash, MerkleHash)]) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        for (chunk, xorb) in pairs {
            sqlx::query(
                "INSERT INTO dedup_chunks (chunk_hash, xorb_hash) VALUES ($1, $2) \
                 ON CONFLICT (chunk_hash, xorb_hash) DO NOTHING",
            )
            .bind(chunk.as_bytes().to_vec())
            .bind(xorb.as_bytes().to_vec())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn dedup_xorbs(&self, chunk_hash: &MerkleHash, limit: i64) -> Result<Vec<MerkleHash>> {
        let rows = sqlx::query("SELECT xorb_hash FROM dedup_chunks WHERE chunk_hash = $1 LIMIT $2")
            .bind(chunk_hash.as_bytes().to_vec())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| hash_from(&row.try_get::<Vec<u8>, _>("xorb_hash")?)).collect()
    }

    async fn stats(&self) -> Result<Stats> {
        let count = |sql: &'static str| async move {
            let row = sqlx::query(sql).fetch_one(&self.pool).await?;
            Ok::<i64, DbError>(row.try_get::<Option<i64>, _>("n")?.unwrap_or(0))
        };
        Ok(Stats {
            users: count("SELECT COUNT(*) AS n FROM users WHERE kind = 'user'").await?,
            repos: count("SELECT COUNT(*) AS n FROM repos").await?,
            xorbs: count("SELECT COUNT(*) AS n FROM xorbs").await?,
            xorb_bytes: count("SELECT CAST(SUM(serialized_len) AS BIGINT) AS n FROM xorbs").await?,
            xorb_uncompressed_bytes: count("SELECT CAST(SUM(uncompressed_len) AS BIGINT) AS n FROM xorbs").await?,
            xet_files: count("SELECT COUNT(*) AS n FROM xet_files").await?,
            xet_file_bytes: count("SELECT CAST(SUM(size) AS BIGINT) AS n FROM xet_files").await?,
            git_objects: count("SELECT COUNT(*) AS n FROM git_objects").await?,
        })
    }

    async fn stored_by_files(&self, files: &[MerkleHash]) -> Result<Vec<StoredBytes>> {
        let mut out = Vec::new();
        for batch in files.chunks(ID_BATCH) {
            let sql = format!(
                "SELECT first_file, CAST(SUM(serialized_len) AS BIGINT) AS serialized, \
                 CAST(SUM(uncompressed_len) AS BIGINT) AS uncompressed FROM xorbs \
                 WHERE first_file IN ({}) GROUP BY first_file",
                placeholders(batch.len())
            );
            let mut query = sqlx::query(&sql);
            for file in batch {
                query = query.bind(file.as_bytes().to_vec());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(StoredBytes {
                    file: hash_from(&row.try_get::<Vec<u8>, _>("first_file")?)?,
                    serialized: row.try_get::<i64, _>("serialized")? as u64,
                    uncompressed: row.try_get::<i64, _>("uncompressed")? as u64,
                });
            }
        }
        Ok(out)
    }

    async fn attribute_earlier_uploads(&self) -> Result<u64> {
        const DONE: &str = "xorb_first_files_attributed";
        let done = sqlx::query("SELECT key FROM settings WHERE key = $1").bind(DONE).fetch_optional(&self.pool).await?;
        if done.is_some() {
            return Ok(0);
        }
        let (mut after_time, mut after_hash, mut files) = (i64::MIN, Vec::new(), 0u64);
        loop {
            let rows = sqlx::query(
                "SELECT hash, terms, created_at FROM xet_files WHERE created_at > $1 OR (created_at = $1 AND hash > $2) \
                 ORDER BY created_at, hash LIMIT 500",
            )
            .bind(after_time)
            .bind(after_hash.clone())
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { break };
            after_time = last.try_get("created_at")?;
            after_hash = last.try_get("hash")?;
            let mut transaction = self.pool.begin().await?;
            for row in &rows {
                let hash = hash_from(&row.try_get::<Vec<u8>, _>("hash")?)?;
                let terms = decode_terms(&row.try_get::<Vec<u8>, _>("terms")?)?;
                attribute_xorbs(&mut transaction, &hash, &terms).await?;
                files += 1;
            }
            transaction.commit().await?;
        }
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(DONE)
            .bind(Vec::<u8>::new())
            .execute(&self.pool)
            .await?;
        Ok(files)
    }

    async fn create_lfs_lock(&self, repo_id: i64, path: &str, owner_id: i64, time_ms: i64) -> Result<LockAttempt> {
        // A racing unlock can free the path between the failed insert and the
        // lookup of its holder: then try once more.
        for _ in 0..2 {
            let inserted = sqlx::query(
                "INSERT INTO lfs_locks (repo_id, path, owner_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (repo_id, path) DO NOTHING RETURNING id",
            )
            .bind(repo_id)
            .bind(path)
            .bind(owner_id)
            .bind(time_ms)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = inserted {
                let id: i64 = row.try_get("id")?;
                let lock = self.lfs_lock(repo_id, id).await?.ok_or_else(|| corrupt("new lock vanished"))?;
                return Ok(LockAttempt::Created(lock));
            }
            if let Some(holder) = self.lfs_lock_on(repo_id, path).await? {
                return Ok(LockAttempt::Taken(holder));
            }
        }
        Err(DbError::Conflict { what: format!("lock on {path}") })
    }

    async fn lfs_locks(&self, repo_id: i64, query: &LfsLockQuery) -> Result<Vec<LfsLock>> {
        let mut sql = format!("{LOCK_SELECT} WHERE l.repo_id = $1");
        let mut next = 2;
        let mut condition = |column: &str, op: &str| {
            sql.push_str(&format!(" AND l.{column} {op} ${next}"));
            next += 1;
        };
        if query.path.is_some() {
            condition("path", "=");
        }
        if query.id.is_some() {
            condition("id", "=");
        }
        if query.from_id.is_some() {
            condition("id", ">=");
        }
        sql.push_str(&format!(" ORDER BY l.id LIMIT ${next}"));
        let mut statement = sqlx::query(&sql).bind(repo_id);
        if let Some(path) = &query.path {
            statement = statement.bind(path);
        }
        if let Some(id) = query.id {
            statement = statement.bind(id);
        }
        if let Some(from_id) = query.from_id {
            statement = statement.bind(from_id);
        }
        let rows = statement.bind(query.limit).fetch_all(&self.pool).await?;
        rows.iter().map(lock_from).collect()
    }

    async fn lfs_lock(&self, repo_id: i64, id: i64) -> Result<Option<LfsLock>> {
        let row = sqlx::query(&format!("{LOCK_SELECT} WHERE l.repo_id = $1 AND l.id = $2"))
            .bind(repo_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(lock_from).transpose()
    }

    async fn delete_lfs_lock(&self, repo_id: i64, id: i64) -> Result<bool> {
        let result = sqlx::query("DELETE FROM lfs_locks WHERE repo_id = $1 AND id = $2")
            .bind(repo_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
