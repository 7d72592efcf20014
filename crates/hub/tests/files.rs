//! Reading files and refs: tree listings with pagination, paths-info,
//! resolve (HEAD/GET, ranges), branches and tags.

mod common;

use common::*;
use serde_json::{Value, json};
use tessera_formats::git::{ObjectId, ObjectKind};

async fn demo_with_files(app: &TestApp) -> String {
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let reply = app
        .commit(
            ALICE,
            "alice/demo",
            "main",
            &[
                header("files", None),
                file("a.txt", b"0123456789"),
                file("dir/b.txt", b"bee"),
                file("dir/sub/c.txt", b"sea"),
                file("sub dir/awful?name%.txt", b"awful"),
                file("empty.txt", b""),
            ],
        )
        .await
        .expect(200);
    reply.json()["commitOid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tree_listing_entries_and_errors() {
    let app = TestApp::new().await;
    let commit = demo_with_files(&app).await;

    let top = app.get("/api/models/alice/demo/tree/main?recursive=false&expand=false", None).await.expect(200).json();
    let paths: Vec<&str> = top.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [".gitattributes", "a.txt", "dir", "empty.txt", "sub dir"]);
    assert_eq!(
        top[1],
        json!({"type": "file", "oid": ObjectId::for_object(ObjectKind::Blob, b"0123456789").hex(), "size": 10, "path": "a.txt"})
    );
    assert_eq!(top[2]["type"], "directory");
    assert_eq!(top[2]["size"], 0);
    assert_eq!(top[2]["oid"].as_str().unwrap().len(), 40);

    // A folder (slashes encoded as the client does), recursive, by commit id.
    let sub = app.get("/api/models/alice/demo/tree/main/dir?recursive=true", None).await.expect(200).json();
    let paths: Vec<&str> = sub.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["dir/b.txt", "dir/sub", "dir/sub/c.txt"]);
    let deep = app.get(&format!("/api/models/alice/demo/tree/{commit}/dir%2Fsub"), None).await.expect(200).json();
    assert_eq!(deep[0]["path"], "dir/sub/c.txt");
    let awful = app.get("/api/models/alice/demo/tree/main/sub%20dir", None).await.expect(200).json();
    assert_eq!(awful[0]["path"], "sub dir/awful?name%.txt");

    let missing = app.get("/api/models/alice/demo/tree/main/nope", None).await.expect_error(404, "EntryNotFound");
    assert_eq!(missing.header("x-repo-commit"), Some(commit.as_str()));
    app.get("/api/models/alice/demo/tree/main/a.txt", None).await.expect_error(404, "EntryNotFound");
    app.get("/api/models/alice/demo/tree/nope", None).await.expect_error(404, "RevisionNotFound");
}

#[tokio::test]
async fn tree_pages_have_absolute_next_links() {
    let app = TestApp::new().await;
    app.create_repo(ALICE, "demo", None, false).await.expect(200);
    let mut lines = vec![header("many", None)];
    for i in 0..1100 {
        lines.push(file(&format!("f/{i:04}.txt"), format!("{i}").as_bytes()));
    }
    app.commit(ALICE, "alice/demo", "main", &lines).await.expect(200);

    let first = app.get("/api/models/alice/demo/tree/main?recursive=true&expand=false", None).await.expect(200);
    assert_eq!(first.json().as_array().unwrap().len(), 1000);
    let link = first.header("link").unwrap().to_owned();
    assert_eq!(
        link,
        "<http://hub.test/api/models/alice/demo/tree/main?recursive=true&expand=false&cursor=1000>; rel=\"next\""
    );
    let next_url = link.trim_start_matches('<').split('>').next().unwrap().trim_start_matches(PUBLIC_URL).to_owned();
    let second = app.get(&next_url, None).await.expect(200);
    assert!(second.header("link").is_none());
    let rest = second.json();
    // .gitattributes, f, 1100 files.
    assert_eq!(rest.as_array().unwrap().len(), 1102 - 1000);
    assert_eq!(rest.as_array().unwrap().last().unwrap()["path"], "f/1099.txt");
}

#[tokio::test]
async fn paths_info_form_body() {
    let app = TestApp::new().await;
    demo_with_files(&app).await;
    let reply = app
        .send(
            "POST",
            "/api/models/alice/demo/paths-info/main",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
            b"paths=a.txt&paths=dir&paths=sub+dir%2Fawful%3Fname%25.txt&paths=missing.txt&paths=a.txt&expand=true"
                .to_vec(),
        )
        .await
        .expect(200)
        .json();
    let paths: Vec<&str> = reply.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["a.txt", "dir", "sub dir/awful?name%.txt"]);
    assert_eq!(reply[0]["size"], 10);
    assert_eq!(reply[1]["type"], "directory");
}

#[tokio::test]
async fn resolve_regular_files_with_ranges() {
    let app = TestApp::new().await;
    let commit = demo_with_files(&app).await;
    let etag = format!("\"{}\"", ObjectId::for_object(ObjectKind::Blob, b"0123456789").hex());

    let head = app.send("HEAD", "/alice/demo/resolve/main/a.txt", None, &[], Vec::new()).await.expect(200);
    assert_eq!(head.header("x-repo-commit"), Some(commit.as_str()));
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert_eq!(head.header("content-length"), Some("10"));
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert!(head.header("x-linked-size").is_none());
    assert!(head.header("x-xet-hash").is_none());
    assert!(head.body.is_empty());

    let get = app.get("/alice/demo/resolve/main/a.txt", None).await.expect(200);
    assert_eq!(get.body, b"0123456789");
    assert_eq!(get.header("content-length"), Some("10"));
    assert!(get.header("content-encoding").is_none());

    for (range, body, content_range) in [
        ("bytes=2-4", &b"234"[..], "bytes 2-4/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ] {
        let reply = app.send("GET", "/alice/demo/resolve/main/a.txt", None, &[("range", range)], vec![]).await;
        let reply = reply.expect(206);
        assert_eq!(reply.body, body, "{range}");
        assert_eq!(reply.header("content-range"), Some(content_range));
    }
    let unsatisfiable =
        app.send("GET", "/alice/demo/resolve/main/a.txt", None, &[("range", "bytes=10-")], vec![]).await;
    assert_eq!(unsatisfiable.expect(416).header("content-range"), Some("bytes */10"));
    let empty = app.send("HEAD", "/alice/demo/resolve/main/empty.txt", None, &[], vec![]).await.expect(200);
    assert_eq!(empty.header("content-length"), Some("0"));

    // Nested and awful names, a commit id, other prefixes.
    assert_eq!(app.get("/alice/demo/resolve/main/dir/sub/c.txt", None).await.expect(200).body, b"sea");
    let awful = app.get("/alice/demo/resolve/main/sub%20dir/awful%3Fname%25.txt", None).await.expect(200);
    assert_eq!(awful.body, b"awful");
    app.get(&format!("/alice/demo/resolve/{commit}/a.txt"), None).await.expect(200);

    let missing = app.send("HEAD", "/alice/demo/resolve/main/nope.txt", None, &[], vec![]).await;
    assert_eq!(missing.expect_error(404, "EntryNotFound").header("x-repo-commit"), Some(commit.as_str()));
    app.get("/alice/demo/resolve/main/dir", None).await.expect_error(404, "EntryNotFound");
    app.get("/alice/demo/resolve/nope/a.txt", None).await.expect_error(404, "RevisionNotFound");
    app.get("/alice/nope/resolve/main/a.txt", None).await.expect_error(404, "RepoNotFound");
    app.get("/datasets/alice/demo/resolve/main/a.txt", None).await.expect_error(404, "RepoNotFound");
}

fn ref_names(refs: &Value, kind: &str) -> Vec<String> {
    refs[kind].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn branches_and_tags() {
    let app = TestApp::new().await;
    let commit = demo_with_files(&app).await;
    let base = "/api/models/alice/demo";

    let refs = app.get(&format!("{base}/refs"), None).await.expect(200).json();
    assert_eq!(refs["branches"], json!([{"name": "main", "ref": "refs/heads/main", "targetCommit": commit}]));
    assert_eq!(refs["tags"], json!([]));
    assert_eq!(refs["converts"], json!([]));
    assert!(refs.get("pullRequests").is_none());

    // Branches: create, 409, from a starting point, invalid names.
    app.json("POST", &format!("{base}/branch/dev"), Some(ALICE), json!({})).await.expect(200);
    let conflict = app.json("POST", &format!("{base}/branch/dev"), Some(ALICE), json!({})).await.expect(409).json();
    assert_eq!(conflict["error"], "Reference refs/heads/dev already exists");
    let initial = app.get(&format!("{base}/commits/main"), None).await.expect(200).json()[1]["id"].clone();
    app.json("POST", &format!("{base}/branch/old"), Some(ALICE), json!({"startingPoint": initial})).await.expect(200);
    app.json("POST", &format!("{base}/branch/bad"), Some(ALICE), json!({"startingPoint": "nope"}))
        .await
        .expect_error(404, "RevisionNotFound");
    app.json("POST", &format!("{base}/branch/refs%2Fpr%2F5"), Some(ALICE), json!({})).await.expect(400);
    app.json("POST", &format!("{base}/branch/with%20space"), Some(ALICE), json!({})).await.expect(400);
    app.send("POST", &format!("{base}/branch/nobody"), Some(ALICE), &[], Vec::new()).await.expect(200);
    let old = app.get(&format!("{base}/revision/old"), None).await.expect(200).json();
    assert_eq!(old["sha"], initial);
    assert_eq!(old["siblings"].as_array().unwrap().len(), 1);

    // Tags: lightweight and annotated (peeled in the listing), 409, invalid, delete.
    app.json("POST", &format!("{base}/tag/main"), Some(ALICE), json!({"tag": "v1"})).await.expect(200);
    app.json("POST", &format!("{base}/tag/old"), Some(ALICE), json!({"tag": "v0", "message": "First"}))
        .await
        .expect(200);
    app.json("POST", &format!("{base}/tag/main"), Some(ALICE), json!({"tag": "v1"})).await.expect(409);
    app.json("POST", &format!("{base}/tag/main"), Some(ALICE), json!({"tag": "bad tag"})).await.expect(400);
    app.json("POST", &format!("{base}/tag/nope"), Some(ALICE), json!({"tag": "v2"}))
        .await
        .expect_error(404, "RevisionNotFound");
    // A branch may share a tag's name.
    app.json("POST", &format!("{base}/branch/v1"), Some(ALICE), json!({})).await.expect(200);
    let refs = app.get(&format!("{base}/refs"), None).await.expect(200).json();
    assert_eq!(ref_names(&refs, "branches"), ["dev", "main", "nobody", "old", "v1"]);
    assert_eq!(ref_names(&refs, "tags"), ["v0", "v1"]);
    let v0 = refs["tags"].as_array().unwrap().iter().find(|t| t["name"] == "v0").unwrap().clone();
    assert_eq!(v0["targetCommit"], initial);
    assert_eq!(v0["ref"], "refs/tags/v0");
    let by_tag = app.get(&format!("{base}/revision/v0"), None).await.expect(200).json();
    assert_eq!(by_tag["sha"], initial);
    assert_eq!(
        app.get("/alice/demo/resolve/v0/.gitattributes", None).await.expect(200).header("x-repo-commit"),
        initial.as_str()
    );

    app.send("DELETE", &format!("{base}/tag/v0"), Some(ALICE), &[], vec![]).await.expect(200);
    app.send("DELETE", &format!("{base}/tag/v0"), Some(ALICE), &[], vec![]).await.expect_error(404, "RevisionNotFound");

    // Branch deletion: never main; missing → RevisionNotFound.
    app.send("DELETE", &format!("{base}/branch/dev"), Some(ALICE), &[], vec![]).await.expect(200);
    let gone = app.send("DELETE", &format!("{base}/branch/dev"), Some(ALICE), &[], vec![]).await;
    assert!(gone.expect_error(404, "RevisionNotFound").json()["error"].as_str().unwrap().contains("Invalid rev id"));
    let main = app.send("DELETE", &format!("{base}/branch/main"), Some(ALICE), &[], vec![]).await.expect(403);
    assert!(main.json()["error"].as_str().unwrap().contains("Cannot delete refs/heads/main"));
    app.send("DELETE", &format!("{base}/branch/old"), Some(BOB), &[], vec![]).await.expect(403);
    let refs = app.get(&format!("{base}/refs"), None).await.expect(200).json();
    assert_eq!(ref_names(&refs, "branches"), ["main", "nobody", "old", "v1"]);
}
