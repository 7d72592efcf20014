//! Commits through the NDJSON endpoint: regular files, deletes, LFS/Xet
//! pointers, optimistic concurrency, concurrent writers, pull requests,
//! preupload modes and the history listing.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use tessera_formats::git::{Commit, LfsPointer, ObjectId, ObjectKind, parse_tree};

async fn head(app: &TestApp, name: &str, branch: &str) -> ObjectId {
    let repo = app.repo("alice", name).await;
    app.db().ref_target(repo.id, &format!("refs/heads/{branch}")).await.unwrap().unwrap()
}

async fn tree_paths(app: &TestApp, rev: &str) -> Vec<String> {
    let tree = app.get(&format!("/api/models/alice/demo/tree/{rev}?recursive=true&expand=false"), None).await;
    tree.expect(200).json().as_array().unwrap().iter().map(|entry| entry["path"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn regular_files_deletes_and_folders() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let initial = head(&app, "demo", "main").await;

    let reply = app
        .commit(
            ALICE,
            "alice/demo",
            "main",
            &[
                json!({"key": "header", "value": {"summary": "Add files", "description": "with a body"}}),
                file("README.md", b"# demo\n"),
                file("/./sub dir/a.txt", b"a"),
                file("sub dir/deep/b.txt", b"b"),
                file("other/c.txt", b"c"),
            ],
        )
        .await
        .expect(200)
        .json();
    let oid = reply["commitOid"].as_str().unwrap();
    assert_eq!(reply["success"], true);
    assert_eq!(reply["commitUrl"], format!("http://hub.test/alice/demo/commit/{oid}"));
    assert_eq!(reply["hookOutput"], "");
    assert_eq!(head(&app, "demo", "main").await.hex(), oid);

    // Real git objects, with the parent and the message.
    let commit_object = app.db().object(&ObjectId::from_hex(oid).unwrap()).await.unwrap().unwrap();
    assert_eq!(ObjectId::for_object(ObjectKind::Commit, &commit_object.data).hex(), oid);
    let commit = Commit::parse(&commit_object.data).unwrap();
    assert_eq!(commit.parents, vec![initial]);
    assert_eq!(commit.message, "Add files\n\nwith a body");
    let root = app.db().object(&commit.tree).await.unwrap().unwrap();
    assert_eq!(ObjectId::for_object(ObjectKind::Tree, &root.data), commit.tree);
    let names: Vec<String> = parse_tree(&root.data).unwrap().into_iter().map(|entry| entry.name).collect();
    assert_eq!(names, [".gitattributes", "README.md", "other", "sub dir"]);

    assert_eq!(
        tree_paths(&app, "main").await,
        [
            ".gitattributes",
            "README.md",
            "other",
            "other/c.txt",
            "sub dir",
            "sub dir/a.txt",
            "sub dir/deep",
            "sub dir/deep/b.txt"
        ]
    );

    // Delete a file and a folder; emptied folders disappear.
    app.commit(
        ALICE,
        "alice/demo",
        "main",
        &[header("Remove", None), deleted_file("other/c.txt"), deleted_folder("sub dir/")],
    )
    .await
    .expect(200);
    assert_eq!(tree_paths(&app, "main").await, [".gitattributes", "README.md"]);

    // Missing targets: 404 EntryNotFound, nothing written.
    let before = head(&app, "demo", "main").await;
    let missing = app
        .commit(ALICE, "alice/demo", "main", &[header("x", None), file("new.txt", b"n"), deleted_file("nope.txt")])
        .await
        .expect_error(404, "EntryNotFound")
        .json();
    assert!(missing["error"].as_str().unwrap().contains("A file with this name doesn't exist"));
    app.commit(ALICE, "alice/demo", "main", &[header("x", None), deleted_folder("nope")])
        .await
        .expect_error(404, "EntryNotFound");
    app.commit(ALICE, "alice/demo", "main", &[header("x", None), deleted_file("README.md/x")])
        .await
        .expect_error(404, "EntryNotFound");
    assert_eq!(head(&app, "demo", "main").await, before);

    // Invalid paths: 422; malformed bodies: 400; unknown branch: RevisionNotFound.
    for bad in ["..\\ddd", "../x", "a/../b", ".git/config", "a//b"] {
        app.commit(ALICE, "alice/demo", "main", &[header("x", None), file(bad, b"x")]).await.expect(422);
    }
    app.commit(ALICE, "alice/demo", "main", &[header("x", None), file("README.md/inner", b"x")]).await.expect(422);
    app.commit(ALICE, "alice/demo", "main", &[file("a", b"x")]).await.expect(400);
    app.commit(ALICE, "alice/demo", "main", &[header("x", None), json!({"key": "bogus", "value": {}})])
        .await
        .expect(400);
    app.commit(ALICE, "alice/demo", "nope", &[header("x", None), file("a", b"x")])
        .await
        .expect_error(404, "RevisionNotFound");
    assert_eq!(head(&app, "demo", "main").await, before);
}

#[tokio::test]
async fn parent_commit_and_concurrent_writers() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let first = head(&app, "demo", "main").await.hex();

    app.commit(ALICE, "alice/demo", "main", &[header("one", Some(&first)), file("1.txt", b"1")]).await.expect(200);
    // Stale parent: 412 with HF's message, nothing written.
    let second = head(&app, "demo", "main").await;
    let stale = app
        .commit(ALICE, "alice/demo", "main", &[header("two", Some(&first)), file("2.txt", b"2")])
        .await
        .expect(412)
        .json();
    assert_eq!(stale["error"], "The branch was updated since you opened this page. Please refresh and try again.");
    assert_eq!(head(&app, "demo", "main").await, second);
    // An abbreviated current parent is fine.
    app.commit(ALICE, "alice/demo", "main", &[header("two", Some(&second.hex()[..7])), file("2.txt", b"2")])
        .await
        .expect(200);

    // Writers without a parent commit are rebuilt on the moved branch: nobody loses.
    let writers = (0..20).map(|i| {
        let app = &app;
        async move {
            let name = format!("w{i}.txt");
            app.commit(ALICE, "alice/demo", "main", &[header(&name, None), file(&name, name.as_bytes())]).await
        }
    });
    for reply in futures::future::join_all(writers).await {
        reply.expect(200);
    }
    let paths = tree_paths(&app, "main").await;
    for i in 0..20 {
        assert!(paths.contains(&format!("w{i}.txt")), "{paths:?}");
    }
    let history = app.get("/api/models/alice/demo/commits/main", None).await.expect(200).json();
    assert_eq!(history.as_array().unwrap().len(), 1 + 2 + 20);
}

#[tokio::test]
async fn lfs_files_map_to_xet_files() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let repo = app.repo("alice", "demo").await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let xet = app.register_xet_file(repo.id, &data).await;
    let sha = sha256_hex(&data);

    // Unknown sha256 or wrong size: 422, nothing written.
    let before = head(&app, "demo", "main").await;
    app.commit(ALICE, "alice/demo", "main", &[header("x", None), lfs_file("w.bin", &"ab".repeat(32), Some(3))])
        .await
        .expect(422);
    app.commit(ALICE, "alice/demo", "main", &[header("x", None), lfs_file("w.bin", &sha, Some(5))]).await.expect(422);
    // Another repo's upload does not count.
    app.create_repo(ALICE, "other", None, false).await.expect(200);
    app.commit(ALICE, "alice/other", "main", &[header("x", None), lfs_file("w.bin", &sha, None)]).await.expect(422);
    assert_eq!(head(&app, "demo", "main").await, before);

    // Covered by `*.bin`, and one that needs its own rule (size omitted, as copies do).
    app.commit(
        ALICE,
        "alice/demo",
        "main",
        &[
            header("weights", None),
            lfs_file("w.bin", &sha, Some(data.len() as u64)),
            lfs_file("sub dir/w.dat", &sha, None),
        ],
    )
    .await
    .expect(200);

    let tree = app.get("/api/models/alice/demo/tree/main?recursive=true", None).await.expect(200).json();
    let entry = tree.as_array().unwrap().iter().find(|entry| entry["path"] == "w.bin").unwrap().clone();
    let pointer = LfsPointer { sha256: sha.clone(), size: data.len() as u64 }.encode();
    assert_eq!(entry["oid"], ObjectId::for_object(ObjectKind::Blob, &pointer).hex());
    assert_eq!(entry["size"], data.len());
    assert_eq!(entry["lfs"], json!({"oid": sha, "size": data.len(), "pointerSize": pointer.len()}));
    assert_eq!(entry["xetHash"], xet.hash.hex());

    let attributes = app.get("/alice/demo/resolve/main/.gitattributes", None).await.expect(200).body;
    let attributes = String::from_utf8(attributes).unwrap();
    assert!(attributes.ends_with("\"/sub dir/w.dat\" filter=lfs diff=lfs merge=lfs -text\n"), "{attributes}");
    assert!(!attributes.contains("/w.bin"));

    // HEAD: the sha256 etag, linked size, Xet hash and an absolute token link.
    let headers = app.send("HEAD", "/alice/demo/resolve/main/w.bin", None, &[], Vec::new()).await.expect(200);
    let commit = head(&app, "demo", "main").await.hex();
    assert_eq!(headers.header("x-repo-commit"), Some(commit.as_str()));
    assert_eq!(headers.header("etag"), Some(format!("\"{sha}\"").as_str()));
    assert_eq!(headers.header("x-linked-etag"), Some(format!("\"{sha}\"").as_str()));
    assert_eq!(headers.header("x-linked-size"), Some(data.len().to_string().as_str()));
    assert_eq!(headers.header("content-length"), Some(data.len().to_string().as_str()));
    assert_eq!(headers.header("x-xet-hash"), Some(xet.hash.hex().as_str()));
    assert_eq!(
        headers.header("link"),
        Some(format!("<http://hub.test/api/models/alice/demo/xet-read-token/{commit}>; rel=\"xet-auth\"").as_str())
    );
    assert!(headers.body.is_empty());

    // GET reconstructs through the CAS, whole or ranged.
    let whole = app.get("/alice/demo/resolve/main/sub%20dir/w.dat", None).await.expect(200);
    assert_eq!(whole.body, data);
    let ranged = app.send("GET", "/alice/demo/resolve/main/w.bin", None, &[("range", "bytes=1000-1999")], vec![]).await;
    let ranged = ranged.expect(206);
    assert_eq!(ranged.body, data[1000..2000]);
    assert_eq!(ranged.header("content-range"), Some(format!("bytes 1000-1999/{}", data.len()).as_str()));

    // paths-info and repo info agree.
    let info = app
        .send(
            "POST",
            "/api/models/alice/demo/paths-info/main",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
            b"paths=w.bin&paths=sub+dir%2Fw.dat&paths=sub+dir&paths=missing&expand=false".to_vec(),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(info.as_array().unwrap().len(), 3);
    assert_eq!(info[0], entry);
    assert_eq!(info[1]["xetHash"], xet.hash.hex());
    assert_eq!(info[2]["type"], "directory");
    let blobs = app.get("/api/models/alice/demo?blobs=true", None).await.expect(200).json();
    let sibling = blobs["siblings"].as_array().unwrap().iter().find(|s| s["rfilename"] == "w.bin").unwrap().clone();
    assert_eq!(sibling["lfs"], json!({"size": data.len(), "sha256": sha, "pointerSize": pointer.len()}));
}

#[tokio::test]
async fn preupload_modes() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let repo = app.repo("alice", "demo").await;
    let big: Vec<u8> = vec![7; 100];
    app.register_xet_file(repo.id, &big).await;
    app.commit(
        ALICE,
        "alice/demo",
        "main",
        &[header("x", None), file("README.md", b"hello"), lfs_file("model.safetensors", &sha256_hex(&big), None)],
    )
    .await
    .expect(200);

    let sample = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let body = json!({"files": [
        {"path": "README.md", "sample": sample(b"hello"), "size": 5},
        {"path": "model.safetensors", "sample": sample(&big), "size": 100},
        {"path": "weights/x.bin", "sample": sample(b"text"), "size": 4},
        {"path": "data.raw", "sample": sample(&[0, 1, 2]), "size": 3},
        {"path": "latin1.txt", "sample": sample(&[0xe9, 0x20, 0x41]), "size": 3},
        {"path": "huge.txt", "sample": sample(b"text"), "size": 10 * 1024 * 1024 + 1},
        {"path": "saved_model/v/x.txt", "sample": sample(b"x"), "size": 1},
        {"path": "notes.txt", "sample": sample("é".repeat(300).as_bytes()[..511].as_ref()), "size": 600},
    ]});
    let reply = app.json("POST", "/api/models/alice/demo/preupload/main", Some(ALICE), body).await.expect(200).json();
    assert_eq!(reply["commitOid"], head(&app, "demo", "main").await.hex());
    let modes: Vec<(&str, &str)> = reply["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            assert_eq!(file["shouldIgnore"], false);
            (file["path"].as_str().unwrap(), file["uploadMode"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        modes,
        [
            ("README.md", "regular"),
            ("model.safetensors", "lfs"),
            ("weights/x.bin", "lfs"),
            ("data.raw", "lfs"),
            ("latin1.txt", "lfs"),
            ("huge.txt", "lfs"),
            ("saved_model/v/x.txt", "lfs"),
            ("notes.txt", "regular"),
        ]
    );
    assert_eq!(reply["files"][0]["oid"], ObjectId::for_object(ObjectKind::Blob, b"hello").hex());
    assert_eq!(reply["files"][1]["oid"], sha256_hex(&big));
    assert!(reply["files"][2].get("oid").is_none());
    app.json("POST", "/api/models/alice/demo/preupload/nope", Some(ALICE), json!({"files": []}))
        .await
        .expect_error(404, "RevisionNotFound");
    // Preuploading is the first step of a write: a read token or another user is refused up front.
    app.json("POST", "/api/models/alice/demo/preupload/main", Some(ALICE_READ), json!({"files": []})).await.expect(403);
    app.json("POST", "/api/models/alice/demo/preupload/main", Some(BOB), json!({"files": []})).await.expect(403);
}

#[tokio::test]
async fn pull_requests_and_branch_commits() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let main = head(&app, "demo", "main").await;

    let pr = app
        .commit(ALICE, "alice/demo", "main?create_pr=1", &[header("PR", None), file("pr.txt", b"p")])
        .await
        .expect(200)
        .json();
    assert_eq!(pr["pullRequestUrl"], "http://hub.test/alice/demo/discussions/1");
    assert_eq!(head(&app, "demo", "main").await, main);
    let second = app
        .commit(ALICE, "alice/demo", "None?create_pr=1", &[header("PR2", None), file("pr2.txt", b"p")])
        .await
        .expect(200)
        .json();
    assert_eq!(second["pullRequestUrl"], "http://hub.test/alice/demo/discussions/2");

    // More commits into the PR through its encoded ref.
    app.commit(ALICE, "alice/demo", "refs%2Fpr%2F1", &[header("more", None), file("more.txt", b"m")]).await.expect(200);
    assert_eq!(tree_paths(&app, "refs%2Fpr%2F1").await, [".gitattributes", "more.txt", "pr.txt"]);
    assert_eq!(tree_paths(&app, "main").await, [".gitattributes"]);
    let resolved = app.get("/alice/demo/resolve/refs%2Fpr%2F1/pr.txt", None).await.expect(200);
    assert_eq!(resolved.body, b"p");

    let refs = app.get("/api/models/alice/demo/refs?include_prs=1", None).await.expect(200).json();
    let prs: Vec<&str> = refs["pullRequests"].as_array().unwrap().iter().map(|r| r["ref"].as_str().unwrap()).collect();
    assert_eq!(prs, ["refs/pr/1", "refs/pr/2"]);

    // Commits to a branch with a slash in its name.
    app.json("POST", "/api/models/alice/demo/branch/feature%2Fx", Some(ALICE), json!({})).await.expect(200);
    app.commit(ALICE, "alice/demo", "feature%2Fx", &[header("f", None), file("f.txt", b"f")]).await.expect(200);
    assert_eq!(tree_paths(&app, "feature%2Fx").await, [".gitattributes", "f.txt"]);
}

#[tokio::test]
async fn history_is_newest_first_and_paginated() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    for i in 0..105 {
        let name = format!("{i}.txt");
        app.commit(ALICE, "alice/demo", "main", &[header(&format!("c{i}"), None), file(&name, b"x")]).await.expect(200);
    }
    let first = app.get("/api/models/alice/demo/commits/main", None).await.expect(200);
    let items = first.json();
    assert_eq!(items.as_array().unwrap().len(), 100);
    assert_eq!(items[0]["title"], "c104");
    assert_eq!(items[0]["id"], head(&app, "demo", "main").await.hex());
    assert_eq!(items[0]["authors"], json!([{"user": "alice"}]));
    assert!(items[0]["date"].as_str().unwrap().ends_with('Z'));
    let link = first.header("link").unwrap().to_owned();
    assert_eq!(link, "<http://hub.test/api/models/alice/demo/commits/main?cursor=100>; rel=\"next\"");
    let next = app.get("/api/models/alice/demo/commits/main?cursor=100", None).await.expect(200);
    assert!(next.header("link").is_none());
    let rest: Value = next.json();
    let titles: Vec<&str> = rest.as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["c4", "c3", "c2", "c1", "c0", "initial commit"]);
    app.get("/api/models/alice/demo/commits/nope", None).await.expect_error(404, "RevisionNotFound");
}

/// Writes every object reachable from `commit` into a fresh git repository.
async fn export_to_git(app: &TestApp, commit: ObjectId, dir: &std::path::Path) -> bool {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    if !Command::new("git")
        .args(["init", "-q", "--bare", "--initial-branch=main"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
    {
        return false;
    }
    // Collect first, then write blobs before the trees that name them (git checks `.gitattributes`).
    let mut pending = vec![commit];
    let mut seen = std::collections::HashSet::new();
    let mut objects = Vec::new();
    while let Some(id) = pending.pop() {
        if !seen.insert(id) {
            continue;
        }
        let object = app.db().object(&id).await.unwrap().unwrap();
        match object.kind {
            ObjectKind::Commit => {
                let commit = Commit::parse(&object.data).unwrap();
                pending.push(commit.tree);
                pending.extend(commit.parents);
            }
            ObjectKind::Tree => pending.extend(parse_tree(&object.data).unwrap().into_iter().map(|entry| entry.id)),
            _ => {}
        }
        objects.push(object);
    }
    objects.sort_by_key(|object| match object.kind {
        ObjectKind::Blob => 0,
        ObjectKind::Tree => 1,
        _ => 2,
    });
    for object in objects {
        let mut child = Command::new("git")
            .arg("--git-dir")
            .arg(dir)
            .args(["hash-object", "-w", "--stdin", "-t", object.kind.as_str()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&object.data).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "git refused {} {}: {}",
            object.kind.as_str(),
            object.id,
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), object.id.hex());
    }
    true
}

#[tokio::test]
async fn git_accepts_the_history() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let repo = app.repo("alice", "demo").await;
    let data = vec![42u8; 4096];
    app.register_xet_file(repo.id, &data).await;
    app.commit(
        ALICE,
        "alice/demo",
        "main",
        &[
            header("files", None),
            file("a-b.txt", b"1"),
            file("a.txt", b"2"),
            file("a/inner.txt", b"3"),
            file("z/y/x.txt", b"4"),
            lfs_file("weights/model.weird", &sha256_hex(&data), None),
        ],
    )
    .await
    .expect(200);
    app.commit(ALICE, "alice/demo", "main", &[header("more", None), deleted_file("a.txt"), file("b.txt", b"5")])
        .await
        .expect(200);
    let head = app.db().ref_target(repo.id, "refs/heads/main").await.unwrap().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let git_dir = dir.path().join("repo.git");
    if !export_to_git(&app, head, &git_dir).await {
        eprintln!("git is not installed; skipping the git check");
        return;
    }
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git").arg("--git-dir").arg(&git_dir).args(args).output().unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    git(&["update-ref", "refs/heads/main", &head.hex()]);
    git(&["fsck", "--strict", "--no-dangling"]);
    let files = git(&["ls-tree", "-r", "--name-only", "main"]);
    assert_eq!(files, ".gitattributes\na-b.txt\na/inner.txt\nb.txt\nweights/model.weird\nz/y/x.txt\n");
    let log = git(&["log", "--format=%s|%an", "main"]);
    assert_eq!(log, "more|alice\nfiles|alice\ninitial commit|alice\n");
    let pointer = git(&["cat-file", "-p", "main:weights/model.weird"]);
    assert!(pointer.starts_with("version https://git-lfs.github.com/spec/v1\noid sha256:"));
    let attributes = git(&["cat-file", "-p", "main:.gitattributes"]);
    assert!(attributes.ends_with("/weights/model.weird filter=lfs diff=lfs merge=lfs -text\n"));
    // git's own attribute matching agrees that the pointer is an LFS file.
    let work = dir.path().join("work");
    let checked = std::process::Command::new("git").args(["clone", "-q"]).arg(&git_dir).arg(&work).status().unwrap();
    assert!(checked.success());
    let check = std::process::Command::new("git")
        .arg("-C")
        .arg(&work)
        .args(["check-attr", "filter", "weights/model.weird", "a-b.txt"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(check.stdout).unwrap(),
        "weights/model.weird: filter: lfs\na-b.txt: filter: unspecified\n"
    );
}
