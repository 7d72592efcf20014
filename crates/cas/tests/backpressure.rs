//! Backpressure on xorb uploads: past the per-process cap an upload is
//! answered 503 with `Retry-After` (which hf_xet retries), stores nothing,
//! and succeeds once a permit is free again.

use std::sync::Arc;

use axum::body::Body;
use axum::http::header::RETRY_AFTER;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tessera_api::AppState;
use tessera_api::signing::CasGrant;
use tessera_db::{MetadataStore, NewRepo, RepoType, SqlStore, TokenScope};
use tessera_formats::xorb::XorbBuilder;
use tessera_storage::LocalBlobStore;
use tower::ServiceExt as _;

#[tokio::test]
async fn uploads_past_the_cap_get_503_with_retry_after_then_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqlStore::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
    let user = db.create_user("alice", false).await.unwrap();
    let repo = NewRepo {
        repo_type: RepoType::Model,
        namespace: "alice".into(),
        name: "m".into(),
        private: false,
        owner_id: user.id,
        creator_id: user.id,
        created_at: 0,
    };
    let repo_id = db.create_repo(&repo).await.unwrap().id;
    let token_id = db.create_token(user.id, "w", b"alice-token", TokenScope::Write, &[]).await.unwrap().id;
    let blobs = LocalBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let state = AppState::new(Arc::new(db), Arc::new(blobs), "http://127.0.0.1:9".into(), b"test secret", 1);
    let router = tessera_cas::router().with_state(state.clone());
    let token =
        state.signer.cas_token(&CasGrant { repo_id, write: true, token_id: Some(token_id), expires_at: i64::MAX });

    let mut builder = XorbBuilder::new();
    builder.add_chunk(b"backpressure test chunk").unwrap();
    let xorb = builder.finish().unwrap();
    let upload = || {
        Request::builder()
            .method("POST")
            .uri(format!("/v1/xorbs/default/{}", xorb.index.hash))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(xorb.bytes.clone()))
            .unwrap()
    };

    // Another upload holds the only permit.
    let held = state.xorb_uploads.try_acquire().unwrap();
    let response = router.clone().oneshot(upload()).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "1");
    assert_eq!(state.db.xorb(&xorb.index.hash).await.unwrap(), None);
    assert_eq!(state.blobs.size(&tessera_cas::xorb_key(&xorb.index.hash)).await.unwrap(), None);

    // Once it finishes, the retry goes through and gives its permit back.
    drop(held);
    let response = router.clone().oneshot(upload()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["was_inserted"], true);
    assert_eq!(state.xorb_uploads.available_permits(), 1);
}
