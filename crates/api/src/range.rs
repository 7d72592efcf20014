//! HTTP `Range: bytes=…` requests against an object of known size.

use crate::error::ApiError;

/// Resolves a single-range `Range` header value against `size`: the
/// inclusive `(first, last)` byte positions, with the end clamped to the
/// object. `bytes=a-b`, `bytes=a-` and `bytes=-n` are understood; a range
/// starting at or past the end is 416.
pub fn resolve(header: &str, size: u64) -> Result<(u64, u64), ApiError> {
    let malformed = || ApiError::BadRequest(format!("unsupported Range header {header:?}"));
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(malformed)?;
    if spec.contains(',') {
        return Err(ApiError::BadRequest("multiple byte ranges are not supported".into()));
    }
    let (first, last) = spec.split_once('-').ok_or_else(malformed)?;
    let (first, last) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().map_err(|_| malformed())?;
            if suffix == 0 || size == 0 {
                return Err(ApiError::RangeNotSatisfiable { size });
            }
            (size.saturating_sub(suffix), size - 1)
        }
        (first, "") => (first.parse().map_err(|_| malformed())?, u64::MAX),
        (first, last) => (first.parse().map_err(|_| malformed())?, last.parse().map_err(|_| malformed())?),
    };
    if first > last {
        return Err(malformed());
    }
    if first >= size {
        return Err(ApiError::RangeNotSatisfiable { size });
    }
    Ok((first, last.min(size - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(resolve("bytes=0-9", 100).unwrap(), (0, 9));
        assert_eq!(resolve("bytes=90-200", 100).unwrap(), (90, 99));
        assert_eq!(resolve("bytes=10-", 100).unwrap(), (10, 99));
        assert_eq!(resolve("bytes=-5", 100).unwrap(), (95, 99));
        assert_eq!(resolve("bytes=-500", 100).unwrap(), (0, 99));
        assert!(matches!(resolve("bytes=100-", 100), Err(ApiError::RangeNotSatisfiable { size: 100 })));
        assert!(matches!(resolve("bytes=5-1", 100), Err(ApiError::BadRequest(_))));
        assert!(matches!(resolve("items=0-1", 100), Err(ApiError::BadRequest(_))));
        assert!(matches!(resolve("bytes=0-1,3-4", 100), Err(ApiError::BadRequest(_))));
    }
}
