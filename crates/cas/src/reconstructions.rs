//! File reconstruction: which chunk ranges of which xorbs make up a byte
//! range of a file, and signed URLs to fetch exactly those bytes.
//!
//! Chunks wholly outside the requested range are dropped; term boundaries
//! are kept as stored. Each term's chunk range lies inside one fetch range:
//! per xorb, the ranges are merged when they overlap or touch, and each
//! merged range gets its own signed URL covering exactly its bytes.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::RANGE;
use serde_json::{Value, json};
use tessera_api::time::now_secs;
use tessera_api::{ApiError, ApiResult, AppState, range};
use tessera_db::XetFile;
use tessera_formats::MerkleHash;
use tessera_formats::xorb::XorbIndex;

use crate::auth::CasAuth;
use crate::xorb_key;
use crate::xorbs::parse_hash;

/// One term of a reconstruction answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedTerm {
    /// The xorb.
    pub xorb: MerkleHash,
    /// First chunk.
    pub chunk_start: u32,
    /// Chunk just past the range.
    pub chunk_end: u32,
    /// Uncompressed bytes of those chunks.
    pub unpacked_length: u64,
}

/// A contiguous run of chunks to fetch from one xorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchRange {
    /// The xorb.
    pub xorb: MerkleHash,
    /// Chunk range, end-exclusive.
    pub chunks: (u32, u32),
    /// Serialized byte range, end-inclusive.
    pub bytes: (u64, u64),
}

/// How to rebuild bytes `first..=last` of a file.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Bytes to skip at the start of the first term.
    pub offset_into_first_range: u64,
    /// The terms, in file order.
    pub terms: Vec<PlannedTerm>,
    /// Fetch ranges, sorted per xorb by chunk start.
    pub fetches: Vec<FetchRange>,
}

/// Loads the chunk tables of the file's xorbs.
pub async fn load_xorbs(state: &AppState, file: &XetFile) -> ApiResult<HashMap<MerkleHash, XorbIndex>> {
    let mut xorbs = HashMap::new();
    for term in &file.terms {
        if let Entry::Vacant(slot) = xorbs.entry(term.xorb_hash) {
            let index = state.db.xorb(&term.xorb_hash).await?.ok_or_else(|| {
                ApiError::internal(format!("file {} names missing xorb {}", file.hash, term.xorb_hash))
            })?;
            slot.insert(index);
        }
    }
    Ok(xorbs)
}

/// Plans the reconstruction of bytes `first..=last` (already clamped to the file).
pub fn plan(file: &XetFile, xorbs: &HashMap<MerkleHash, XorbIndex>, first: u64, last: u64) -> ApiResult<Plan> {
    let mut result = Plan::default();
    let mut offset = 0u64;
    let mut first_chunk_offset = None;
    for term in &file.terms {
        if offset > last {
            break;
        }
        let index = &xorbs[&term.xorb_hash];
        let chunks = index
            .chunks
            .get(term.chunk_start as usize..term.chunk_end as usize)
            .ok_or_else(|| ApiError::internal(format!("term out of bounds in file {}", file.hash)))?;
        let mut kept: Option<(u32, u32)> = None;
        let mut unpacked_length = 0;
        for (position, chunk) in chunks.iter().enumerate() {
            let length = u64::from(chunk.uncompressed_len);
            if offset + length > first && offset <= last {
                let chunk_index = term.chunk_start + position as u32;
                first_chunk_offset.get_or_insert(offset);
                kept = Some((kept.map_or(chunk_index, |k| k.0), chunk_index + 1));
                unpacked_length += length;
            }
            offset += length;
        }
        if let Some((chunk_start, chunk_end)) = kept {
            result.terms.push(PlannedTerm { xorb: term.xorb_hash, chunk_start, chunk_end, unpacked_length });
        }
    }
    result.offset_into_first_range = first - first_chunk_offset.unwrap_or(first);

    let mut per_xorb: HashMap<MerkleHash, Vec<(u32, u32)>> = HashMap::new();
    for term in &result.terms {
        per_xorb.entry(term.xorb).or_default().push((term.chunk_start, term.chunk_end));
    }
    let mut xorb_order: Vec<MerkleHash> = Vec::new();
    for term in &result.terms {
        if !xorb_order.contains(&term.xorb) {
            xorb_order.push(term.xorb);
        }
    }
    for xorb in xorb_order {
        let mut ranges = per_xorb.remove(&xorb).unwrap_or_default();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for range in ranges {
            match merged.last_mut() {
                Some(current) if range.0 <= current.1 => current.1 = current.1.max(range.1),
                _ => merged.push(range),
            }
        }
        let index = &xorbs[&xorb];
        for (start, end) in merged {
            let bytes = index
                .byte_range(start as usize..end as usize)
                .ok_or_else(|| ApiError::internal(format!("chunk range {start}..{end} outside xorb {xorb}")))?;
            result.fetches.push(FetchRange { xorb, chunks: (start, end), bytes: (bytes.start, bytes.end - 1) });
        }
    }
    Ok(result)
}

/// A URL that serves `range` of the xorb without credentials until it expires:
/// the blob store's own presigned URL when it has one, else ours.
async fn fetch_url(state: &AppState, range: &FetchRange) -> ApiResult<String> {
    let ttl = std::time::Duration::from_secs(state.data_url_ttl_secs as u64);
    if let Some(url) = state.blobs.presigned_get(&xorb_key(&range.xorb), ttl).await? {
        return Ok(url);
    }
    let expires_at = now_secs() + state.data_url_ttl_secs;
    let (start, end) = range.bytes;
    let signature = state.signer.data_url_signature(&range.xorb, start, end, expires_at);
    Ok(state.url(&format!("/v1/xorb-data/{}?start={start}&end={end}&exp={expires_at}&sig={signature}", range.xorb)))
}

/// The file and the planned byte range for a request, or `None` for an empty answer.
async fn plan_request(state: &AppState, auth: &CasAuth, file: &str, headers: &HeaderMap) -> ApiResult<Option<Plan>> {
    let hash = parse_hash(file)?;
    let range_header = headers.get(RANGE).and_then(|v| v.to_str().ok());
    if hash == MerkleHash::ZERO {
        // The empty file: an empty answer from offset 0, nothing beyond.
        return if range_starts_at_zero(range_header) {
            Ok(None)
        } else {
            Err(ApiError::RangeNotSatisfiable { size: 0 })
        };
    }
    if !state.db.repo_has_file(auth.0.repo_id, &hash).await? {
        return Err(ApiError::NotFound(format!("file {hash} not found")));
    }
    let file = state.db.xet_file(&hash).await?.ok_or_else(|| ApiError::NotFound(format!("file {hash} not found")))?;
    let (first, last) = match range_header.map(|header| range::resolve(header, file.size)).transpose()?.flatten() {
        Some(range) => range,
        None if file.size == 0 => return Ok(None),
        None => (0, file.size - 1),
    };
    let xorbs = load_xorbs(state, &file).await?;
    Ok(Some(plan(&file, &xorbs, first, last)?))
}

fn range_starts_at_zero(header: Option<&str>) -> bool {
    header.is_none_or(|h| h.trim().strip_prefix("bytes=").is_some_and(|spec| spec.starts_with("0-")))
}

fn terms_json(plan: &Plan) -> Value {
    plan.terms
        .iter()
        .map(|t| {
            json!({
                "hash": t.xorb.hex(),
                "unpacked_length": t.unpacked_length,
                "range": { "start": t.chunk_start, "end": t.chunk_end },
            })
        })
        .collect()
}

/// The two shapes of a reconstruction answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// `fetch_info`: one URL per chunk range, with `url_range`.
    V1,
    /// `xorbs`: URLs with lists of chunk and byte ranges.
    V2,
}

/// Answers a reconstruction query in the shape of `version`.
async fn answer(
    state: &AppState,
    auth: &CasAuth,
    file: &str,
    headers: &HeaderMap,
    version: Version,
) -> ApiResult<Json<Value>> {
    let fetch_key = match version {
        Version::V1 => "fetch_info",
        Version::V2 => "xorbs",
    };
    let plan = plan_request(state, auth, file, headers).await?.unwrap_or_default();
    let mut per_xorb: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for fetch in &plan.fetches {
        let url = fetch_url(state, fetch).await?;
        let chunks = json!({ "start": fetch.chunks.0, "end": fetch.chunks.1 });
        let bytes = json!({ "start": fetch.bytes.0, "end": fetch.bytes.1 });
        let entry = match version {
            Version::V1 => json!({ "range": chunks, "url": url, "url_range": bytes }),
            Version::V2 => json!({ "url": url, "ranges": [{ "chunks": chunks, "bytes": bytes }] }),
        };
        per_xorb.entry(fetch.xorb.hex()).or_default().push(entry);
    }
    Ok(Json(json!({
        "offset_into_first_range": plan.offset_into_first_range,
        "terms": terms_json(&plan),
        fetch_key: per_xorb,
    })))
}

/// `GET /v1/reconstructions/{file}`.
pub async fn get_v1(
    State(state): State<AppState>,
    auth: CasAuth,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    answer(&state, &auth, &file, &headers, Version::V1).await
}

/// `GET /v2/reconstructions/{file}`.
pub async fn get_v2(
    State(state): State<AppState>,
    auth: CasAuth,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    answer(&state, &auth, &file, &headers, Version::V2).await
}
