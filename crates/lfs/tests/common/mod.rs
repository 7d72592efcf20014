//! The LFS router over a throw-away SQLite file and blob directory, with
//! known users and tokens: alice (a private repo `alice/weights`), bob (a
//! public repo `bob/shared`) and root, a server admin.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use sha2::Digest as _;
use tessera_api::auth::hash_token;
use tessera_api::{App, AppState};
use tessera_db::{MetadataStore, NewRepo, RepoType, SqlStore, TokenScope};
use tessera_storage::LocalBlobStore;
use tower::ServiceExt as _;

pub const ALICE: &str = "hf_alice";
pub const ALICE_READ: &str = "hf_alice_read";
pub const BOB: &str = "hf_bob";
pub const ROOT: &str = "hf_root";
pub const PUBLIC_URL: &str = "http://lfs.test";

pub struct Harness {
    _dir: tempfile::TempDir,
    pub state: AppState,
    pub router: Router,
    /// `alice/weights`, private.
    pub repo_id: i64,
    /// `bob/shared`, public.
    pub bob_repo_id: i64,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

pub async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqlStore::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
    let alice = db.create_user("alice", false).await.unwrap();
    let bob = db.create_user("bob", false).await.unwrap();
    let root = db.create_user("root", true).await.unwrap();
    db.create_token(alice.id, "w", &hash_token(ALICE), TokenScope::Write, &[]).await.unwrap();
    db.create_token(alice.id, "r", &hash_token(ALICE_READ), TokenScope::Read, &[]).await.unwrap();
    db.create_token(bob.id, "w", &hash_token(BOB), TokenScope::Write, &[]).await.unwrap();
    db.create_token(root.id, "w", &hash_token(ROOT), TokenScope::Write, &[]).await.unwrap();
    let repo = NewRepo {
        repo_type: RepoType::Model,
        namespace: "alice".into(),
        name: "weights".into(),
        private: true,
        owner_id: alice.id,
        creator_id: alice.id,
        created_at: 0,
    };
    let repo_id = db.create_repo(&repo).await.unwrap().id;
    let shared = NewRepo {
        namespace: "bob".into(),
        name: "shared".into(),
        private: false,
        owner_id: bob.id,
        creator_id: bob.id,
        ..repo
    };
    let bob_repo_id = db.create_repo(&shared).await.unwrap().id;
    let blobs = LocalBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let state = AppState::new(
        std::sync::Arc::new(db),
        std::sync::Arc::new(blobs),
        PUBLIC_URL.into(),
        b"secret",
        App::DEFAULT_MAX_CONCURRENT_XORB_UPLOADS,
    );
    let router = tessera_lfs::router().with_state(state.clone());
    Harness { _dir: dir, state, router, repo_id, bob_repo_id }
}

impl Harness {
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let answer = self.exchange(request).await;
        (answer.status, answer.body)
    }

    pub async fn exchange(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        Answer { status, headers, body: response.into_body().collect().await.unwrap().to_bytes().to_vec() }
    }

    /// An LFS API call with a JSON body (or none), as `token` (Bearer) if given.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("accept", "application/vnd.git-lfs+json")
            .header("content-type", "application/vnd.git-lfs+json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
        self.exchange(request.body(body).unwrap()).await
    }

    /// A batch request on `repo` (`alice/weights.git`, …) for one object.
    pub async fn batch_on(
        &self,
        repo: &str,
        token: Option<&str>,
        operation: &str,
        transfers: &[&str],
        oid: &str,
        size: u64,
    ) -> (StatusCode, Value) {
        let body = json!({
            "operation": operation, "transfers": transfers, "ref": { "name": "refs/heads/main" },
            "objects": [{ "oid": oid, "size": size }], "hash_algo": "sha256",
        });
        let answer = self.call("POST", &format!("/{repo}/info/lfs/objects/batch"), token, Some(body)).await;
        (answer.status, answer.json())
    }

    /// A basic-transfer batch request on `alice/weights.git`.
    pub async fn batch(&self, token: Option<&str>, operation: &str, oid: &str, size: u64) -> (StatusCode, Value) {
        self.batch_on("alice/weights.git", token, operation, &["basic"], oid, size).await
    }

    /// Uploads `bytes` to `repo` through the basic transfer as `token`.
    pub async fn upload(&self, repo: &str, token: &str, bytes: &[u8]) -> String {
        let oid = oid_of(bytes);
        let (status, answer) = self.batch_on(repo, Some(token), "upload", &["basic"], &oid, bytes.len() as u64).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let href = local(answer["objects"][0]["actions"]["upload"]["href"].as_str().unwrap()).to_owned();
        let (status, body) = self.send(Request::put(&href).body(Body::from(bytes.to_vec())).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        oid
    }
}

/// The path and query of an absolute href.
pub fn local(href: &str) -> &str {
    href.trim_start_matches(PUBLIC_URL)
}

pub fn oid_of(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
