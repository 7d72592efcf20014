//! Repos, users and access: create/delete/settings/info/listing, whoami,
//! private repos, token scopes, Xet tokens, stubs and stats.

mod common;

use common::*;
use serde_json::json;
use tessera_formats::git::{Commit, ObjectId, ObjectKind, parse_tree};
use tessera_hub::repo_model::attributes::default_gitattributes;

#[tokio::test]
async fn create_repo_then_conflict_with_url() {
    let app = TestApp::new().await;
    let created = app.create_repo(ALICE, "demo", None, false).await.expect(200).json();
    assert_eq!(created["url"], "http://hub.test/alice/demo");
    assert_eq!(created["name"], "alice/demo");
    assert!(created["id"].as_str().unwrap().len() == 24);

    let again = app.create_repo(ALICE, "demo", None, false).await.expect(409).json();
    assert_eq!(again["url"], "http://hub.test/alice/demo");
    assert!(again["error"].as_str().unwrap().contains("already created"));

    // Same name, other type; `ns/name` in `name`; org field.
    let dataset = app.create_repo(ALICE, "demo", Some("dataset"), false).await.expect(200).json();
    assert_eq!(dataset["url"], "http://hub.test/datasets/alice/demo");
    let space = app
        .json("POST", "/api/repos/create", Some(ALICE), json!({"name": "alice/app", "type": "space", "sdk": "gradio"}))
        .await
        .expect(200)
        .json();
    assert_eq!(space["url"], "http://hub.test/spaces/alice/app");
    app.json("POST", "/api/repos/create", Some(ALICE), json!({"name": "x", "organization": "alice"})).await.expect(200);

    // Invalid names, other namespaces, read tokens, anonymous.
    for bad in ["a--b", "x.git", "a b", "..", &"n".repeat(97)] {
        app.create_repo(ALICE, bad, None, false).await.expect(400);
    }
    app.json("POST", "/api/repos/create", Some(ALICE), json!({"name": "z", "organization": "bob"})).await.expect(403);
    app.create_repo(ALICE_READ, "ro", None, false).await.expect(403);
    app.create_repo("hf_unknown", "ro", None, false).await.expect(401);
    app.json("POST", "/api/repos/create", None, json!({"name": "anon"})).await.expect(401);
    // An admin may create in any namespace; the namespace's user owns it.
    app.json("POST", "/api/repos/create", Some(ADMIN), json!({"name": "bob/gift"})).await.expect(200);
    assert_eq!(app.repo("bob", "gift").await.owner_id, app.db().user_by_name("bob").await.unwrap().unwrap().id);
}

#[tokio::test]
async fn initial_commit_is_real_git() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let repo = app.repo("alice", "demo").await;
    let head = app.db().ref_target(repo.id, "refs/heads/main").await.unwrap().unwrap();

    let commit_object = app.db().object(&head).await.unwrap().unwrap();
    assert_eq!(commit_object.kind, ObjectKind::Commit);
    assert_eq!(ObjectId::for_object(ObjectKind::Commit, &commit_object.data), head);
    let commit = Commit::parse(&commit_object.data).unwrap();
    assert_eq!(commit.message, "initial commit");
    assert!(commit.parents.is_empty());
    assert_eq!(commit.author.name, "alice");

    let tree_object = app.db().object(&commit.tree).await.unwrap().unwrap();
    assert_eq!(ObjectId::for_object(ObjectKind::Tree, &tree_object.data), commit.tree);
    let entries = parse_tree(&tree_object.data).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].name, ".gitattributes");
    let blob = app.db().object(&entries[0].id).await.unwrap().unwrap();
    let expected = default_gitattributes(tessera_db::RepoType::Model);
    assert_eq!(blob.data, expected.as_bytes());
    assert_eq!(ObjectId::for_object(ObjectKind::Blob, expected.as_bytes()), entries[0].id);
    assert!(expected.contains("*.safetensors filter=lfs diff=lfs merge=lfs -text\n"));

    // When git is installed, it agrees on every id.
    if let Some(ids) = git_hash_objects(&[
        ("blob", blob.data.clone()),
        ("tree", tree_object.data.clone()),
        ("commit", commit_object.data.clone()),
    ]) {
        assert_eq!(ids, vec![entries[0].id.hex(), commit.tree.hex(), head.hex()]);
    }

    // The dataset template adds media types.
    let dataset = app.create_repo(ALICE, "data", Some("dataset"), false).await.expect(200);
    drop(dataset);
    let info = app.get("/api/datasets/alice/data/tree/main", None).await.expect(200).json();
    assert_eq!(info[0]["path"], ".gitattributes");
    let text = app.get("/datasets/alice/data/resolve/main/.gitattributes", None).await.expect(200);
    assert!(String::from_utf8(text.body).unwrap().contains("*.png filter=lfs"));
}

/// `git hash-object` of each `(kind, content)`, or `None` without a git binary.
fn git_hash_objects(objects: &[(&str, Vec<u8>)]) -> Option<Vec<String>> {
    use std::io::Write as _;
    let mut ids = Vec::new();
    for (kind, content) in objects {
        let mut child = std::process::Command::new("git")
            .args(["hash-object", "-t", kind, "--stdin", "--literally"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(content).ok()?;
        let output = child.wait_with_output().ok()?;
        if !output.status.success() {
            return None;
        }
        ids.push(String::from_utf8(output.stdout).ok()?.trim().to_owned());
    }
    Some(ids)
}

#[tokio::test]
async fn repo_info_siblings_and_revisions() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let commit = app
        .commit(ALICE, "alice/demo", "main", &[header("add", None), file("a.txt", b"hello"), file("d/b.txt", b"b")])
        .await
        .expect(200)
        .json();
    let sha = commit["commitOid"].as_str().unwrap();

    let info = app.get("/api/models/alice/demo", None).await.expect(200).json();
    assert_eq!(info["id"], "alice/demo");
    assert_eq!(info["author"], "alice");
    assert_eq!(info["sha"], sha);
    assert_eq!(info["private"], false);
    assert!(info["lastModified"].as_str().unwrap().ends_with('Z'));
    let names: Vec<&str> =
        info["siblings"].as_array().unwrap().iter().map(|s| s["rfilename"].as_str().unwrap()).collect();
    assert_eq!(names, [".gitattributes", "a.txt", "d/b.txt"]);
    assert!(info["siblings"][1].get("size").is_none());

    let blobs = app.get("/api/models/alice/demo/revision/main?blobs=true", None).await.expect(200).json();
    assert_eq!(blobs["siblings"][1]["size"], 5);
    assert_eq!(blobs["siblings"][1]["blobId"], ObjectId::for_object(ObjectKind::Blob, b"hello").hex());

    // By sha, abbreviated sha, and errors.
    let by_sha = app.get(&format!("/api/models/alice/demo/revision/{sha}"), None).await.expect(200).json();
    assert_eq!(by_sha["sha"], sha);
    let short = app.get(&format!("/api/models/alice/demo/revision/{}", &sha[..8]), None).await.expect(200).json();
    assert_eq!(short["sha"], sha);
    app.get("/api/models/alice/demo/revision/nope", None).await.expect_error(404, "RevisionNotFound");
    app.get(&format!("/api/models/alice/demo/revision/{}", "0".repeat(40)), None)
        .await
        .expect_error(404, "RevisionNotFound");
    app.get("/api/models/alice/missing", None).await.expect_error(404, "RepoNotFound");
    app.get("/api/models/gpt2", None).await.expect_error(404, "RepoNotFound");
    app.get("/api/datasets/alice/demo", None).await.expect_error(404, "RepoNotFound");

    // Another repo's commit is not reachable from this one.
    app.create_repo(BOB, "other", None, false).await.expect(200);
    app.get(&format!("/api/models/bob/other/revision/{sha}"), None).await.expect_error(404, "RevisionNotFound");
}

#[tokio::test]
async fn private_repos_are_invisible_to_others() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "secret", None, true).await.expect(200);
    app.commit(ALICE, "alice/secret", "main", &[header("add", None), file("a.txt", b"hi")]).await.expect(200);

    let info = app.get("/api/models/alice/secret", Some(ALICE)).await.expect(200).json();
    assert_eq!(info["private"], true);
    app.get("/api/models/alice/secret", Some(ALICE_READ)).await.expect(200);
    app.get("/api/models/alice/secret", Some(ADMIN)).await.expect(200);

    for token in [None, Some(BOB)] {
        for uri in [
            "/api/models/alice/secret",
            "/api/models/alice/secret/revision/main",
            "/api/models/alice/secret/tree/main",
            "/api/models/alice/secret/refs",
            "/api/models/alice/secret/commits/main",
            "/api/models/alice/secret/xet-read-token/main",
            "/api/models/alice/secret/xet-write-token/main",
            "/alice/secret/resolve/main/a.txt",
        ] {
            app.get(uri, token).await.expect_error(404, "RepoNotFound");
        }
        app.send("HEAD", "/alice/secret/resolve/main/a.txt", token, &[], Vec::new())
            .await
            .expect_error(404, "RepoNotFound");
        app.commit(BOB, "alice/secret", "main", &[header("x", None), file("b.txt", b"x")])
            .await
            .expect_error(404, "RepoNotFound");
    }
    let listed = app.get("/api/models", Some(BOB)).await.expect(200).json();
    assert!(listed.as_array().unwrap().is_empty());
    let listed = app.get("/api/models", Some(ALICE)).await.expect(200).json();
    assert_eq!(listed[0]["id"], "alice/secret");

    // Public now: everyone sees it; writes stay the owner's.
    app.json("PUT", "/api/models/alice/secret/settings", Some(BOB), json!({"private": false}))
        .await
        .expect_error(404, "RepoNotFound");
    app.json("PUT", "/api/models/alice/secret/settings", Some(ALICE), json!({"visibility": "public"}))
        .await
        .expect(200);
    app.get("/api/models/alice/secret", None).await.expect(200);
    app.commit(BOB, "alice/secret", "main", &[header("x", None), file("b.txt", b"x")]).await.expect(403);
    app.json("PUT", "/api/models/alice/secret/settings", Some(ALICE), json!({"private": true})).await.expect(200);
    app.get("/api/models/alice/secret", None).await.expect_error(404, "RepoNotFound");
}

#[tokio::test]
async fn read_tokens_cannot_write() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    app.commit(ALICE_READ, "alice/demo", "main", &[header("x", None), file("a.txt", b"x")]).await.expect(403);
    app.get("/api/models/alice/demo/xet-write-token/main", Some(ALICE_READ)).await.expect(403);
    app.json("POST", "/api/models/alice/demo/branch/dev", Some(ALICE_READ), json!({})).await.expect(403);
    app.json("DELETE", "/api/repos/delete", Some(ALICE_READ), json!({"name": "demo", "organization": "alice"}))
        .await
        .expect(403);
    app.get("/api/models/alice/demo/auth-check/write", Some(ALICE_READ)).await.expect(403);
    app.get("/api/models/alice/demo/auth-check/write", Some(ALICE)).await.expect(200);
    // Reading works.
    app.get("/api/models/alice/demo/auth-check", Some(ALICE_READ)).await.expect(200);
    app.get("/api/models/alice/demo/xet-read-token/main", Some(ALICE_READ)).await.expect(200);
    app.get("/api/models/alice/demo/tree/main", Some(ALICE_READ)).await.expect(200);
}

#[tokio::test]
async fn xet_tokens_in_body_and_headers() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let repo = app.repo("alice", "demo").await;
    let now = tessera_api::time::now_secs();

    let read = app.get("/api/models/alice/demo/xet-read-token/main", None).await.expect(200);
    let body = read.json();
    assert_eq!(body["casUrl"], PUBLIC_URL);
    assert_eq!(read.header("x-xet-cas-url"), Some(PUBLIC_URL));
    assert_eq!(read.header("x-xet-access-token"), body["accessToken"].as_str());
    assert_eq!(read.header("x-xet-token-expiration").unwrap(), body["exp"].to_string());
    let grant = app.state.signer.verify_cas_token(body["accessToken"].as_str().unwrap(), now).unwrap();
    assert_eq!((grant.repo_id, grant.write), (repo.id, false));
    assert!(grant.expires_at >= now + 3599);

    let write = app.get("/api/models/alice/demo/xet-write-token/main", Some(ALICE)).await.expect(200).json();
    let grant = app.state.signer.verify_cas_token(write["accessToken"].as_str().unwrap(), now).unwrap();
    assert_eq!((grant.repo_id, grant.write), (repo.id, true));
    app.get("/api/models/alice/demo/xet-write-token/None?create_pr=1", Some(ALICE)).await.expect(200);
    app.get("/api/models/alice/demo/xet-write-token/None", Some(ALICE)).await.expect_error(404, "RevisionNotFound");
    app.get("/api/models/alice/demo/xet-write-token/main", None).await.expect(401);
    app.get("/api/models/alice/demo/xet-write-token/main", Some(BOB)).await.expect(403);
    app.get("/api/models/alice/demo/xet-read-token/nope", None).await.expect_error(404, "RevisionNotFound");
}

#[tokio::test]
async fn delete_repo_and_missing() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", Some("dataset"), false).await.expect(200);
    let body = json!({"name": "demo", "organization": "alice", "type": "dataset"});
    app.json("DELETE", "/api/repos/delete", Some(BOB), body.clone()).await.expect(403);
    app.json("DELETE", "/api/repos/delete", Some(ALICE), body.clone()).await.expect(200);
    app.get("/api/datasets/alice/demo", None).await.expect_error(404, "RepoNotFound");
    app.json("DELETE", "/api/repos/delete", Some(ALICE), body).await.expect_error(404, "RepoNotFound");
    // The name is free again.
    app.create_repo(ALICE, "demo", Some("dataset"), false).await.expect(200);
}

#[tokio::test]
async fn whoami_and_side_routes() {
    let app = TestApp::new().await;
    let me = app.get("/api/whoami-v2", Some(ALICE_READ)).await.expect(200).json();
    assert_eq!(me["type"], "user");
    assert_eq!(me["name"], "alice");
    assert_eq!(me["orgs"], json!([]));
    assert_eq!(me["auth"]["accessToken"]["role"], "read");
    assert_eq!(me["auth"]["accessToken"]["displayName"], "alice-read");
    assert!(me["email"].is_null());
    app.get("/api/whoami-v2", None).await.expect(401);
    app.get("/api/whoami-v2", Some("hf_nope")).await.expect(401);

    assert_eq!(app.get("/health", None).await.expect(200).body, b"ok");
    let yaml = app.json("POST", "/api/validate-yaml", None, json!({"content": "x", "repoType": "model"})).await;
    assert_eq!(yaml.expect(200).json(), json!({"errors": [], "warnings": []}));
    app.get("/api/agent-harnesses", None).await.expect(200);
    app.send("HEAD", "/api/telemetry/hf_hub/download", None, &[], Vec::new()).await.expect(200);

    let stats = app.get("/api/admin/stats", Some(ADMIN)).await.expect(200).json();
    assert_eq!(stats["users"], 3);
    for key in ["repos", "xorbs", "xorbBytes", "xorbUncompressedBytes", "xetFiles", "xetFileBytes"] {
        assert!(stats[key].is_number(), "{key}");
    }
    app.get("/api/admin/stats", Some(ALICE)).await.expect(403);
    app.get("/api/admin/stats", None).await.expect(401);
}

#[tokio::test]
async fn listing_paginates_and_filters() {
    let app = TestApp::new().await;
    for name in ["a", "b"] {
        app.create_repo(ALICE, name, None, false).await.expect(200);
    }
    app.create_repo(BOB, "c", None, false).await.expect(200);
    let all = app.get("/api/models", None).await.expect(200).json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let bobs = app.get("/api/models?author=bob", None).await.expect(200).json();
    assert_eq!(bobs[0]["id"], "bob/c");
    let search = app.get("/api/models?search=ALICE/B", None).await.expect(200).json();
    assert_eq!(search.as_array().unwrap().len(), 1);
    app.get("/api/datasets", None).await.expect(200);
    app.get("/api/kernels", None).await.expect(404);
}
