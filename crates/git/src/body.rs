//! Request bodies as git sends them: plain, or gzip-compressed (git
//! compresses large upload-pack requests), never larger than a limit.

use std::io::Read as _;

use axum::http::{HeaderMap, header};
use bytes::Bytes;

use crate::error::GitError;

/// The request body, inflated if it was sent with `Content-Encoding: gzip`.
pub fn decode(headers: &HeaderMap, body: Bytes, limit: u64) -> Result<Bytes, GitError> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|value| value.to_str().ok()).unwrap_or("");
    match encoding.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(body),
        "gzip" | "x-gzip" => {
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(body.as_ref())
                .take(limit + 1)
                .read_to_end(&mut inflated)
                .map_err(|error| GitError::BadRequest(format!("bad gzip request body: {error}")))?;
            if inflated.len() as u64 > limit {
                return Err(GitError::BadRequest(format!("request body inflates past {limit} bytes")));
            }
            Ok(inflated.into())
        }
        other => Err(GitError::BadRequest(format!("unsupported Content-Encoding {other:?}"))),
    }
}

/// The `GIT_PROTOCOL` value a `Git-Protocol` header asks for, if it is well formed
/// (`version=2`, colon-separated `key[=value]` items of safe characters).
pub fn protocol(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("git-protocol")?.to_str().ok()?;
    let safe = value.len() <= 256
        && value
            .split(':')
            .all(|item| !item.is_empty() && item.chars().all(|c| c.is_ascii_alphanumeric() || "=._-".contains(c)));
    safe.then(|| value.to_owned())
}

/// Whether the client asked for protocol v2.
pub fn is_v2(protocol: Option<&str>) -> bool {
    protocol.is_some_and(|value| value.split(':').any(|item| item == "version=2"))
}
