//! Strict parsers for the values found in CRM and spend extracts (SPEC section 8, Loading).
//! Each returns `Err(reason)` with a message meant for the quarantine table.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

pub use super::numbers::{amount, count};

/// A timestamp as microseconds since the epoch, UTC. Accepts RFC 3339 (`2024-01-05T10:22:33.000Z`,
/// with any offset), `YYYY-MM-DD HH:MM[:SS[.fff]]` (taken as UTC) and a bare date (midnight UTC).
/// Impossible dates such as `2024-02-30` are rejected, never rolled over.
pub fn timestamp_micros(raw: &str) -> Result<i64, String> {
    let s = raw.trim();
    // A bare date first: it is exactly one, and the four formats below would each fail on it.
    if s.len() <= 10 {
        if let Ok(d) = date(s) {
            return Ok(Utc
                .from_utc_datetime(&d.and_time(NaiveTime::MIN))
                .timestamp_micros());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(Utc.from_utc_datetime(&t).timestamp_micros());
        }
    }
    if let Ok(d) = date(s) {
        return Ok(Utc
            .from_utc_datetime(&d.and_time(NaiveTime::MIN))
            .timestamp_micros());
    }
    Err(format!("not a valid timestamp: {s:?}"))
}

/// A date, ISO `YYYY-MM-DD` or US `M/D/YYYY`.
pub fn date(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    // `YYYY-MM-DD` without reading a format string, the CRM exports' common case.
    iso_date(s)
        .ok_or(())
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .or_else(|_| NaiveDate::parse_from_str(s, "%m/%d/%Y"))
        .map_err(|_| format!("not a valid date: {s:?}"))
}

/// `YYYY-MM-DD` exactly (ten characters, zero-padded), when it is a real date.
fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)
}

/// Days since the epoch, for Arrow's Date32.
pub fn date32(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// `true`/`false` in any case, or `1`/`0` (Salesforce's weekly Data Export), trimmed. Empty,
/// `yes` and anything else are rejected.
pub fn boolean(raw: &str) -> Result<bool, String> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("true") || s == "1" {
        Ok(true)
    } else if s.eq_ignore_ascii_case("false") || s == "0" {
        Ok(false)
    } else {
        Err(format!("not a boolean (true/false or 1/0): {s:?}"))
    }
}

/// The GA client id held in a CRM field: the last two dot-separated parts, so the raw `_ga`
/// cookie `GA1.1.123456789.1704412800` and `123456789.1704412800` both give the latter.
pub fn ga_client_id(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() < 2 {
        return Some(s.to_string());
    }
    Some(parts[parts.len() - 2..].join("."))
}

/// Lower-case hex SHA-256 of the lower-cased, trimmed email: the value GA4 receives as `user_id`.
pub fn email_sha256(raw: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let s = raw.trim().to_lowercase();
    if s.is_empty() {
        return None;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(s.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 15)]));
    }
    Some(hex)
}

/// An optional text field: trimmed, `None` when empty.
pub fn text(raw: &str) -> Option<String> {
    let s = raw.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feb_30_is_rejected_not_rolled_over() {
        assert!(timestamp_micros("2024-02-30T00:00:00Z").is_err());
        assert!(date("2024-02-30").is_err());
    }

    #[test]
    fn dates_read_the_same_on_the_fast_path_and_the_formats() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(date("2024-03-09"), Ok(d(2024, 3, 9)));
        assert_eq!(date(" 2024-12-31 "), Ok(d(2024, 12, 31)));
        // Not zero-padded, or US order: the formats still read them.
        assert_eq!(date("2024-3-9"), Ok(d(2024, 3, 9)));
        assert_eq!(date("3/9/2024"), Ok(d(2024, 3, 9)));
        assert!(date("2024-13-01").is_err() && date("2024-1x-01").is_err());
        assert_eq!(
            timestamp_micros("2024-03-09"),
            Ok(1_709_942_400_000_000),
            "midnight UTC"
        );
    }

    #[test]
    fn salesforce_timestamp_parses_as_utc() {
        // 2024-01-05T10:22:33Z = 1704450153 s
        assert_eq!(
            timestamp_micros("2024-01-05T10:22:33.000Z").unwrap(),
            1_704_450_153_000_000
        );
        assert_eq!(
            timestamp_micros("2024-01-05T11:22:33+01:00").unwrap(),
            1_704_450_153_000_000
        );
    }

    #[test]
    fn booleans_are_strict() {
        assert!(boolean(" TRUE ").unwrap());
        assert!(!boolean("false").unwrap());
        assert!(boolean("1").unwrap());
        assert!(!boolean(" 0 ").unwrap());
        for bad in ["", "yes", "2", "01"] {
            assert!(boolean(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ga_cookie_gives_last_two_parts() {
        assert_eq!(
            ga_client_id("GA1.1.123456789.1704412800").unwrap(),
            "123456789.1704412800"
        );
        assert_eq!(
            ga_client_id("123456789.1704412800").unwrap(),
            "123456789.1704412800"
        );
    }

    #[test]
    fn email_hash_is_lowercased_and_trimmed() {
        // sha256("a@b.com")
        assert_eq!(
            email_sha256("  A@B.com ").unwrap(),
            "fb98d44ad7501a959f3f4f4a3f004fe2d9e581ea6207e218c4b02c08a4d75adf"
        );
    }
}
