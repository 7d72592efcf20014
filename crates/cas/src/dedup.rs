//! Global dedup: `GET /v1/chunks/{prefix}/{chunk}` answers, for a chunk the
//! CAS has indexed, a complete shard (with footer) describing the xorbs worth
//! offering (the chunk's own, and for a file's first chunk all of that file's
//! xorbs), their chunk hashes keyed with a fresh random HMAC key so the
//! client can match chunks it has without learning others.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use tessera_api::time::now_secs;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_formats::MerkleHash;
use tessera_formats::shard::{FooterOptions, Shard, XorbEntry};

use crate::auth::CasAuth;
use crate::xorbs::parse_hash;

/// Most xorbs one dedup answer describes.
pub const MAX_XORBS_PER_DEDUP_ANSWER: usize = 32;

/// How long clients may keep a dedup answer in their shard cache.
const DEDUP_SHARD_LIFETIME_SECS: i64 = 14 * 24 * 3600;

/// Answers a dedup query: a keyed shard, or 404.
pub async fn query(
    State(state): State<AppState>,
    _auth: CasAuth,
    Path((_prefix, chunk)): Path<(String, String)>,
) -> ApiResult<Response> {
    let chunk = parse_hash(&chunk)?;
    let not_found = || ApiError::NotFound("chunk not indexed".into());
    let offered = state.db.dedup_xorbs(&chunk, MAX_XORBS_PER_DEDUP_ANSWER as i64).await?;
    let mut xorbs = Vec::with_capacity(offered.len());
    for xorb_hash in offered {
        if let Some(index) = state.db.xorb(&xorb_hash).await? {
            xorbs.push(XorbEntry::from(&index));
        }
    }
    if xorbs.is_empty() {
        return Err(not_found());
    }
    let shard = Shard { files: Vec::new(), xorbs, footer: None };
    let now = now_secs();
    let options = FooterOptions {
        hmac_key: Some(MerkleHash::from_bytes(rand::random())),
        creation_timestamp: now as u64,
        key_expiry: (now + DEDUP_SHARD_LIFETIME_SECS) as u64,
    };
    Ok(([(CONTENT_TYPE, "application/octet-stream")], shard.to_complete_bytes(&options)).into_response())
}
