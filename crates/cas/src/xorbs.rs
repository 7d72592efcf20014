//! Xorb upload: the body is validated as it streams into the blob store
//! (every chunk decoded and hashed, the xorb hash recomputed and compared
//! with the URL), then indexed. Uploads in flight are capped per process;
//! past the cap the answer is 503 with `Retry-After`, which hf_xet retries.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tessera_api::metrics;
use tessera_api::time::now_ms;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_formats::xorb::{XorbIndex, XorbParser};
use tessera_formats::{FormatError, MerkleHash};

use crate::auth::CasAuth;
use crate::xorb_key;

/// `Retry-After` seconds when the upload cap is reached.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Parses a hash path segment (400 if malformed).
pub fn parse_hash(text: &str) -> ApiResult<MerkleHash> {
    MerkleHash::from_hex(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `POST /v1/xorbs/{prefix}/{hash}` → `{"was_inserted": bool}`.
///
/// The body streams through a [`XorbParser`] into the blob store: memory
/// stays at one chunk, and the object appears only if the whole body is a
/// valid xorb with the hash it was uploaded under. At most
/// `App::xorb_uploads` uploads stream at once; past that the answer is 503
/// with `Retry-After: 1`.
pub async fn upload(
    State(state): State<AppState>,
    auth: CasAuth,
    Path((_prefix, hash)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Json<Value>> {
    auth.require_write()?;
    let hash = parse_hash(&hash)?;
    if state.db.xorb(&hash).await?.is_some() {
        return Ok(Json(json!({ "was_inserted": false })));
    }
    // Backpressure: past the per-process cap, refuse now rather than queue
    // bodies in memory and on disk; hf_xet retries 503 after `Retry-After`.
    let Ok(_permit) = state.xorb_uploads.try_acquire() else {
        metrics::xorb_upload_rejected_busy();
        tracing::debug!(xorb.hash = %hash, "xorb upload refused: upload cap reached");
        return Err(ApiError::Busy { retry_after: BUSY_RETRY_AFTER_SECS });
    };
    let outcome: Arc<Mutex<Option<Result<XorbIndex, FormatError>>>> = Arc::default();
    let validated = validating_stream(body, hash, Arc::clone(&outcome));
    let stored = state.blobs.put_stream(&xorb_key(&hash), validated).await;
    let verdict = outcome.lock().map_err(|_| ApiError::internal("xorb validation state poisoned"))?.take();
    let index = match (stored, verdict) {
        (Ok(_), Some(Ok(index))) => index,
        (_, Some(Err(invalid))) => return Err(invalid.into()),
        (Err(storage), _) => return Err(storage.into()),
        (Ok(_), None) => return Err(ApiError::internal("xorb stream ended without a verdict")),
    };
    // Blob first, then the row: the DB never names a xorb the store lacks.
    let inserted = state.db.insert_xorb(&index, now_ms()).await?;
    if inserted {
        metrics::xorb_stored(index.serialized_len());
    }
    tracing::info!(xorb.hash = %hash, xorb.chunks = index.chunks.len(), size_bytes = index.serialized_len(), "xorb stored");
    Ok(Json(json!({ "was_inserted": inserted })))
}

/// The request body, passed through unchanged while a parser validates it.
/// At the end the verdict lands in `outcome`; an invalid body ends the stream
/// with an error, so the blob store discards what it wrote.
fn validating_stream(
    body: Body,
    expected: MerkleHash,
    outcome: Arc<Mutex<Option<Result<XorbIndex, FormatError>>>>,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let invalid = |error: FormatError| std::io::Error::new(std::io::ErrorKind::InvalidData, error);
    let record = move |verdict: Result<XorbIndex, FormatError>| {
        if let Ok(mut slot) = outcome.lock() {
            *slot = Some(verdict);
        }
    };
    futures::stream::unfold(
        (body.into_data_stream(), Some(XorbParser::new()), record),
        move |(mut body, parser, record)| async move {
            let mut parser = parser?;
            match body.next().await {
                Some(Ok(piece)) => match parser.update(&piece) {
                    Ok(()) => Some((Ok(piece), (body, Some(parser), record))),
                    Err(error) => {
                        record(Err(error.clone()));
                        Some((Err(invalid(error)), (body, None, record)))
                    }
                },
                Some(Err(error)) => Some((Err(std::io::Error::other(error)), (body, None, record))),
                None => {
                    let verdict = parser.finish().and_then(|index| {
                        if index.hash == expected {
                            Ok(index)
                        } else {
                            Err(FormatError::XorbHashMismatch { expected, computed: index.hash })
                        }
                    });
                    let failure = verdict.as_ref().err().cloned();
                    record(verdict);
                    failure.map(|error| (Err(invalid(error)), (body, None, record)))
                }
            }
        },
    )
    .boxed()
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
