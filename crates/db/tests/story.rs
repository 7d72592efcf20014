//! One story through every metadata operation. Runs on a fresh SQLite file,
//! or on the database named by `TESSERA_TEST_DATABASE_URL` (which must be empty).

use tessera_db::{
    GitObject, LfsLockQuery, LockAttempt, MetadataStore, NewRepo, RefUpdate, RepoType, SqlStore, TokenScope, XetFile,
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
    let token = db.create_token(alice.id, "cli", b"hash-of-secret", TokenScope::Write).await.unwrap();
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
    assert_eq!((stats.users, stats.repos, stats.xorbs, stats.xet_files), (1, 2, 1, 1));
    assert_eq!(stats.xorb_bytes as u64, xorb.serialized_len());
    assert_eq!(stats.xet_file_bytes, 5004);
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

    // Deleting a repo drops its refs, file links and locks, not shared content.
    db.delete_repo(repo.id).await.unwrap();
    assert!(db.repo(RepoType::Model, "alice", "demo").await.unwrap().is_none());
    assert!(db.xet_file(&file.hash).await.unwrap().is_some());
    assert!(db.lfs_locks(repo.id, &all).await.unwrap().is_empty());
    assert_eq!(db.lfs_locks(dataset.id, &all).await.unwrap(), vec![elsewhere]);
}
