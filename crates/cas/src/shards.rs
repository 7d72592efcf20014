//! Shard upload. A shard is accepted only if it is fully consistent with
//! what the CAS holds: every referenced xorb exists, every term's chunk range
//! is in bounds with the right byte count, every term carries a verification
//! hash that proves the uploader knew the chunk hashes, and every file hash
//! recomputes from its chunks. Then each file is registered for the
//! uploading repo (with its claimed sha256) and eligible chunks are indexed
//! for global dedup. Terms that reference xorbs the shard did not upload
//! count as deduplicated bytes (`dedup_bytes_saved_total`).

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tessera_api::metrics;
use tessera_api::time::now_ms;
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::XetFile;
use tessera_formats::MerkleHash;
use tessera_formats::hash::{file_hash, range_hash};
use tessera_formats::shard::{Shard, parse_shard};
use tessera_formats::xorb::XorbIndex;

use crate::auth::CasAuth;
use crate::dedup::MAX_XORBS_PER_DEDUP_ANSWER;

/// `POST /v1/shards` → `{"result": 1}`.
pub async fn upload_v1(State(state): State<AppState>, auth: CasAuth, body: Bytes) -> ApiResult<Json<Value>> {
    let repo_id = auth.require_write()?.repo_id;
    register(&state, repo_id, body).await?;
    Ok(Json(json!({ "result": 1 })))
}

/// `POST /v2/shards` → NDJSON ending in a `result` frame (or an `error` frame).
pub async fn upload_v2(State(state): State<AppState>, auth: CasAuth, body: Bytes) -> ApiResult<Response> {
    let repo_id = auth.require_write()?.repo_id;
    let frame = match register(&state, repo_id, body).await {
        Ok(files) => json!({ "type": "result", "result": 1, "files": files }),
        Err(ApiError::BadRequest(message)) => json!({ "type": "error", "message": message, "retryable": false }),
        Err(other) => return Err(other),
    };
    Ok(([(CONTENT_TYPE, "application/x-ndjson")], format!("{frame}\n")).into_response())
}

/// Validates and records a shard; returns how many files it registered.
async fn register(state: &AppState, repo_id: i64, body: Bytes) -> ApiResult<usize> {
    let shard = tokio::task::spawn_blocking(move || parse_shard(&body)).await.map_err(ApiError::internal)??;
    let xorbs = load_xorbs(state, &shard).await?;
    let files = validate_files(&shard, &xorbs)?;

    let now = now_ms();
    let mut dedup = Vec::new();
    for (file, sha256) in &files {
        state.db.register_file(repo_id, file, sha256.as_ref(), now).await?;
        // A client that has a file's first chunk likely has the rest of the file:
        // offer it every xorb the file uses.
        if let Some(first) = file.terms.first() {
            let first_chunk = xorbs[&first.xorb_hash].chunks[first.chunk_start as usize].hash;
            let mut file_xorbs: Vec<MerkleHash> = file.terms.iter().map(|t| t.xorb_hash).collect();
            file_xorbs.sort_unstable();
            file_xorbs.dedup();
            dedup.extend(file_xorbs.into_iter().take(MAX_XORBS_PER_DEDUP_ANSWER).map(|xorb| (first_chunk, xorb)));
        }
    }
    for entry in &shard.xorbs {
        let index = &xorbs[&entry.xorb_hash];
        dedup.extend(index.chunks.iter().filter(|c| c.hash.is_global_dedup_eligible()).map(|c| (c.hash, index.hash)));
    }
    state.db.add_dedup_chunks(&dedup).await?;
    let saved = deduplicated_bytes(&shard);
    metrics::dedup_bytes_saved(saved);
    tracing::info!(
        repo.id = repo_id,
        shard.files = files.len(),
        shard.xorbs = shard.xorbs.len(),
        dedup_bytes = saved,
        "shard registered"
    );
    Ok(files.len())
}

/// File bytes the shard registers without having uploaded them: the bytes of
/// every term that references a xorb not listed in the shard's own xorb
/// section, i.e. content the CAS already held (deduplicated).
fn deduplicated_bytes(shard: &Shard) -> u64 {
    let uploaded: HashSet<MerkleHash> = shard.xorbs.iter().map(|x| x.xorb_hash).collect();
    shard
        .files
        .iter()
        .flat_map(|file| &file.terms)
        .filter(|term| !uploaded.contains(&term.xorb_hash))
        .map(|term| u64::from(term.unpacked_bytes))
        .sum()
}

/// The chunk tables of every xorb the shard names; 400 if one is unknown.
async fn load_xorbs(state: &AppState, shard: &Shard) -> ApiResult<HashMap<MerkleHash, XorbIndex>> {
    let named: Vec<MerkleHash> = shard
        .files
        .iter()
        .flat_map(|f| f.terms.iter().map(|t| t.xorb_hash))
        .chain(shard.xorbs.iter().map(|x| x.xorb_hash))
        .collect();
    let mut xorbs = HashMap::new();
    for hash in named {
        if xorbs.contains_key(&hash) {
            continue;
        }
        let index =
            state.db.xorb(&hash).await?.ok_or_else(|| {
                ApiError::BadRequest(format!("shard references xorb {hash}, which was never uploaded"))
            })?;
        xorbs.insert(hash, index);
    }
    Ok(xorbs)
}

/// Checks every file of the shard against the stored chunk tables.
fn validate_files(
    shard: &Shard,
    xorbs: &HashMap<MerkleHash, XorbIndex>,
) -> ApiResult<Vec<(XetFile, Option<MerkleHash>)>> {
    let bad = |message: String| ApiError::BadRequest(message);
    let mut files = Vec::with_capacity(shard.files.len());
    for entry in &shard.files {
        let Some(verification) = &entry.verification else {
            return Err(bad(format!("file {} has no verification entries", entry.file_hash)));
        };
        let mut leaves = Vec::new();
        for (term, range_proof) in entry.terms.iter().zip(verification) {
            let index = &xorbs[&term.xorb_hash];
            let (start, end) = (term.chunk_start as usize, term.chunk_end as usize);
            if end > index.chunks.len() {
                return Err(bad(format!(
                    "file {} term {}..{} exceeds the {} chunks of xorb {}",
                    entry.file_hash,
                    start,
                    end,
                    index.chunks.len(),
                    term.xorb_hash
                )));
            }
            let chunks = &index.chunks[start..end];
            let bytes: u64 = chunks.iter().map(|c| u64::from(c.uncompressed_len)).sum();
            if bytes != u64::from(term.unpacked_bytes) {
                return Err(bad(format!(
                    "file {} term {}..{} of xorb {} holds {bytes} bytes, shard says {}",
                    entry.file_hash, start, end, term.xorb_hash, term.unpacked_bytes
                )));
            }
            let hashes: Vec<MerkleHash> = chunks.iter().map(|c| c.hash).collect();
            if range_hash(&hashes) != *range_proof {
                return Err(bad(format!(
                    "file {} term {}..{} of xorb {}: verification hash does not match",
                    entry.file_hash, start, end, term.xorb_hash
                )));
            }
            leaves.extend(chunks.iter().map(|c| (c.hash, u64::from(c.uncompressed_len))));
        }
        let computed = file_hash(&leaves);
        if computed != entry.file_hash {
            return Err(bad(format!("file hash {} does not match its chunks ({computed})", entry.file_hash)));
        }
        // hf_xet sends an all-zero sha256 when it computed none.
        let sha256 = entry.sha256.filter(|sha| *sha != MerkleHash::ZERO);
        files.push((XetFile { hash: entry.file_hash, size: entry.size(), terms: entry.terms.clone() }, sha256));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use tessera_formats::shard::{FileEntry, FileTerm, XorbEntry};

    use super::*;

    fn term(xorb: u8, bytes: u32) -> FileTerm {
        FileTerm {
            xorb_hash: MerkleHash::from_bytes([xorb; 32]),
            xorb_flags: 0,
            unpacked_bytes: bytes,
            chunk_start: 0,
            chunk_end: 1,
        }
    }

    #[test]
    fn only_terms_of_xorbs_not_uploaded_with_the_shard_count_as_saved() {
        let file = |terms| FileEntry { file_hash: MerkleHash::ZERO, terms, verification: None, sha256: None };
        let shard = Shard {
            files: vec![file(vec![term(1, 100), term(2, 20)]), file(vec![term(2, 3), term(1, 7)])],
            xorbs: vec![XorbEntry {
                xorb_hash: MerkleHash::from_bytes([1; 32]),
                xorb_flags: 0,
                num_bytes: 0,
                num_bytes_on_disk: 0,
                chunks: Vec::new(),
            }],
            footer: None,
        };
        assert_eq!(deduplicated_bytes(&shard), 23);
        assert_eq!(deduplicated_bytes(&Shard { xorbs: Vec::new(), ..shard.clone() }), 130);
    }
}
