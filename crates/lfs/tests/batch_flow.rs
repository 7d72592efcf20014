//! The LFS batch API through the router: upload with sha256 and size checks,
//! verify, the Xet file it becomes, signed downloads with `Range`, access,
//! the `xet` transfer, and the scoping of objects and hrefs to one repo.

mod common;

use axum::body::Body;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{Request, StatusCode};
use common::{ALICE, ALICE_READ, BOB, PUBLIC_URL, data, harness, local, oid_of};
use sha2::Digest as _;
use tessera_api::time::now_secs;

#[tokio::test]
async fn upload_verify_download() {
    let h = harness().await;
    let bytes = data(300_000, 0);
    let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    let oid = oid_of(&bytes);
    let size = bytes.len() as u64;

    // Access: anonymous callers are asked for credentials, other users see
    // no repo, a read token cannot upload.
    let anonymous = h
        .call(
            "POST",
            "/alice/weights.git/info/lfs/objects/batch",
            None,
            Some(serde_json::json!({
                "operation": "upload", "objects": [{ "oid": oid, "size": size }],
            })),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers[WWW_AUTHENTICATE], "Basic realm=\"Tessera\"");
    assert_eq!(anonymous.headers["content-type"], "application/vnd.git-lfs+json");
    assert!(anonymous.json()["message"].is_string(), "{}", anonymous.json());
    assert_eq!(h.batch(None, "download", &oid, size).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(h.batch(Some("hf_unknown"), "download", &oid, size).await.0, StatusCode::UNAUTHORIZED);
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

#[tokio::test]
async fn xet_transfer_for_uploads() {
    let h = harness().await;
    let stored = data(10_000, 1);
    let stored_oid = h.upload("alice/weights.git", ALICE, &stored).await;
    let fresh_oid = oid_of(b"not stored yet");

    let body = serde_json::json!({
        "operation": "upload", "transfers": ["basic", "multipart", "xet"],
        "ref": { "name": "refs/heads/main" }, "hash_algo": "sha256",
        "objects": [{ "oid": stored_oid, "size": stored.len() }, { "oid": fresh_oid, "size": 14 }],
    });
    let answer = h.call("POST", "/alice/weights/info/lfs/objects/batch", Some(ALICE), Some(body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    let answer = answer.json();
    assert_eq!(answer["transfer"], "xet");
    // Stored objects have nothing to do; the others go to the CAS.
    assert!(answer["objects"][0].get("actions").is_none(), "{answer}");
    let upload = &answer["objects"][1]["actions"]["upload"];
    assert_eq!(upload["href"], format!("{PUBLIC_URL}/api/models/alice/weights/xet-write-token/main"));
    let header = &upload["header"];
    assert_eq!(header["X-Xet-Cas-Url"], PUBLIC_URL);
    let expires_at: i64 = header["X-Xet-Token-Expiration"].as_str().unwrap().parse().unwrap();
    assert!(expires_at > now_secs() + 600, "{header}");
    assert_eq!(header["X-Xet-Session-Id"].as_str().unwrap().len(), 36, "{header}");
    let token = header["X-Xet-Access-Token"].as_str().unwrap();
    let grant = h.state.signer.verify_cas_token(token, now_secs()).unwrap();
    assert_eq!((grant.repo_id, grant.write, grant.expires_at), (h.repo_id, true, expires_at));

    // Another ref names its own token route; datasets get theirs.
    let body = serde_json::json!({
        "operation": "upload", "transfers": ["xet"], "ref": { "name": "refs/heads/dev/x" },
        "objects": [{ "oid": fresh_oid, "size": 14 }],
    });
    let answer = h.call("POST", "/alice/weights.git/info/lfs/objects/batch", Some(ALICE), Some(body)).await.json();
    assert_eq!(
        answer["objects"][0]["actions"]["upload"]["href"],
        format!("{PUBLIC_URL}/api/models/alice/weights/xet-write-token/dev%2Fx")
    );

    // Downloads stay basic; a client offering neither transfer gets a 422.
    let (status, answer) =
        h.batch_on("alice/weights.git", Some(ALICE), "download", &["basic", "xet"], &stored_oid, 10_000).await;
    assert_eq!((status, answer["transfer"].as_str()), (StatusCode::OK, Some("basic")), "{answer}");
    assert!(answer["objects"][0]["actions"]["download"]["href"].is_string(), "{answer}");
    let (status, answer) =
        h.batch_on("alice/weights.git", Some(ALICE), "download", &["xet"], &stored_oid, 10_000).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("basic"), "{answer}");
    let (status, answer) = h.batch_on("alice/weights.git", Some(ALICE), "upload", &["tus"], &fresh_oid, 14).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("basic or xet"), "{answer}");
    // A read token gets no write token.
    let (status, _) = h.batch_on("alice/weights.git", Some(ALICE_READ), "upload", &["xet"], &fresh_oid, 14).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn objects_and_hrefs_are_scoped_to_one_repo() {
    let h = harness().await;
    let secret = data(50_000, 2);
    let secret_oid = h.upload("alice/weights.git", ALICE, &secret).await;
    let size = secret.len() as u64;

    // Bob's public repo does not hold alice's object, whatever its oid.
    let (status, answer) = h.batch_on("bob/shared.git", Some(BOB), "download", &["basic"], &secret_oid, size).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["objects"][0]["error"]["code"], 404, "{answer}");
    assert!(answer["objects"][0].get("actions").is_none(), "{answer}");
    // Uploading it there is not skipped: bob must send the bytes himself.
    let (_, answer) = h.batch_on("bob/shared.git", Some(BOB), "upload", &["basic"], &secret_oid, size).await;
    let bob_upload = local(answer["objects"][0]["actions"]["upload"]["href"].as_str().unwrap()).to_owned();
    let (_, answer) = h.batch_on("bob/shared.git", Some(BOB), "upload", &["xet"], &secret_oid, size).await;
    assert!(answer["objects"][0]["actions"]["upload"].is_object(), "{answer}");

    // Bob's hrefs, pointed at alice's repo, are refused.
    let alice_repo = format!("/{}/", h.repo_id);
    let bob_repo = format!("/{}/", h.bob_repo_id);
    let forged = bob_upload.replacen(&bob_repo, &alice_repo, 1);
    assert_ne!(forged, bob_upload);
    let (status, _) = h.send(Request::put(&forged).body(Body::from(data(50_000, 3))).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.send(Request::put(&forged).body(Body::from(secret.clone())).unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let own = data(20_000, 4);
    let own_oid = h.upload("bob/shared.git", BOB, &own).await;
    let (_, answer) = h.batch_on("bob/shared.git", Some(BOB), "download", &["basic"], &own_oid, 20_000).await;
    let bob_download = local(answer["objects"][0]["actions"]["download"]["href"].as_str().unwrap()).to_owned();
    for forged in [
        bob_download.replacen(&bob_repo, &alice_repo, 1),
        bob_download.replace(&own_oid, &secret_oid),
        bob_download.replace(&own_oid, &secret_oid).replace("size=20000", &format!("size={size}")),
        bob_download.replacen(&bob_repo, &alice_repo, 1).replace(&own_oid, &secret_oid),
    ] {
        let (status, body) = h.send(Request::get(&forged).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{forged}: {}", String::from_utf8_lossy(&body));
    }
    let verify_forged = bob_upload.replace("/api/lfs/objects/", "/api/lfs/verify/").replacen(&bob_repo, &alice_repo, 1);
    assert_eq!(h.send(Request::post(&verify_forged).body(Body::empty()).unwrap()).await.0, StatusCode::FORBIDDEN);
    // An upload href is no download href.
    assert_eq!(h.send(Request::get(&bob_upload).body(Body::empty()).unwrap()).await.0, StatusCode::FORBIDDEN);

    // Bob's own copy, sent with his own href, lands in his repo only, and
    // alice's object is untouched.
    let (status, _) = h.send(Request::put(&bob_upload).body(Body::from(secret.clone())).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let digest: [u8; 32] = sha2::Sha256::digest(&secret).into();
    assert!(h.state.db.repo_file_by_sha256(h.bob_repo_id, &digest).await.unwrap().is_some());
    let (_, answer) = h.batch(Some(ALICE), "download", &secret_oid, size).await;
    let alice_download = local(answer["objects"][0]["actions"]["download"]["href"].as_str().unwrap()).to_owned();
    let (status, body) = h.send(Request::get(&alice_download).body(Body::empty()).unwrap()).await;
    assert_eq!((status, body == secret), (StatusCode::OK, true));
}
