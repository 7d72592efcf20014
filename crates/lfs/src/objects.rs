//! The signed object hrefs of the batch answer.
//!
//! An upload streams the object through the Xet chunker into new xorbs (each
//! stored and indexed like an uploaded one), checks its sha256 and size
//! against the href, and registers it as a Xet file of the repo under that
//! sha256. Nothing is registered when the bytes do not match.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde::Deserialize;
use sha2::Digest as _;
use tessera_api::access::{RepoAction, recheck};
use tessera_api::signing::{LfsHref, SignatureError};
use tessera_api::time::{now_ms, now_secs};
use tessera_api::{ApiError, ApiResult, AppState, range};
use tessera_cas::read::read_file_range;
use tessera_cas::xorb_key;
use tessera_db::XetFile;
use tessera_formats::MerkleHash;
use tessera_formats::file::FileHasher;
use tessera_formats::git::parse_lfs_oid;
use tessera_formats::shard::FileTerm;
use tessera_formats::xorb::XorbBuilder;

/// Bytes read from the CAS per step of a download.
const DOWNLOAD_WINDOW: u64 = 16 * 1024 * 1024;

/// The signed query of an object href. No `Debug`: the signature is a capability.
#[derive(Deserialize)]
pub struct Signed {
    size: u64,
    /// The user token the batch request came with, `-` when anonymous.
    tok: String,
    exp: i64,
    sig: String,
}

/// Checks an href's signature, then asks the access rule again for the
/// token it was issued to (a revoked token or a disabled user's, or a lost
/// right, stops it at once); returns the object's sha256.
async fn check(state: &AppState, action: &str, repo_id: i64, oid: &str, signed: &Signed) -> ApiResult<[u8; 32]> {
    let invalid = || ApiError::Forbidden("invalid LFS link signature".into());
    let token_id = match signed.tok.as_str() {
        "-" => None,
        id => Some(id.parse::<i64>().map_err(|_| invalid())?),
    };
    let href = LfsHref { action, repo_id, token_id, oid, size: signed.size, expires_at: signed.exp };
    match state.signer.verify_lfs(&href, &signed.sig, now_secs()) {
        Ok(()) => {}
        Err(SignatureError::Expired) => return Err(ApiError::Forbidden("LFS link expired".into())),
        Err(SignatureError::Invalid) => return Err(invalid()),
    }
    let need = if action == "download" { RepoAction::Download } else { RepoAction::Write };
    recheck(state, token_id, repo_id, need).await?;
    parse_lfs_oid(oid).ok_or_else(|| ApiError::BadRequest("invalid oid".into()))
}

/// Chunks an object into xorbs as it streams in.
struct Ingest {
    hasher: FileHasher,
    sha256: sha2::Sha256,
    size: u64,
    xorb: XorbBuilder,
    terms: Vec<FileTerm>,
}

impl Ingest {
    /// Stores the xorb being built (if any) and records its term.
    async fn flush(&mut self, state: &AppState) -> ApiResult<()> {
        if self.xorb.is_empty() {
            return Ok(());
        }
        let xorb = std::mem::take(&mut self.xorb).finish()?;
        let index = xorb.index;
        if state.db.xorb(&index.hash).await?.is_none() {
            // Blob first, then the row: the DB never names a xorb the store lacks.
            state.blobs.put(&xorb_key(&index.hash), xorb.bytes.into()).await?;
            state.db.insert_xorb(&index, now_ms()).await?;
        }
        self.terms.push(FileTerm {
            xorb_hash: index.hash,
            xorb_flags: 0,
            unpacked_bytes: index.uncompressed_len() as u32,
            chunk_start: 0,
            chunk_end: index.chunks.len() as u32,
        });
        Ok(())
    }

    async fn add_chunks(&mut self, state: &AppState, chunks: Vec<Vec<u8>>) -> ApiResult<()> {
        for chunk in chunks {
            if !self.xorb.fits(chunk.len()) {
                self.flush(state).await?;
            }
            self.xorb.add_chunk(&chunk)?;
        }
        Ok(())
    }
}

/// `PUT /api/lfs/objects/{repo_id}/{oid}`: the object's bytes.
pub async fn upload(
    State(state): State<AppState>,
    Path((repo_id, oid)): Path<(i64, String)>,
    Query(signed): Query<Signed>,
    body: Body,
) -> ApiResult<StatusCode> {
    let digest = check(&state, "upload", repo_id, &oid, &signed).await?;
    let mut ingest = Ingest {
        hasher: FileHasher::new(),
        sha256: sha2::Sha256::new(),
        size: 0,
        xorb: XorbBuilder::new(),
        terms: Vec::new(),
    };
    let mut stream = body.into_data_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|error| ApiError::BadRequest(format!("upload interrupted: {error}")))?;
        ingest.size += piece.len() as u64;
        if ingest.size > signed.size {
            return Err(ApiError::BadRequest(format!("object is larger than the declared {} bytes", signed.size)));
        }
        ingest.sha256.update(&piece);
        let mut chunks = Vec::new();
        ingest.hasher.update_with(&piece, |chunk, _| chunks.push(chunk.to_vec()));
        ingest.add_chunks(&state, chunks).await?;
    }
    let mut last = Vec::new();
    let hasher = std::mem::take(&mut ingest.hasher);
    let file = hasher.finish_with(|chunk, _| last.push(chunk.to_vec()));
    ingest.add_chunks(&state, last).await?;
    ingest.flush(&state).await?;

    let computed: [u8; 32] = ingest.sha256.finalize().into();
    if ingest.size != signed.size || computed != digest {
        return Err(ApiError::BadRequest(format!(
            "object does not match its oid and size: received {} bytes (declared {}), sha256 {}",
            ingest.size,
            signed.size,
            if computed == digest { "matches" } else { "differs" }
        )));
    }
    let xet_file = XetFile { hash: file.file_hash, size: ingest.size, terms: ingest.terms };
    state.db.register_file(repo_id, &xet_file, Some(&MerkleHash::from_be_digest(digest)), now_ms()).await?;
    tracing::info!(repo.id = repo_id, lfs.oid = %oid, xet.hash = %file.file_hash, size_bytes = ingest.size, "LFS object stored as Xet");
    Ok(StatusCode::OK)
}

/// `POST /api/lfs/verify/{repo_id}/{oid}`: 200 once the object is stored.
pub async fn verify(
    State(state): State<AppState>,
    Path((repo_id, oid)): Path<(i64, String)>,
    Query(signed): Query<Signed>,
) -> ApiResult<StatusCode> {
    let digest = check(&state, "verify", repo_id, &oid, &signed).await?;
    match state.db.repo_file_by_sha256(repo_id, &digest).await? {
        Some((_, size)) if size == signed.size => Ok(StatusCode::OK),
        _ => Err(ApiError::NotFound("Object does not exist".into())),
    }
}

/// `GET /api/lfs/objects/{repo_id}/{oid}`: the object, reconstructed from
/// its xorbs (`Range` honoured).
pub async fn download(
    State(state): State<AppState>,
    Path((repo_id, oid)): Path<(i64, String)>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let digest = check(&state, "download", repo_id, &oid, &signed).await?;
    let not_found = || ApiError::NotFound("Object does not exist".into());
    let (file_hash, _) = state.db.repo_file_by_sha256(repo_id, &digest).await?.ok_or_else(not_found)?;
    let file = state.db.xet_file(&file_hash).await?.ok_or_else(not_found)?;
    let requested =
        headers.get(RANGE).and_then(|v| v.to_str().ok()).map(|h| range::resolve(h, file.size)).transpose()?;
    let (start, end, partial) = match requested.flatten() {
        Some((first, last)) => (first, last + 1, true),
        None => (0, file.size, false),
    };
    let total = file.size;
    let file = std::sync::Arc::new(file);
    let body = futures::stream::try_unfold(start, move |position| {
        let (state, file) = (state.clone(), std::sync::Arc::clone(&file));
        async move {
            if position >= end {
                return Ok::<_, ApiError>(None);
            }
            let next = (position + DOWNLOAD_WINDOW).min(end);
            let bytes = read_file_range(&state, &file, position, next).await?;
            Ok(Some((bytes, next)))
        }
    })
    .map(|piece| piece.map_err(|error| std::io::Error::other(error.to_string())));
    let size = end - start;
    let mut response = (
        if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK },
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (ACCEPT_RANGES, "bytes".to_owned()),
            (CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response();
    if partial {
        let value = format!("bytes {start}-{}/{total}", end - 1);
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(CONTENT_RANGE, value);
        }
    }
    Ok(response)
}
