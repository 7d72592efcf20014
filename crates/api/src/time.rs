//! Clock and date formatting in the shape HF clients parse (`…Z`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for unix milliseconds.
pub fn iso8601(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&format).unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_end_in_z() {
        assert_eq!(super::iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
