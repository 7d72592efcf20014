//! The Git LFS locking API through the router: create, conflict, list with
//! filters and pages, verify, unlock with and without force, and who may do
//! each (alice owns the private `alice/weights`, bob the public
//! `bob/shared`, root is a server admin).

mod common;

use axum::http::StatusCode;
use axum::http::header::WWW_AUTHENTICATE;
use common::{ALICE, ALICE_READ, BOB, ROOT, harness};
use serde_json::{Value, json};

const SHARED: &str = "/bob/shared.git/info/lfs/locks";

fn paths(locks: &Value) -> Vec<&str> {
    locks.as_array().unwrap().iter().map(|lock| lock["path"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn create_list_verify_unlock() {
    let h = harness().await;

    // Bob locks a path of his repo: 201 with the lock.
    let created =
        h.call("POST", SHARED, Some(BOB), Some(json!({ "path": "a.bin", "ref": { "name": "refs/heads/main" } }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json());
    assert_eq!(created.headers["content-type"], "application/vnd.git-lfs+json");
    let lock = created.json()["lock"].clone();
    assert_eq!((lock["path"].as_str(), lock["owner"]["name"].as_str()), (Some("a.bin"), Some("bob")));
    let id = lock["id"].as_str().unwrap().to_owned();
    assert!(lock["locked_at"].as_str().unwrap().ends_with('Z'), "{lock}");

    // The same path again, by anyone: 409 with the existing lock.
    let again = h.call("POST", SHARED, Some(ROOT), Some(json!({ "path": "a.bin" }))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json()["lock"], lock);
    assert!(again.json()["message"].as_str().unwrap().contains("bob"), "{}", again.json());

    // Root (an admin, so a writer) locks another path.
    let other = h.call("POST", SHARED, Some(ROOT), Some(json!({ "path": "dir/b.bin" }))).await;
    assert_eq!(other.status, StatusCode::CREATED);
    let other_id = other.json()["lock"]["id"].as_str().unwrap().to_owned();

    // Readers, anonymous callers included, list the public repo's locks.
    for token in [None, Some(ALICE), Some(BOB)] {
        let listed = h.call("GET", SHARED, token, None).await;
        assert_eq!(listed.status, StatusCode::OK);
        assert_eq!(paths(&listed.json()["locks"]), ["a.bin", "dir/b.bin"]);
        assert!(listed.json().get("next_cursor").is_none());
    }
    let by_path = h.call("GET", &format!("{SHARED}?path=dir/b.bin&refspec=refs/heads/main"), None, None).await.json();
    assert_eq!(paths(&by_path["locks"]), ["dir/b.bin"]);
    let by_id = h.call("GET", &format!("{SHARED}?id={id}"), None, None).await.json();
    assert_eq!(by_id["locks"][0], lock);
    let no_such = h.call("GET", &format!("{SHARED}?id=nope"), None, None).await.json();
    assert_eq!(no_such["locks"], json!([]));
    let first_page = h.call("GET", &format!("{SHARED}?limit=1"), None, None).await.json();
    assert_eq!(paths(&first_page["locks"]), ["a.bin"]);
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let second_page = h.call("GET", &format!("{SHARED}?limit=1&cursor={cursor}"), None, None).await.json();
    assert_eq!(paths(&second_page["locks"]), ["dir/b.bin"]);
    assert!(second_page.get("next_cursor").is_none(), "{second_page}");
    assert_eq!(h.call("GET", &format!("{SHARED}?cursor=x"), None, None).await.status, StatusCode::BAD_REQUEST);

    // Verify splits them into ours and theirs, for writers only.
    let verified = h
        .call("POST", &format!("{SHARED}/verify"), Some(BOB), Some(json!({ "ref": { "name": "refs/heads/main" } })))
        .await;
    assert_eq!(verified.status, StatusCode::OK);
    assert_eq!(paths(&verified.json()["ours"]), ["a.bin"]);
    assert_eq!(paths(&verified.json()["theirs"]), ["dir/b.bin"]);
    let paged = h.call("POST", &format!("{SHARED}/verify"), Some(ROOT), Some(json!({ "limit": 1 }))).await.json();
    assert_eq!((paths(&paged["ours"]), paths(&paged["theirs"])), (vec![], vec!["a.bin"]));
    let rest = json!({ "limit": 1, "cursor": paged["next_cursor"] });
    let rest = h.call("POST", &format!("{SHARED}/verify"), Some(ROOT), Some(rest)).await.json();
    assert_eq!((paths(&rest["ours"]), paths(&rest["theirs"])), (vec!["dir/b.bin"], vec![]));
    assert_eq!(
        h.call("POST", &format!("{SHARED}/verify"), Some(ALICE), Some(json!({}))).await.status,
        StatusCode::FORBIDDEN
    );

    // Someone else's lock: 403 without force, even for its repo's owner.
    let unlock = |id: &str| format!("{SHARED}/{id}/unlock");
    let refused = h.call("POST", &unlock(&other_id), Some(BOB), Some(json!({}))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.json()["message"].as_str().unwrap().contains("root"), "{}", refused.json());
    assert_eq!(
        h.call("POST", &unlock(&id), Some(ROOT), Some(json!({ "force": false }))).await.status,
        StatusCode::FORBIDDEN
    );
    // A reader may not unlock, even with force.
    assert_eq!(
        h.call("POST", &unlock(&id), Some(ALICE), Some(json!({ "force": true }))).await.status,
        StatusCode::FORBIDDEN
    );
    // The owner unlocks their own lock; a maintainer breaks another's with force.
    let own = h.call("POST", &unlock(&id), Some(BOB), None).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.json());
    assert_eq!(own.json()["lock"], lock);
    let forced = h.call("POST", &unlock(&other_id), Some(BOB), Some(json!({ "force": true }))).await;
    assert_eq!(forced.status, StatusCode::OK, "{}", forced.json());
    // Gone, or never issued: 404.
    assert_eq!(h.call("POST", &unlock(&id), Some(BOB), Some(json!({}))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.call("POST", &unlock("x"), Some(BOB), Some(json!({}))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.call("GET", SHARED, None, None).await.json()["locks"], json!([]));
}

#[tokio::test]
async fn who_may_lock() {
    let h = harness().await;
    let weights = "/alice/weights/info/lfs/locks";

    // Anonymous writers are asked for Basic credentials, on every write route.
    for (method, path) in
        [("POST", SHARED.to_owned()), ("POST", format!("{SHARED}/verify")), ("POST", format!("{SHARED}/1/unlock"))]
    {
        let answer = h.call(method, &path, None, Some(json!({ "path": "a.bin" }))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(answer.headers[WWW_AUTHENTICATE], "Basic realm=\"Tessera\"");
    }
    // A private repo: anonymous callers are asked to authenticate, other users see nothing.
    let anonymous = h.call("GET", weights, None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers[WWW_AUTHENTICATE], "Basic realm=\"Tessera\"");
    assert_eq!(h.call("GET", weights, Some("hf_unknown"), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.call("GET", weights, Some(BOB), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.call("POST", weights, Some(BOB), Some(json!({ "path": "a" }))).await.status, StatusCode::NOT_FOUND);
    // A missing repo looks the same as a private one.
    assert_eq!(h.call("GET", "/alice/missing/info/lfs/locks", None, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.call("GET", "/alice/missing/info/lfs/locks", Some(BOB), None).await.status, StatusCode::NOT_FOUND);
    // Readers may list, not lock; a read token is a reader.
    assert_eq!(h.call("GET", weights, Some(ALICE_READ), None).await.status, StatusCode::OK);
    assert_eq!(
        h.call("POST", weights, Some(ALICE_READ), Some(json!({ "path": "a" }))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(h.call("POST", SHARED, Some(ALICE), Some(json!({ "path": "a" }))).await.status, StatusCode::FORBIDDEN);
    // Bad bodies.
    assert_eq!(
        h.call("POST", weights, Some(ALICE), Some(json!({ "path": "" }))).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(h.call("POST", weights, Some(ALICE), Some(json!({ "nope": 1 }))).await.status, StatusCode::BAD_REQUEST);

    // The owner locks; the same path in another repo, or through the
    // `datasets/` prefix (another repo type), is another lock.
    assert_eq!(h.call("POST", weights, Some(ALICE), Some(json!({ "path": "a" }))).await.status, StatusCode::CREATED);
    assert_eq!(h.call("POST", SHARED, Some(BOB), Some(json!({ "path": "a" }))).await.status, StatusCode::CREATED);
    let dataset = h.call("GET", "/datasets/alice/weights/info/lfs/locks", Some(ALICE), None).await;
    assert_eq!(dataset.status, StatusCode::NOT_FOUND, "no such dataset");
    let listed = h.call("GET", "/alice/weights.git/info/lfs/locks", Some(ALICE), None).await.json();
    assert_eq!(paths(&listed["locks"]), ["a"]);
    assert_eq!(listed["locks"][0]["owner"]["name"], "alice");
}
