//! What S3's headers and fields hold: times, `Content-Range`, metadata, listed keys and
//! `x-amz-copy-source`.

use std::collections::BTreeMap;
use std::ops::Range;

use alchemy::bucket::ByteRange;
use http::HeaderMap;

use super::sigv4::{days_from_civil, encode};

/// The prefix of user metadata headers.
pub const META_PREFIX: &str = "x-amz-meta-";

/// A header's value as text, if it is there and is text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// The user metadata of an answer's `x-amz-meta-*` headers.
pub fn metadata(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix(META_PREFIX)?;
            Some((name.to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// Milliseconds since the epoch of an ISO 8601 time as S3 lists it
/// (`2009-10-12T17:50:30.000Z`), or 0 for one it cannot read.
pub fn iso_millis(text: &str) -> u64 {
    let parse = || -> Option<u64> {
        let (date, time) = text.trim().split_once('T')?;
        let mut date = date.split('-');
        let year: i64 = date.next()?.parse().ok()?;
        let month: u32 = date.next()?.parse().ok()?;
        let day: u32 = date.next()?.parse().ok()?;
        let time = time.trim_end_matches('Z');
        let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
        let mut clock = clock.split(':');
        let hours: u64 = clock.next()?.parse().ok()?;
        let minutes: u64 = clock.next()?.parse().ok()?;
        let seconds: u64 = clock.next()?.parse().ok()?;
        let millis: u64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
        let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
        Some(((days * 86_400 + hours * 3600 + minutes * 60 + seconds) * 1000) + millis)
    };
    parse().unwrap_or(0)
}

/// Milliseconds since the epoch of an HTTP date (`Wed, 12 Oct 2009 17:50:00 GMT`), or 0 for
/// one it cannot read.
pub fn http_date_millis(text: &str) -> u64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parse = || -> Option<u64> {
        let mut parts = text.split_whitespace().skip(1);
        let day: u32 = parts.next()?.parse().ok()?;
        let month = parts.next()?;
        let month = MONTHS.iter().position(|name| *name == month)? as u32 + 1;
        let year: i64 = parts.next()?.parse().ok()?;
        let mut clock = parts.next()?.split(':');
        let hours: u64 = clock.next()?.parse().ok()?;
        let minutes: u64 = clock.next()?.parse().ok()?;
        let seconds: u64 = clock.next()?.parse().ok()?;
        let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
        Some((days * 86_400 + hours * 3600 + minutes * 60 + seconds) * 1000)
    };
    parse().unwrap_or(0)
}

/// The range S3 served, and the whole object's size, from a `Content-Range` such as
/// `bytes 0-99/1234`.
pub fn parse_content_range(value: &str) -> Option<(Range<u64>, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, size) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let size: u64 = size.trim().parse().ok()?;
    Some((start..end + 1, size))
}

/// Whether a range selects nothing whatever the object's size. S3 ignores such a `Range`
/// header (it is not a valid one) and would send the whole object.
pub fn is_empty_range(range: ByteRange) -> bool {
    matches!(range, ByteRange::Bounded { start, end } if start >= end)
        || range == ByteRange::Suffix(0)
}

/// The `x-amz-copy-source` of `key` in `bucket`: percent-encoded, `/` kept.
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!("{}/{}", encode(bucket, true), encode(key, false))
}

/// A key or prefix from a listing made with `encoding-type=url`: percent-decoded, and `+` as a
/// space.
///
/// XML 1.0 cannot carry every character a key may hold (most control characters), and XML
/// parsers turn `\r` into `\n`; URL-encoded listings carry every key as it is.
pub fn decode_listed(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        match bytes[i] {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    decoded.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => decoded.push(b'%'),
            },
            b'+' => decoded.push(b' '),
            byte => decoded.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_both_of_s3s_formats() {
        assert_eq!(iso_millis("2009-10-12T17:50:30.000Z"), 1_255_369_830_000);
        assert_eq!(iso_millis("2009-10-12T17:50:30.5Z"), 1_255_369_830_500);
        assert_eq!(iso_millis("2009-10-12T17:50:30Z"), 1_255_369_830_000);
        assert_eq!(
            http_date_millis("Mon, 12 Oct 2009 17:50:30 GMT"),
            1_255_369_830_000
        );
        assert_eq!(iso_millis("yesterday"), 0);
        assert_eq!(http_date_millis(""), 0);
    }

    #[test]
    fn content_ranges_give_the_range_and_the_size() {
        assert_eq!(parse_content_range("bytes 0-99/1234"), Some((0..100, 1234)));
        assert_eq!(parse_content_range("bytes 9-9/10"), Some((9..10, 10)));
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn ranges_that_select_nothing_are_caught_before_s3_ignores_them() {
        assert!(is_empty_range((4..4).into()));
        assert!(is_empty_range(ByteRange::Suffix(0)));
        assert!(!is_empty_range((4..5).into()));
        assert!(!is_empty_range(ByteRange::From(0)));
    }

    #[test]
    fn listed_keys_and_copy_sources_round_trip() {
        assert_eq!(decode_listed("a%2Fb+c%2Bd"), "a/b c+d");
        assert_eq!(decode_listed("%E6%97%A5%0D"), "日\r");
        assert_eq!(decode_listed("cr%0Dlf%0A%01"), "cr\rlf\n\u{1}");
        assert_eq!(decode_listed("100%"), "100%");
        assert_eq!(decode_listed("%zz"), "%zz");
        assert_eq!(copy_source("b", "a/x y+z/🦀"), "b/a/x%20y%2Bz/%F0%9F%A6%80");
        assert_eq!(copy_source("b", "plain-key_1.txt"), "b/plain-key_1.txt");
    }

    #[test]
    fn metadata_comes_from_the_meta_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-meta-owner", "ada".parse().unwrap());
        headers.insert("content-type", "text/plain".parse().unwrap());
        assert_eq!(
            metadata(&headers),
            BTreeMap::from([("owner".to_string(), "ada".to_string())])
        );
    }
}
