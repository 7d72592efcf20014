//! Reading a Xet file's bytes server-side, for clients that do not speak
//! Xet (plain `resolve` GETs, and later git-lfs): only the chunk ranges that
//! cover the requested bytes are read from the blob store and decoded.

use bytes::{Bytes, BytesMut};
use tessera_api::{ApiError, ApiResult, AppState};
use tessera_db::XetFile;
use tessera_formats::xorb::decode_chunks;

use crate::reconstructions::{load_xorbs, plan};
use crate::xorb_key;

/// Bytes `start..end` (end-exclusive, within the file) of a Xet file.
pub async fn read_file_range(state: &AppState, file: &XetFile, start: u64, end: u64) -> ApiResult<Bytes> {
    if start >= end {
        return Ok(Bytes::new());
    }
    if end > file.size {
        return Err(ApiError::RangeNotSatisfiable { size: file.size });
    }
    let xorbs = load_xorbs(state, file).await?;
    let plan = plan(file, &xorbs, start, end - 1)?;
    let mut out = BytesMut::with_capacity((end - start) as usize);
    let mut skip = plan.offset_into_first_range as usize;
    for term in &plan.terms {
        let index = &xorbs[&term.xorb];
        let range = index
            .byte_range(term.chunk_start as usize..term.chunk_end as usize)
            .ok_or_else(|| ApiError::internal("term outside its xorb"))?;
        let serialized = state.blobs.get(&xorb_key(&term.xorb), Some(range)).await?;
        let data = tokio::task::spawn_blocking(move || decode_chunks(&serialized))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        let wanted = (end - start) as usize - out.len();
        let available = &data[skip.min(data.len())..];
        out.extend_from_slice(&available[..wanted.min(available.len())]);
        skip = 0;
    }
    if out.len() as u64 != end - start {
        return Err(ApiError::internal(format!(
            "file {} reconstructed to {} bytes, wanted {}",
            file.hash,
            out.len(),
            end - start
        )));
    }
    Ok(out.freeze())
}
