//! A Hub (with the CAS routes merged, as `tessera serve` mounts them) over a
//! temporary SQLite database and blob directory, driven request by request.

#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tessera_api::auth::hash_token;
use tessera_api::{App, AppState};
use tessera_db::{MetadataStore, Repo, RepoType, SqlStore, TokenScope, XetFile};
use tessera_formats::hash::sha256_hash;
use tessera_formats::shard::FileTerm;
use tessera_formats::xorb::XorbBuilder;
use tessera_storage::LocalBlobStore;
use tower::ServiceExt as _;

/// Base of every URL the test server returns.
pub const PUBLIC_URL: &str = "http://hub.test";

/// Alice's write token.
pub const ALICE: &str = "hf_alice_write";
/// Alice's read-only token.
pub const ALICE_READ: &str = "hf_alice_read";
/// Bob's write token.
pub const BOB: &str = "hf_bob_write";
/// The admin's token.
pub const ADMIN: &str = "hf_admin_write";

/// The server under test.
pub struct TestApp {
    _dir: tempfile::TempDir,
    /// Its state (for direct DB access).
    pub state: AppState,
    router: Router,
}

/// A response, fully read.
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts the status, showing the body otherwise.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        self
    }

    /// Asserts an HF error code.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        let reply = self.expect(status);
        assert_eq!(reply.header("x-error-code"), Some(code));
        reply
    }
}

impl TestApp {
    /// A fresh server with users alice, bob and admin.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
        let db = SqlStore::connect(&url).await.unwrap();
        for (name, admin, tokens) in [
            ("alice", false, vec![(ALICE, TokenScope::Write), (ALICE_READ, TokenScope::Read)]),
            ("bob", false, vec![(BOB, TokenScope::Write)]),
            ("admin", true, vec![(ADMIN, TokenScope::Write)]),
        ] {
            let user = db.create_user(name, admin).await.unwrap();
            for (secret, scope) in tokens {
                db.create_token(user.id, &format!("{name}-{}", scope.as_str()), &hash_token(secret), scope, &[])
                    .await
                    .unwrap();
            }
        }
        let blobs = LocalBlobStore::open(dir.path().join("blobs")).await.unwrap();
        let state = AppState::new(
            Arc::new(db),
            Arc::new(blobs),
            PUBLIC_URL.into(),
            b"test secret",
            App::DEFAULT_MAX_CONCURRENT_XORB_UPLOADS,
        );
        let router = tessera_hub::router().merge(tessera_cas::router()).with_state(state.clone());
        Self { _dir: dir, state, router }
    }

    /// The metadata store.
    pub fn db(&self) -> &dyn MetadataStore {
        self.state.db.as_ref()
    }

    /// Sends one request.
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    }

    /// GET.
    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.send("GET", uri, token, &[], Vec::new()).await
    }

    /// A request with a JSON body.
    pub async fn json(&self, method: &str, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(method, uri, token, &[("content-type", "application/json")], body.to_string().into_bytes()).await
    }

    /// Creates `alice/{name}` (a model unless `kind` says otherwise).
    pub async fn create_repo(&self, token: &str, name: &str, kind: Option<&str>, private: bool) -> Reply {
        let mut body = json!({ "name": name, "organization": null, "private": private });
        if let Some(kind) = kind {
            body["type"] = json!(kind);
        }
        self.json("POST", "/api/repos/create", Some(token), body).await
    }

    /// Posts an NDJSON commit to `/api/models/{repo}/commit/{rev}{query}`.
    pub async fn commit(&self, token: &str, repo: &str, rev: &str, lines: &[Value]) -> Reply {
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        self.send(
            "POST",
            &format!("/api/models/{repo}/commit/{rev}"),
            Some(token),
            &[("content-type", "application/x-ndjson")],
            body.into_bytes(),
        )
        .await
    }

    /// The repo row.
    pub async fn repo(&self, namespace: &str, name: &str) -> Repo {
        self.db().repo(RepoType::Model, namespace, name).await.unwrap().unwrap()
    }

    /// Stores `data` as one Xet file (one xorb) uploaded to `repo_id`, as a shard upload would register it.
    pub async fn register_xet_file(&self, repo_id: i64, data: &[u8]) -> XetFile {
        let digest = tessera_formats::file::digest(data);
        let mut builder = XorbBuilder::new();
        let mut at = 0usize;
        for (_, len) in &digest.chunks {
            builder.add_chunk(&data[at..at + *len as usize]).unwrap();
            at += *len as usize;
        }
        let xorb = builder.finish().unwrap();
        self.state.blobs.put(&tessera_cas::xorb_key(&xorb.index.hash), xorb.bytes.clone().into()).await.unwrap();
        self.db().insert_xorb(&xorb.index, 0).await.unwrap();
        let file = XetFile {
            hash: digest.file_hash,
            size: data.len() as u64,
            terms: vec![FileTerm {
                xorb_hash: xorb.index.hash,
                xorb_flags: 0,
                unpacked_bytes: data.len() as u32,
                chunk_start: 0,
                chunk_end: digest.chunks.len() as u32,
            }],
        };
        self.db().register_file(repo_id, &file, Some(&sha256_hash(data)), 0).await.unwrap();
        file
    }
}

/// The commit header line.
pub fn header(summary: &str, parent: Option<&str>) -> Value {
    let mut value = json!({ "summary": summary, "description": "" });
    if let Some(parent) = parent {
        value["parentCommit"] = json!(parent);
    }
    json!({ "key": "header", "value": value })
}

/// A `file` line.
pub fn file(path: &str, content: &[u8]) -> Value {
    let content = base64::engine::general_purpose::STANDARD.encode(content);
    json!({ "key": "file", "value": { "content": content, "path": path, "encoding": "base64" } })
}

/// An `lfsFile` line.
pub fn lfs_file(path: &str, sha256: &str, size: Option<u64>) -> Value {
    let mut value = json!({ "path": path, "algo": "sha256", "oid": sha256 });
    if let Some(size) = size {
        value["size"] = json!(size);
    }
    json!({ "key": "lfsFile", "value": value })
}

/// A `deletedFile` line.
pub fn deleted_file(path: &str) -> Value {
    json!({ "key": "deletedFile", "value": { "path": path } })
}

/// A `deletedFolder` line.
pub fn deleted_folder(path: &str) -> Value {
    json!({ "key": "deletedFolder", "value": { "path": path } })
}

/// The sha256 of `data`, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).iter().map(|byte| format!("{byte:02x}")).collect()
}
