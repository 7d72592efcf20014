//! One story through every metadata operation. Runs on a fresh SQLite file,
//! or on the database named by `TESSERA_TEST_DATABASE_URL` (which must be empty).

use tessera_db::{
    AccessStatus, AccountKind, Gating, GitObject, GrantTarget, LfsLockQuery, LockAttempt, MetadataStore, NewRepo,
    OrgRole, RefUpdate, RepoType, SqlStore, StoredBytes, TokenGrant, TokenScope, XetFile,
};
use tessera_formats::MerkleHash;
use tessera_formats::git::ObjectKind;
use tessera_formats::hash::chunk_hash;
use tessera_formats::shard::FileTerm;
use tessera_formats::xorb::XorbBuilder;

#[tokio::test]
async fn metadata_story() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display()));
    let db = SqlStore::connect(&url).await.unwrap();
    db.migrate().await.unwrap(); // idempotent

    // Settings: first writer wins.
    assert_eq!(db.setting_or_insert("secret", vec![1, 2]).await.unwrap(), vec![1, 2]);
    assert_eq!(db.setting_or_insert("secret", vec![3]).await.unwrap(), vec![1, 2]);

    // Users and tokens.
    let alice = db.create_user("alice", true).await.unwrap();
    assert!(db.create_user("alice", false).await.is_err());
    assert_eq!(db.user_by_name("alice").await.unwrap().unwrap(), alice);
    let token = db.create_token(alice.id, "cli", b"hash-of-secret", TokenScope::Write, &[]).await.unwrap();
    let (user, found) = db.token_by_hash(b"hash-of-secret").await.unwrap().unwrap();
    assert_eq!((user.id, found.id, found.scope), (alice.id, token.id, TokenScope::Write));
    assert!(db.token_by_hash(b"other").await.unwrap().is_none());

    // Repo types from URL paths.
    assert_eq!(RepoType::from_url_path("/datasets/{namespace}/{name}/resolve"), RepoType::Dataset);
    assert_eq!(RepoType::from_url_path("/spaces/a/b.git/info/lfs/objects/batch"), RepoType::Space);
    assert_eq!(RepoType::from_url_path("/{namespace}/{name}/resolve"), RepoType::Model);
    assert_eq!(RepoType::from_url_path("/datasetsfoo/x"), RepoType::Model);

    // Repos.
    let new = NewRepo {
        repo_type: RepoType::Model,
        namespace: "alice".into(),
        name: "demo".into(),
        private: false,
        owner_id: alice.id,
        creator_id: alice.id,
        created_at: 1,
    };
    let repo = db.create_repo(&new).await.unwrap();
    assert!(matches!(db.create_repo(&new).await, Err(tessera_db::DbError::Conflict { .. })));
    let dataset = db.create_repo(&NewRepo { repo_type: RepoType::Dataset, ..new.clone() }).await.unwrap();
    assert_ne!(repo.id, dataset.id);
    db.set_repo_private(repo.id, true).await.unwrap();
    assert!(db.repo(RepoType::Model, "alice", "demo").await.unwrap().unwrap().private);

    // Objects and refs with compare-and-swap.
    let blob = GitObject::new(ObjectKind::Blob, b"hello\n".to_vec());
    db.put_objects(&[blob.clone(), blob.clone()]).await.unwrap();
    assert_eq!(db.object(&blob.id).await.unwrap().unwrap(), blob);
    assert_eq!(db.object_size(&blob.id).await.unwrap(), Some(6));
    assert_eq!(db.object_size(&GitObject::new(ObjectKind::Blob, Vec::new()).id).await.unwrap(), None);
    // Batch reads return the stored ones among many ids (more than one IN batch).
    let absent: Vec<_> = (0..700u32).map(|i| GitObject::new(ObjectKind::Blob, i.to_le_bytes().to_vec()).id).collect();
    let asked: Vec<_> = absent.iter().copied().chain([blob.id]).collect();
    assert_eq!(db.objects(&asked).await.unwrap(), vec![blob.clone()]);
    assert_eq!(db.object_kinds(&asked).await.unwrap(), vec![(blob.id, ObjectKind::Blob)]);
    assert_eq!(db.object_sizes(&asked).await.unwrap(), vec![(blob.id, 6)]);
    assert!(db.objects(&[]).await.unwrap().is_empty());
    let other = GitObject::new(ObjectKind::Blob, b"other\n".to_vec());
    assert!(db.update_ref(repo.id, "refs/heads/main", None, Some(blob.id)).await.unwrap());
    assert!(!db.update_ref(repo.id, "refs/heads/main", None, Some(other.id)).await.unwrap());
    assert!(!db.update_ref(repo.id, "refs/heads/main", Some(other.id), Some(other.id)).await.unwrap());
    assert!(db.update_ref(repo.id, "refs/heads/main", Some(blob.id), Some(other.id)).await.unwrap());
    assert_eq!(db.ref_target(repo.id, "refs/heads/main").await.unwrap(), Some(other.id));
    assert_eq!(db.refs(repo.id).await.unwrap(), vec![("refs/heads/main".to_owned(), other.id)]);
    assert!(db.update_ref(repo.id, "refs/heads/main", Some(other.id), None).await.unwrap());
    assert!(db.refs(repo.id).await.unwrap().is_empty());
    // Several refs move together or not at all.
    let both = |main_expected, a_expected| {
        [
            RefUpdate { name: "refs/heads/main", expected: main_expected, new: Some(blob.id) },
            RefUpdate { name: "refs/heads/a", expected: a_expected, new: Some(other.id) },
        ]
    };
    assert!(!db.update_refs(repo.id, &both(None, Some(blob.id))).await.unwrap(), "a is not at blob");
    assert!(db.refs(repo.id).await.unwrap().is_empty(), "nothing moved");
    assert!(db.update_refs(repo.id, &both(None, None)).await.unwrap());
    assert_eq!(db.refs(repo.id).await.unwrap().len(), 2);
    let delete = [
        RefUpdate { name: "refs/heads/main", expected: Some(blob.id), new: None },
        RefUpdate { name: "refs/heads/a", expected: Some(other.id), new: None },
    ];
    assert!(db.update_refs(repo.id, &delete).await.unwrap());
    assert!(db.refs(repo.id).await.unwrap().is_empty());

    // Xorbs, files and dedup.
    let mut builder = XorbBuilder::new();
    builder.add_chunk(&[7u8; 5000]).unwrap();
    builder.add_chunk(b"tail").unwrap();
    let xorb = builder.finish().unwrap().index;
    assert!(db.insert_xorb(&xorb, 2).await.unwrap());
    assert!(!db.insert_xorb(&xorb, 3).await.unwrap());
    assert_eq!(db.xorb(&xorb.hash).await.unwrap().unwrap(), xorb);
    let file = XetFile {
        hash: chunk_hash(b"a file"),
        size: 5004,
        terms: vec![FileTerm {
            xorb_hash: xorb.hash,
            xorb_flags: 0,
            unpacked_bytes: 5004,
            chunk_start: 0,
            chunk_end: 2,
        }],
    };
    let sha = MerkleHash::from_be_digest([9; 32]);
    db.register_file(repo.id, &file, Some(&sha), 4).await.unwrap();
    db.register_file(repo.id, &file, Some(&sha), 5).await.unwrap();
    assert_eq!(db.xet_file(&file.hash).await.unwrap().unwrap(), file);
    // The first file to use a xorb is what added it; a later one reusing it added nothing.
    let reuser = XetFile { hash: chunk_hash(b"a reusing file"), ..file.clone() };
    db.register_file(dataset.id, &reuser, None, 6).await.unwrap();
    let stored = db.stored_by_files(&[file.hash, reuser.hash]).await.unwrap();
    assert_eq!(
        stored,
        vec![StoredBytes { file: file.hash, serialized: xorb.serialized_len(), uncompressed: xorb.uncompressed_len() }]
    );
    assert_eq!(db.attribute_earlier_uploads().await.unwrap(), 2, "the one-time pass goes through every file");
    assert_eq!(db.attribute_earlier_uploads().await.unwrap(), 0, "and runs once per database");
    assert_eq!(db.stored_by_files(&[file.hash]).await.unwrap(), stored, "without changing what is attributed");
    assert!(db.repo_has_file(repo.id, &file.hash).await.unwrap());
    assert!(!db.repo_has_file(dataset.id, &file.hash).await.unwrap());
    assert_eq!(db.repo_file_by_sha256(repo.id, &[9; 32]).await.unwrap(), Some((file.hash, 5004)));
    assert_eq!(db.repo_file_by_sha256(dataset.id, &[9; 32]).await.unwrap(), None);
    let other_xorb = chunk_hash(b"another xorb");
    let pairs = [(xorb.chunks[0].hash, xorb.hash), (xorb.chunks[0].hash, other_xorb), (xorb.chunks[0].hash, xorb.hash)];
    db.add_dedup_chunks(&pairs).await.unwrap();
    let mut offered = db.dedup_xorbs(&xorb.chunks[0].hash, 10).await.unwrap();
    offered.sort();
    let mut expected = vec![xorb.hash, other_xorb];
    expected.sort();
    assert_eq!(offered, expected);
    assert_eq!(db.dedup_xorbs(&xorb.chunks[0].hash, 1).await.unwrap().len(), 1);
    assert!(db.dedup_xorbs(&other_xorb, 10).await.unwrap().is_empty());

    let stats = db.stats().await.unwrap();
    assert_eq!((stats.users, stats.repos, stats.xorbs, stats.xet_files), (1, 2, 1, 2));
    assert_eq!(stats.xorb_bytes as u64, xorb.serialized_len());
    assert_eq!(stats.xet_file_bytes, 2 * 5004);
    assert_eq!(stats.git_objects, 1, "the blob, stored twice, counts once");

    // LFS locks: one per path of a repo, listed in id order, with filters and pages.
    let bob = db.create_user("bob", false).await.unwrap();
    let LockAttempt::Created(first) = db.create_lfs_lock(repo.id, "a.bin", alice.id, 6).await.unwrap() else {
        panic!("a.bin was free");
    };
    assert_eq!((first.path.as_str(), first.owner_name.as_str(), first.created_at), ("a.bin", "alice", 6));
    assert_eq!(db.create_lfs_lock(repo.id, "a.bin", bob.id, 7).await.unwrap(), LockAttempt::Taken(first.clone()));
    let LockAttempt::Created(second) = db.create_lfs_lock(repo.id, "dir/b.bin", bob.id, 8).await.unwrap() else {
        panic!("dir/b.bin was free");
    };
    let LockAttempt::Created(elsewhere) = db.create_lfs_lock(dataset.id, "a.bin", bob.id, 9).await.unwrap() else {
        panic!("locks are per repo");
    };
    let all = LfsLockQuery { limit: 10, ..LfsLockQuery::default() };
    assert_eq!(db.lfs_locks(repo.id, &all).await.unwrap(), vec![first.clone(), second.clone()]);
    let page = LfsLockQuery { limit: 1, ..all.clone() };
    assert_eq!(db.lfs_locks(repo.id, &page).await.unwrap(), vec![first.clone()]);
    let rest = LfsLockQuery { from_id: Some(first.id + 1), ..all.clone() };
    assert_eq!(db.lfs_locks(repo.id, &rest).await.unwrap(), vec![second.clone()]);
    let by_path = LfsLockQuery { path: Some("dir/b.bin".into()), ..all.clone() };
    assert_eq!(db.lfs_locks(repo.id, &by_path).await.unwrap(), vec![second.clone()]);
    let by_id = LfsLockQuery { id: Some(elsewhere.id), ..all.clone() };
    assert!(db.lfs_locks(repo.id, &by_id).await.unwrap().is_empty());
    assert_eq!(db.lfs_lock(repo.id, second.id).await.unwrap(), Some(second.clone()));
    assert_eq!(db.lfs_lock(repo.id, elsewhere.id).await.unwrap(), None);
    assert!(!db.delete_lfs_lock(repo.id, elsewhere.id).await.unwrap());
    assert!(db.delete_lfs_lock(repo.id, first.id).await.unwrap());
    assert!(!db.delete_lfs_lock(repo.id, first.id).await.unwrap());
    assert!(matches!(db.create_lfs_lock(repo.id, "a.bin", bob.id, 10).await.unwrap(), LockAttempt::Created(_)));

    // Passwords, failed sign-ins and browser sessions.
    db.set_password_hash(alice.id, Some("$argon2id$phc")).await.unwrap();
    let login = db.login_state(alice.id).await.unwrap().unwrap();
    assert_eq!((login.password_hash.as_deref(), login.locked_until), (Some("$argon2id$phc"), 0));
    for _ in 0..3 {
        db.record_login_failure(alice.id, 100, 3, 50).await.unwrap();
    }
    assert_eq!(db.login_state(alice.id).await.unwrap().unwrap().locked_until, 150, "the third failure locks");
    db.create_session(b"session-hash", alice.id, 100, 200).await.unwrap();
    assert_eq!(db.session_user(b"session-hash", 199).await.unwrap().map(|user| user.id), Some(alice.id));
    assert!(db.session_user(b"session-hash", 200).await.unwrap().is_none(), "expired");
    assert!(db.session_user(b"other", 150).await.unwrap().is_none());
    db.delete_session(b"session-hash").await.unwrap();
    assert!(db.session_user(b"session-hash", 150).await.unwrap().is_none());
    db.set_password_hash(alice.id, None).await.unwrap();
    assert_eq!(db.login_state(alice.id).await.unwrap().unwrap().password_hash, None);

    // Teams: one case-insensitive name space for users and organizations.
    assert!(matches!(db.create_user("ALICE", false).await, Err(tessera_db::DbError::Conflict { .. })));
    let acme = db.create_org("acme", alice.id).await.unwrap();
    assert!(acme.is_org());
    assert!(matches!(db.create_org("Acme", bob.id).await, Err(tessera_db::DbError::Conflict { .. })));
    assert!(matches!(db.create_user("acme", false).await, Err(tessera_db::DbError::Conflict { .. })));
    assert_eq!(db.user_by_name("ACME").await.unwrap().unwrap().id, acme.id);
    assert_eq!(db.list_accounts(AccountKind::Org).await.unwrap(), vec![acme.clone()]);
    assert_eq!(db.member_role(acme.id, alice.id).await.unwrap(), Some(OrgRole::Admin));
    db.set_member(acme.id, bob.id, OrgRole::Read).await.unwrap();
    db.set_member(acme.id, bob.id, OrgRole::Contributor).await.unwrap();
    let members = db.org_members(acme.id).await.unwrap();
    let roles: Vec<_> = members.iter().map(|m| (m.user.name.as_str(), m.role)).collect();
    assert_eq!(roles, vec![("alice", OrgRole::Admin), ("bob", OrgRole::Contributor)]);
    assert_eq!(db.user_orgs(bob.id).await.unwrap()[0].org.name, "acme");
    assert!(db.remove_member(acme.id, bob.id).await.unwrap());
    assert!(!db.remove_member(acme.id, bob.id).await.unwrap());
    assert_eq!(db.member_role(acme.id, bob.id).await.unwrap(), None);

    // Org repos: case-insensitive ids, gating, access requests, moves with redirects.
    let org_repo = db
        .create_repo(&NewRepo {
            namespace: "acme".into(),
            name: "Model".into(),
            owner_id: acme.id,
            creator_id: bob.id,
            ..new.clone()
        })
        .await
        .unwrap();
    assert_eq!((org_repo.creator_id, org_repo.gating), (bob.id, Gating::Open));
    assert_eq!(db.repo(RepoType::Model, "ACME", "model").await.unwrap().unwrap().id, org_repo.id);
    let same_folded = NewRepo { namespace: "acme".into(), name: "MODEL".into(), owner_id: acme.id, ..new.clone() };
    assert!(matches!(db.create_repo(&same_folded).await, Err(tessera_db::DbError::Conflict { .. })));
    assert_eq!(db.namespace_repos(acme.id).await.unwrap(), vec![org_repo.clone()]);
    db.set_repo_gating(org_repo.id, Gating::Manual).await.unwrap();
    assert_eq!(db.repo_by_id(org_repo.id).await.unwrap().unwrap().gating, Gating::Manual);
    let asked =
        db.put_access_request(org_repo.id, bob.id, AccessStatus::Pending, Some("{\"why\":\"x\"}")).await.unwrap();
    assert_eq!((asked.user.id, asked.status), (bob.id, AccessStatus::Pending));
    let accepted = db.put_access_request(org_repo.id, bob.id, AccessStatus::Accepted, None).await.unwrap();
    assert_eq!((accepted.id, accepted.fields.as_deref()), (asked.id, Some("{\"why\":\"x\"}")), "fields kept");
    assert_eq!(db.access_requests(org_repo.id, AccessStatus::Accepted).await.unwrap(), vec![accepted.clone()]);
    assert!(db.access_requests(org_repo.id, AccessStatus::Pending).await.unwrap().is_empty());
    assert_eq!(db.access_request_by_id(org_repo.id, asked.id).await.unwrap(), Some(accepted));
    let moved = db.move_repo(org_repo.id, "bob", "renamed", bob.id).await.unwrap();
    assert_eq!((moved.full_name(), moved.owner_id), ("bob/renamed".to_owned(), bob.id));
    assert!(db.repo(RepoType::Model, "acme", "model").await.unwrap().is_none());
    assert_eq!(db.redirected_repo(RepoType::Model, "ACME", "MODEL").await.unwrap().unwrap().id, org_repo.id);
    let taken = db.move_repo(org_repo.id, "alice", "demo", alice.id).await;
    assert!(matches!(taken, Err(tessera_db::DbError::Conflict { .. })), "alice/demo is taken");
    let successor = db
        .create_repo(&NewRepo { namespace: "acme".into(), name: "model".into(), owner_id: acme.id, ..new.clone() })
        .await
        .unwrap();
    assert_eq!(db.redirected_repo(RepoType::Model, "acme", "model").await.unwrap(), None, "a new repo takes the name");
    db.delete_repo(successor.id).await.unwrap();

    // Tokens: fine-grained grants, listing, revoking, disabled users.
    let grants = [
        TokenGrant {
            target: GrantTarget::Repo { id: moved.id, repo_type: RepoType::Model, full_name: String::new() },
            write: true,
        },
        TokenGrant {
            target: GrantTarget::Namespace { id: acme.id, name: String::new(), kind: AccountKind::Org },
            write: false,
        },
    ];
    let fine = db.create_token(bob.id, "ci", b"fine-grained", TokenScope::FineGrained, &grants).await.unwrap();
    let (_, found) = db.token_by_hash(b"fine-grained").await.unwrap().unwrap();
    assert_eq!(found.scope, TokenScope::FineGrained);
    assert_eq!(
        found.grants,
        vec![
            TokenGrant {
                target: GrantTarget::Repo { id: moved.id, repo_type: RepoType::Model, full_name: "bob/renamed".into() },
                write: true,
            },
            TokenGrant {
                target: GrantTarget::Namespace { id: acme.id, name: "acme".into(), kind: AccountKind::Org },
                write: false,
            },
        ]
    );
    assert_eq!(db.token_by_id(fine.id).await.unwrap().unwrap().1, found);
    assert_eq!(db.tokens(bob.id).await.unwrap(), vec![found]);
    db.set_user_disabled(bob.id, true).await.unwrap();
    assert!(db.user_by_name("bob").await.unwrap().unwrap().disabled);
    assert!(db.token_by_hash(b"fine-grained").await.unwrap().is_none(), "a disabled user's tokens stop working");
    assert!(db.token_by_id(fine.id).await.unwrap().is_none());
    db.set_user_disabled(bob.id, false).await.unwrap();
    assert!(db.token_by_hash(b"fine-grained").await.unwrap().is_some());
    assert!(db.delete_token(fine.id).await.unwrap());
    assert!(db.token_by_hash(b"fine-grained").await.unwrap().is_none());
    assert!(!db.delete_token(fine.id).await.unwrap());

    // Accounts that still own repos cannot be deleted; others can.
    assert!(matches!(db.delete_account(bob.id).await, Err(tessera_db::DbError::Conflict { .. })));
    db.delete_repo(moved.id).await.unwrap();
    db.delete_account(acme.id).await.unwrap();
    assert!(db.user_by_name("acme").await.unwrap().is_none());

    // Deleting a repo drops its refs, file links and locks, not shared content.
    db.delete_repo(repo.id).await.unwrap();
    assert!(db.repo(RepoType::Model, "alice", "demo").await.unwrap().is_none());
    assert!(db.xet_file(&file.hash).await.unwrap().is_some());
    assert!(db.lfs_locks(repo.id, &all).await.unwrap().is_empty());
    assert_eq!(db.lfs_locks(dataset.id, &all).await.unwrap(), vec![elsewhere]);
}
