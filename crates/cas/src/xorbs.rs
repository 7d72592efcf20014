//! Xorb upload: the body is validated (every chunk decoded and hashed, the
//! xorb hash recomputed and compared with the URL), stored, then indexed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};
use tessera_api::time::now_ms;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_formats::MerkleHash;
use tessera_formats::xorb::verify_xorb;

use crate::auth::CasAuth;
use crate::xorb_key;

/// Parses a hash path segment (400 if malformed).
pub fn parse_hash(text: &str) -> ApiResult<MerkleHash> {
    MerkleHash::from_hex(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `POST /v1/xorbs/{prefix}/{hash}` → `{"was_inserted": bool}`.
pub async fn upload(
    State(state): State<AppState>,
    auth: CasAuth,
    Path((_prefix, hash)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    auth.require_write()?;
    let hash = parse_hash(&hash)?;
    if state.db.xorb(&hash).await?.is_some() {
        return Ok(Json(json!({ "was_inserted": false })));
    }
    let to_verify = body.clone();
    let index =
        tokio::task::spawn_blocking(move || verify_xorb(&to_verify, &hash)).await.map_err(ApiError::internal)??;
    // Blob first, then the row: the DB never names a xorb the store lacks.
    state.blobs.put(&xorb_key(&hash), body).await?;
    let inserted = state.db.insert_xorb(&index, now_ms()).await?;
    tracing::info!(xorb.hash = %hash, xorb.chunks = index.chunks.len(), size_bytes = index.serialized_len(), "xorb stored");
    Ok(Json(json!({ "was_inserted": inserted })))
}

/// `HEAD /v1/xorbs/{prefix}/{hash}`: 200 with the stored size, or 404.
pub async fn head(
    State(state): State<AppState>,
    _auth: CasAuth,
    Path((_prefix, hash)): Path<(String, String)>,
) -> ApiResult<(StatusCode, [(axum::http::HeaderName, String); 1])> {
    let hash = parse_hash(&hash)?;
    let index = state.db.xorb(&hash).await?.ok_or_else(|| ApiError::NotFound("no such xorb".into()))?;
    Ok((StatusCode::OK, [(axum::http::header::CONTENT_LENGTH, index.serialized_len().to_string())]))
}
