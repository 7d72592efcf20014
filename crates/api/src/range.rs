//! HTTP `Range: bytes=…` requests against an object of known size.

use crate::error::ApiError;

/// Resolves a `Range` header value against `size` as RFC 9110 says: the
/// inclusive `(first, last)` byte positions with the end clamped to the
/// object, `None` when the header is malformed or asks for several ranges
/// (serve the whole object), and 416 when the range starts at or past the end.
/// `bytes=a-b`, `bytes=a-` and `bytes=-n` are understood.
pub fn resolve(header: &str, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else { return Ok(None) };
    let parsed = match (first.trim(), last.trim()) {
        ("", suffix) => match suffix.parse::<u64>() {
            Ok(0) => return Err(ApiError::RangeNotSatisfiable { size }),
            Ok(_) if size == 0 => return Err(ApiError::RangeNotSatisfiable { size }),
            Ok(suffix) => Some((size.saturating_sub(suffix), size - 1)),
            Err(_) => None,
        },
        (first, "") => first.parse().ok().map(|first| (first, u64::MAX)),
        (first, last) => first.parse().ok().zip(last.parse().ok()).filter(|(first, last)| first <= last),
    };
    let Some((first, last)) = parsed else { return Ok(None) };
    if first >= size {
        return Err(ApiError::RangeNotSatisfiable { size });
    }
    Ok(Some((first, last.min(size - 1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(resolve("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(resolve("bytes=90-200", 100).unwrap(), Some((90, 99)));
        assert_eq!(resolve("bytes=10-", 100).unwrap(), Some((10, 99)));
        assert_eq!(resolve("bytes=-5", 100).unwrap(), Some((95, 99)));
        assert_eq!(resolve("bytes=-500", 100).unwrap(), Some((0, 99)));
        assert!(matches!(resolve("bytes=100-", 100), Err(ApiError::RangeNotSatisfiable { size: 100 })));
        assert!(matches!(resolve("bytes=-0", 100), Err(ApiError::RangeNotSatisfiable { size: 100 })));
        for ignored in ["bytes=5-1", "items=0-1", "bytes=0-1,3-4", "bytes=x-", "bytes=-y", "bytes=7"] {
            assert_eq!(resolve(ignored, 100).unwrap(), None, "{ignored}");
        }
    }
}
