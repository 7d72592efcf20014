//! Signed xorb data URLs: `GET /v1/xorb-data/{xorb}?start&end&exp&sig`
//! serves any single `Range` inside the signed byte range, with no other
//! credentials (hf_xet sends none). An expired or forged URL is 403, which
//! makes hf_xet ask for a fresh reconstruction.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_api::signing::SignatureError;
use tessera_api::time::now_secs;
use tessera_api::{ApiError, ApiResult, AppState, range};

use crate::xorb_key;
use crate::xorbs::parse_hash;

/// The signed query.
// No `Debug`: the signature is a capability and must never reach a log.
#[derive(Deserialize)]
pub struct Signed {
    start: u64,
    end: u64,
    exp: i64,
    sig: String,
}

/// Serves bytes of a xorb within the signed range.
pub async fn get(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(signed): Query<Signed>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let xorb = parse_hash(&hash)?;
    match state.signer.verify_data_url(&xorb, signed.start, signed.end, signed.exp, &signed.sig, now_secs()) {
        Ok(()) => {}
        Err(SignatureError::Expired) => return Err(ApiError::Forbidden("data URL expired".into())),
        Err(SignatureError::Invalid) => return Err(ApiError::Forbidden("invalid data URL signature".into())),
    }
    let key = xorb_key(&xorb);
    let size = state.blobs.size(&key).await?.ok_or_else(|| ApiError::NotFound("no such xorb".into()))?;
    let requested = headers.get(RANGE).and_then(|v| v.to_str().ok()).map(|h| range::resolve(h, size)).transpose()?;
    let partial = requested.flatten().is_some();
    let (first, last) = requested.flatten().unwrap_or((signed.start, signed.end.min(size.saturating_sub(1))));
    if first < signed.start || last > signed.end {
        return Err(ApiError::Forbidden(format!(
            "range {first}-{last} is outside the signed range {}-{}",
            signed.start, signed.end
        )));
    }
    let body = Body::from_stream(state.blobs.get_stream(&key, first..last + 1).await?);
    let status = if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    Ok((
        status,
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (ACCEPT_RANGES, "bytes".to_owned()),
            (CONTENT_RANGE, format!("bytes {first}-{last}/{size}")),
            (CONTENT_LENGTH, (last + 1 - first).to_string()),
        ],
        body,
    )
        .into_response())
}
