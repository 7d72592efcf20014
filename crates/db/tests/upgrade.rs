//! Migrations upgrade a database made by the previous release without
//! losing anything: the schema of the first release's migrations (0001 and
//! 0002, applied by sqlx exactly as that release applied them) is filled
//! with data the way that release wrote it, then [`SqlStore::connect`]
//! applies the rest and everything reads back. Runs on a fresh SQLite file,
//! or on the empty database named by `TESSERA_TEST_UPGRADE_DATABASE_URL`.

use std::path::{Path, PathBuf};

use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use tessera_db::{AccountKind, Gating, MetadataStore, RepoType, SqlStore, TokenScope};
use tessera_formats::git::{ObjectId, ObjectKind};

/// The migrations of the release before teams.
const PREVIOUS_RELEASE: [&str; 2] = ["0001_init.sql", "0002_lfs_locks.sql"];

/// A directory holding only the previous release's migrations of `dialect`.
fn previous_migrations(dialect: &str, into: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations").join(dialect);
    let target = into.join(dialect);
    std::fs::create_dir_all(&target).unwrap();
    for file in PREVIOUS_RELEASE {
        std::fs::copy(source.join(file), target.join(file)).unwrap();
    }
    target
}

#[tokio::test]
async fn previous_release_database_upgrades_intact() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("TESSERA_TEST_UPGRADE_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display()));
    let dialect = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };

    // The previous release's schema and data.
    let pool = AnyPool::connect(&url).await.unwrap();
    Migrator::new(previous_migrations(dialect, dir.path())).await.unwrap().run(&pool).await.unwrap();
    let blob = ObjectId::for_object(ObjectKind::Blob, b"hello\n");
    let statements: [(&str, Vec<Vec<u8>>); 7] = [
        ("INSERT INTO users (id, name, is_admin, created_at) VALUES (1, 'Alice', 1, 10)", vec![]),
        ("INSERT INTO users (id, name, is_admin, created_at) VALUES (2, 'bob', 0, 11)", vec![]),
        (
            "INSERT INTO tokens (user_id, name, token_hash, scope, created_at) VALUES (2, 'cli', $1, 'read', 12)",
            vec![b"bob-token-hash".to_vec()],
        ),
        (
            "INSERT INTO repos (id, repo_type, namespace, name, private, owner_id, created_at, updated_at) \
             VALUES (5, 'model', 'bob', 'Weights', 1, 2, 13, 14)",
            vec![],
        ),
        (
            "INSERT INTO git_objects (oid, kind, data) VALUES ($1, 'blob', $2)",
            vec![blob.as_bytes().to_vec(), b"hello\n".to_vec()],
        ),
        ("INSERT INTO refs (repo_id, name, target) VALUES (5, 'refs/heads/main', $1)", vec![blob.as_bytes().to_vec()]),
        ("INSERT INTO lfs_locks (repo_id, path, owner_id, created_at) VALUES (5, 'w.bin', 2, 15)", vec![]),
    ];
    for (sql, binds) in statements {
        let mut query = sqlx::query(sql);
        for bytes in binds {
            query = query.bind(bytes);
        }
        query.execute(&pool).await.unwrap();
    }
    if dialect == "postgres" {
        // Explicit ids leave the identity sequences behind, as no release did; catch them up.
        for table in ["users", "repos"] {
            sqlx::query(&format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"))
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    pool.close().await;

    // This release's migrations on top; everything is still there.
    let db = SqlStore::connect(&url).await.unwrap();
    let alice = db.user_by_name("alice").await.unwrap().expect("Alice kept, found case-insensitively");
    assert_eq!(
        (alice.name.as_str(), alice.kind, alice.is_admin, alice.disabled),
        ("Alice", AccountKind::User, true, false)
    );
    let (bob, token) = db.token_by_hash(b"bob-token-hash").await.unwrap().expect("bob's token still works");
    assert_eq!((bob.name.as_str(), token.scope, token.grants.len()), ("bob", TokenScope::Read, 0));
    let repo = db.repo(RepoType::Model, "BOB", "weights").await.unwrap().expect("repo kept");
    assert_eq!((repo.id, repo.name.as_str(), repo.private), (5, "Weights", true));
    assert_eq!((repo.owner_id, repo.creator_id, repo.gating), (bob.id, bob.id, Gating::Open), "creator backfilled");
    assert_eq!(db.refs(repo.id).await.unwrap(), vec![("refs/heads/main".to_owned(), blob)]);
    assert_eq!(db.object(&blob).await.unwrap().unwrap().data, b"hello\n");
    let locks = db.lfs_locks(repo.id, &tessera_db::LfsLockQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!((locks.len(), locks[0].owner_name.as_str()), (1, "bob"));
    assert!(db.user_orgs(bob.id).await.unwrap().is_empty());
    // And the new model works on the old rows.
    let org = db.create_org("acme", bob.id).await.unwrap();
    assert!(db.move_repo(repo.id, "acme", "weights", org.id).await.is_ok());
    assert!(db.redirected_repo(RepoType::Model, "bob", "weights").await.unwrap().is_some());
}

/// A previous-release database whose names differ only in case is refused
/// with the names to fix, and nothing is migrated; once fixed, it upgrades.
#[tokio::test]
async fn names_differing_only_in_case_are_named_before_upgrading() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = AnyPool::connect(&url).await.unwrap();
    Migrator::new(previous_migrations("sqlite", dir.path())).await.unwrap().run(&pool).await.unwrap();
    for sql in [
        "INSERT INTO users (id, name, is_admin, created_at) VALUES (1, 'Alice', 0, 1)",
        "INSERT INTO users (id, name, is_admin, created_at) VALUES (2, 'alice', 0, 1)",
        "INSERT INTO repos (repo_type, namespace, name, private, owner_id, created_at, updated_at) \
         VALUES ('model', 'alice', 'Model', 0, 2, 1, 1)",
        "INSERT INTO repos (repo_type, namespace, name, private, owner_id, created_at, updated_at) \
         VALUES ('model', 'alice', 'model', 0, 2, 1, 1)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let error = SqlStore::connect(&url).await.unwrap_err().to_string();
    assert!(error.contains("users: Alice, alice"), "{error}");
    assert!(error.contains("repos: model alice/Model, model alice/model"), "{error}");
    sqlx::query("UPDATE users SET name = 'alice2' WHERE id = 1").execute(&pool).await.unwrap();
    sqlx::query("UPDATE repos SET name = 'model2' WHERE name = 'model'").execute(&pool).await.unwrap();
    pool.close().await;
    let db = SqlStore::connect(&url).await.unwrap();
    assert!(db.user_by_name("ALICE2").await.unwrap().is_some());
}
