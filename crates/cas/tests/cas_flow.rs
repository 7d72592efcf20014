//! The CAS through its router: xorb upload and validation, shard validation
//! and registration, reconstruction with ranges, signed data URLs, global
//! dedup answers, and repo scoping of reads.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tessera_api::signing::CasGrant;
use tessera_api::{App, AppState};
use tessera_db::{MetadataStore, NewRepo, RepoType, SqlStore, TokenScope, XetFile};
use tessera_formats::MerkleHash;
use tessera_formats::file::FileHasher;
use tessera_formats::hash::{range_hash, sha256_hash};
use tessera_formats::shard::{FileEntry, FileTerm, Shard, XorbEntry, parse_shard};
use tessera_formats::xorb::{SerializedXorb, XorbBuilder, decode_chunks};
use tessera_storage::LocalBlobStore;
use tower::ServiceExt as _;

struct Harness {
    _dir: tempfile::TempDir,
    state: AppState,
    router: Router,
    repo_a: i64,
    repo_b: i64,
    token_id: i64,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = SqlStore::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
    let user = db.create_user("alice", false).await.unwrap();
    // CAS tokens are minted through a user token; the CAS asks the access rule again with it.
    let token_id = db.create_token(user.id, "w", b"alice-token", TokenScope::Write, &[]).await.unwrap().id;
    let mut repo_ids = Vec::new();
    for name in ["a", "b"] {
        let repo = NewRepo {
            repo_type: RepoType::Model,
            namespace: "alice".into(),
            name: name.into(),
            private: true,
            owner_id: user.id,
            creator_id: user.id,
            created_at: 0,
        };
        repo_ids.push(db.create_repo(&repo).await.unwrap().id);
    }
    let blobs = LocalBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let state = AppState::new(
        Arc::new(db),
        Arc::new(blobs),
        "http://127.0.0.1:9".into(),
        b"test secret",
        App::DEFAULT_MAX_CONCURRENT_XORB_UPLOADS,
    );
    let router = tessera_cas::router().with_state(state.clone());
    Harness { _dir: dir, state, router, repo_a: repo_ids[0], repo_b: repo_ids[1], token_id }
}

impl Harness {
    fn token(&self, repo_id: i64, write: bool) -> String {
        self.state.signer.cas_token(&CasGrant { repo_id, write, token_id: Some(self.token_id), expires_at: i64::MAX })
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        body: Vec<u8>,
        range: Option<&str>,
    ) -> (StatusCode, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {token}"));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Chunks a file into one xorb and describes it as hf_xet would in a shard.
fn xorb_and_shard(data: &[u8]) -> (SerializedXorb, Shard, MerkleHash) {
    let mut builder = XorbBuilder::new();
    builder.start_file();
    let mut hasher = FileHasher::new();
    hasher.update_with(data, |chunk, _| {
        builder.add_chunk(chunk).unwrap();
    });
    let digest = hasher.finish_with(|chunk, _| {
        builder.add_chunk(chunk).unwrap();
    });
    let xorb = builder.finish().unwrap();
    let hashes: Vec<MerkleHash> = xorb.index.chunks.iter().map(|c| c.hash).collect();
    let shard = Shard {
        files: vec![FileEntry {
            file_hash: digest.file_hash,
            terms: vec![FileTerm {
                xorb_hash: xorb.index.hash,
                xorb_flags: 0,
                unpacked_bytes: data.len() as u32,
                chunk_start: 0,
                chunk_end: hashes.len() as u32,
            }],
            verification: Some(vec![range_hash(&hashes)]),
            sha256: Some(sha256_hash(data)),
        }],
        // hf_xet reports no serialized size; the server must not rely on it.
        xorbs: vec![XorbEntry { num_bytes_on_disk: 0, ..XorbEntry::from(&xorb.index) }],
        footer: None,
    };
    (xorb, shard, digest.file_hash)
}

#[tokio::test]
async fn upload_reconstruct_fetch_and_dedup() {
    let h = harness().await;
    let write_a = h.token(h.repo_a, true);
    let data = random_bytes(700_000, 11);
    let (xorb, shard, file_hash) = xorb_and_shard(&data);
    let xorb_uri = format!("/v1/xorbs/default/{}", xorb.index.hash);

    // A xorb under the wrong name, a read token, a truncated body: refused.
    let wrong = format!("/v1/xorbs/default/{}", MerkleHash::from_bytes([1; 32]));
    assert_eq!(h.call("POST", &wrong, &write_a, xorb.bytes.clone(), None).await.0, StatusCode::BAD_REQUEST);
    let read_a = h.token(h.repo_a, false);
    assert_eq!(h.call("POST", &xorb_uri, &read_a, xorb.bytes.clone(), None).await.0, StatusCode::FORBIDDEN);
    let truncated = xorb.bytes[..xorb.bytes.len() - 1].to_vec();
    assert_eq!(h.call("POST", &xorb_uri, &write_a, truncated, None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(h.call("POST", &xorb_uri, "nonsense", xorb.bytes.clone(), None).await.0, StatusCode::UNAUTHORIZED);
    // Nothing refused was stored.
    for hash in [MerkleHash::from_bytes([1; 32]), xorb.index.hash] {
        assert_eq!(h.state.blobs.size(&tessera_cas::xorb_key(&hash)).await.unwrap(), None);
    }

    // Upload, then an idempotent re-upload.
    let (status, body) = h.call("POST", &xorb_uri, &write_a, xorb.bytes.clone(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["was_inserted"], true);
    let (_, body) = h.call("POST", &xorb_uri, &write_a, xorb.bytes.clone(), None).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["was_inserted"], false);

    // A shard with a forged verification hash is refused; the right one registers the file.
    let mut forged = shard.clone();
    forged.files[0].verification = Some(vec![MerkleHash::from_bytes([2; 32])]);
    let (status, body) = h.call("POST", "/v1/shards", &write_a, forged.to_upload_bytes(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    let (status, body) = h.call("POST", "/v1/shards", &write_a, shard.to_upload_bytes(), None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, body) = h.call("POST", "/v2/shards", &write_a, shard.to_upload_bytes(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("\"type\":\"result\""));
    let sha = sha256_hash(&data).to_be_digest();
    assert_eq!(h.state.db.repo_file_by_sha256(h.repo_a, &sha).await.unwrap(), Some((file_hash, data.len() as u64)));

    // Reconstruct a middle range and fetch it through the signed URLs.
    let (first, last) = (100_000u64, 500_000u64);
    let (status, body) = h
        .call(
            "GET",
            &format!("/v2/reconstructions/{file_hash}"),
            &read_a,
            Vec::new(),
            Some(&format!("bytes={first}-{last}")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let mut rebuilt = Vec::new();
    for term in answer["terms"].as_array().unwrap() {
        let fetch = &answer["xorbs"][term["hash"].as_str().unwrap()][0];
        let url = fetch["url"].as_str().unwrap().trim_start_matches("http://127.0.0.1:9");
        let bytes = &fetch["ranges"][0]["bytes"];
        let range = format!("bytes={}-{}", bytes["start"], bytes["end"]);
        let request = Request::get(url).header("range", range).body(Body::empty()).unwrap();
        let (status, serialized) = h.send(request).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        let decoded = decode_chunks(&serialized).unwrap();
        assert_eq!(decoded.len() as u64, term["unpacked_length"].as_u64().unwrap());
        rebuilt.extend(decoded);
    }
    let skip = answer["offset_into_first_range"].as_u64().unwrap() as usize;
    assert_eq!(&rebuilt[skip..skip + (last - first + 1) as usize], &data[first as usize..=last as usize]);

    // A data URL is good only for its own range, and not once tampered with.
    // (The range ends before the xorb does: the last chunk is past byte 500 000.)
    let fetch = &answer["xorbs"][xorb.index.hash.hex()][0];
    let url = fetch["url"].as_str().unwrap().trim_start_matches("http://127.0.0.1:9");
    let signed = &fetch["ranges"][0]["bytes"];
    let beyond = format!("bytes={}-{}", signed["start"], signed["end"].as_u64().unwrap() + 1);
    let (status, _) = h.send(Request::get(url).header("range", beyond).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let tampered = url.replace("sig=", "sig=x");
    assert_eq!(h.send(Request::get(tampered).body(Body::empty()).unwrap()).await.0, StatusCode::FORBIDDEN);

    // v1 answers carry url_range; a start past the end is 416.
    let (status, body) = h.call("GET", &format!("/v1/reconstructions/{file_hash}"), &read_a, Vec::new(), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        serde_json::from_slice::<Value>(&body).unwrap()["fetch_info"][xorb.index.hash.hex()][0]["url_range"]
            .is_object()
    );
    let past = format!("bytes={}-", data.len());
    let (status, _) =
        h.call("GET", &format!("/v2/reconstructions/{file_hash}"), &read_a, Vec::new(), Some(&past)).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);

    // The empty file needs no data.
    let (status, body) =
        h.call("GET", &format!("/v2/reconstructions/{}", MerkleHash::ZERO), &read_a, Vec::new(), None).await;
    assert_eq!(
        (status, serde_json::from_slice::<Value>(&body).unwrap()["terms"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );

    // Another repo's reader cannot reconstruct this file.
    let read_b = h.token(h.repo_b, false);
    let (status, _) = h.call("GET", &format!("/v2/reconstructions/{file_hash}"), &read_b, Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Server-side reads give the same bytes.
    let file: XetFile = h.state.db.xet_file(&file_hash).await.unwrap().unwrap();
    let bytes = tessera_cas::read::read_file_range(&h.state, &file, 12_345, 654_321).await.unwrap();
    assert_eq!(&bytes[..], &data[12_345..654_321]);

    // The file's first chunk is indexed for global dedup: the answer is a keyed, complete shard.
    let first_chunk = xorb.index.chunks[0].hash;
    let (status, body) = h.call("GET", &format!("/v1/chunks/default/{first_chunk}"), &read_b, Vec::new(), None).await;
    assert_eq!(status, StatusCode::OK);
    let answer = parse_shard(&body).unwrap();
    let footer = answer.footer.unwrap();
    assert_ne!(footer.chunk_hash_hmac_key, MerkleHash::ZERO);
    assert_eq!(answer.xorbs[0].chunks[0].hash, first_chunk.hmac(&footer.chunk_hash_hmac_key));
    let unknown = MerkleHash::from_bytes([3; 32]);
    assert_eq!(
        h.call("GET", &format!("/v1/chunks/default/{unknown}"), &read_b, Vec::new(), None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn shard_naming_a_missing_xorb_is_refused() {
    let h = harness().await;
    let (_, shard, _) = xorb_and_shard(&random_bytes(20_000, 5));
    let (status, body) = h.call("POST", "/v1/shards", &h.token(h.repo_a, true), shard.to_upload_bytes(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("never uploaded"));
    let (status, _) = h.call("POST", "/v1/xorb-grants/default/abc", &h.token(h.repo_a, true), Vec::new(), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
