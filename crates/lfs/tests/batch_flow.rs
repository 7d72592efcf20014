//! The LFS batch API through the router: upload with sha256 and size checks,
//! verify, the Xet file it becomes, signed downloads with `Range`, and access.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sha2::Digest as _;
use tessera_api::auth::hash_token;
use tessera_api::{App, AppState};
use tessera_db::{MetadataStore, NewRepo, RepoType, SqlStore, TokenScope};
use tessera_storage::LocalBlobStore;
use tower::ServiceExt as _;

const ALICE: &str = "hf_alice";
const ALICE_READ: &str = "hf_alice_read";
const BOB: &str = "hf_bob";

struct Harness {
    _dir: tempfile::TempDir,
    state: AppState,
    router: Router,
    repo_id: i64,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqlStore::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
    let alice = db.create_user("alice", false).await.unwrap();
    let bob = db.create_user("bob", false).await.unwrap();
    db.create_token(alice.id, "w", &hash_token(ALICE), TokenScope::Write).await.unwrap();
    db.create_token(alice.id, "r", &hash_token(ALICE_READ), TokenScope::Read).await.unwrap();
    db.create_token(bob.id, "w", &hash_token(BOB), TokenScope::Write).await.unwrap();
    let repo = NewRepo {
        repo_type: RepoType::Model,
        namespace: "alice".into(),
        name: "weights".into(),
        private: true,
        owner_id: alice.id,
        created_at: 0,
    };
    let repo_id = db.create_repo(&repo).await.unwrap().id;
    let blobs = LocalBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let state = AppState::new(
        std::sync::Arc::new(db),
        std::sync::Arc::new(blobs),
        "http://lfs.test".into(),
        b"secret",
        App::DEFAULT_MAX_CONCURRENT_XORB_UPLOADS,
    );
    let router = tessera_lfs::router().with_state(state.clone());
    Harness { _dir: dir, state, router, repo_id }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    async fn batch(&self, token: Option<&str>, operation: &str, oid: &str, size: u64) -> (StatusCode, Value) {
        let body = json!({
            "operation": operation, "transfers": ["basic"],
            "objects": [{ "oid": oid, "size": size }], "hash_algo": "sha256",
        });
        let mut request = Request::post("/alice/weights.git/info/lfs/objects/batch")
            .header("content-type", "application/vnd.git-lfs+json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let (status, body) = self.send(request.body(Body::from(body.to_string())).unwrap()).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

/// The path and query of an absolute href.
fn local(href: &str) -> &str {
    href.trim_start_matches("http://lfs.test")
}

fn data(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[tokio::test]
async fn upload_verify_download() {
    let h = harness().await;
    let bytes = data(300_000);
    let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    let oid: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let size = bytes.len() as u64;

    // Access: anonymous and other users see no repo; a read token cannot upload.
    assert_eq!(h.batch(None, "upload", &oid, size).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.batch(Some(BOB), "upload", &oid, size).await.0, StatusCode::NOT_FOUND);
    assert_eq!(h.batch(Some(ALICE_READ), "upload", &oid, size).await.0, StatusCode::FORBIDDEN);

    let (status, answer) = h.batch(Some(ALICE), "upload", &oid, size).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["transfer"], "basic");
    let actions = &answer["objects"][0]["actions"];
    let upload = local(actions["upload"]["href"].as_str().unwrap()).to_owned();
    let verify = local(actions["verify"]["href"].as_str().unwrap()).to_owned();

    // Wrong bytes, or a tampered link: refused, nothing registered.
    let mut wrong = bytes.clone();
    wrong[7] ^= 1;
    let (status, _) = h.send(Request::put(&upload).body(Body::from(wrong)).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.send(Request::put(&upload).body(Body::from(bytes[..1000].to_vec())).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let tampered = upload.replace("sig=", "sig=x");
    assert_eq!(h.send(Request::put(&tampered).body(Body::from(bytes.clone())).unwrap()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(h.send(Request::post(&verify).body(Body::empty()).unwrap()).await.0, StatusCode::NOT_FOUND);

    // The right bytes become a Xet file of the repo under their sha256.
    let (status, _) = h.send(Request::put(&upload).body(Body::from(bytes.clone())).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.send(Request::post(&verify).body(Body::empty()).unwrap()).await.0, StatusCode::OK);
    let (file_hash, stored_size) = h.state.db.repo_file_by_sha256(h.repo_id, &digest).await.unwrap().unwrap();
    assert_eq!(stored_size, size);
    assert_eq!(file_hash, tessera_formats::file::digest(&bytes).file_hash);

    // Now the batch says there is nothing to upload, and offers a download.
    let (_, answer) = h.batch(Some(ALICE), "upload", &oid, size).await;
    assert!(answer["objects"][0].get("actions").is_none(), "{answer}");
    let (_, answer) = h.batch(Some(ALICE_READ), "download", &oid, size).await;
    let download = local(answer["objects"][0]["actions"]["download"]["href"].as_str().unwrap()).to_owned();
    let (status, body) = h.send(Request::get(&download).body(Body::empty()).unwrap()).await;
    assert_eq!((status, body == bytes), (StatusCode::OK, true));
    let (status, body) =
        h.send(Request::get(&download).header("range", "bytes=1000-199999").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, bytes[1000..200_000]);

    // Unknown objects and malformed oids are per-object errors.
    let (_, answer) = h.batch(Some(ALICE), "download", &"0".repeat(64), 5).await;
    assert_eq!(answer["objects"][0]["error"]["code"], 404);
    let (_, answer) = h.batch(Some(ALICE), "upload", "not-a-sha", 5).await;
    assert_eq!(answer["objects"][0]["error"]["code"], 422);
}
