//! What S3's headers and fields hold, both ways: metadata, etags, times, `Content-Range`,
//! `Range` and `x-amz-copy-source`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use alchemy::bucket::{BucketError, ByteRange, Result};
use aws_sdk_s3::primitives::DateTime;

use super::PROVIDER;

/// User metadata as the SDK takes it.
pub(crate) fn sdk_metadata(metadata: BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!metadata.is_empty()).then(|| metadata.into_iter().collect())
}

/// An etag S3 must have sent.
pub(crate) fn required_etag(etag: Option<String>, key: &str) -> Result<String> {
    etag.ok_or_else(|| {
        BucketError::backend(
            PROVIDER,
            format!("writing `{key}`: the answer had no ETag; the endpoint is not S3-compatible"),
        )
    })
}

/// Milliseconds since the epoch, 0 for a time S3 did not send.
pub(crate) fn millis(time: Option<DateTime>) -> u64 {
    time.and_then(|time| time.to_millis().ok())
        .and_then(|millis| u64::try_from(millis).ok())
        .unwrap_or(0)
}

/// The range S3 served, and the whole object's size, from a `Content-Range` such as
/// `bytes 0-99/1234`.
pub(crate) fn parse_content_range(value: &str) -> Option<(Range<u64>, u64)> {
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
pub(crate) fn is_empty_range(range: ByteRange) -> bool {
    matches!(range, ByteRange::Bounded { start, end } if start >= end)
        || range == ByteRange::Suffix(0)
}

/// `key` percent-encoded for the `x-amz-copy-source` header (`/` kept).
pub(crate) fn encode_copy_source(bucket: &str, key: &str) -> String {
    let mut encoded = String::with_capacity(bucket.len() + key.len() + 1);
    encoded.push_str(bucket);
    encoded.push('/');
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A key or prefix from a listing made with `encoding-type=url`: percent-decoded, and `+` as a
/// space (S3 encodes a space so and a `+` as `%2B`, as HTML forms do).
///
/// XML 1.0 cannot carry every character a key may hold (most control characters), and XML
/// parsers turn `\r` into `\n`; URL-encoded listings carry every key as it is.
pub(crate) fn decode_listed(value: &str) -> String {
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
    fn listed_keys_are_url_decoded() {
        assert_eq!(decode_listed("a%2Fb+c%2Bd"), "a/b c+d");
        assert_eq!(decode_listed("cr%0Dlf%0A%01"), "cr\rlf\n\u{1}");
        assert_eq!(decode_listed("%E6%97%A5%F0%9F%A6%80"), "日🦀");
        assert_eq!(decode_listed("100%"), "100%");
        assert_eq!(decode_listed("%zz"), "%zz");
    }

    #[test]
    fn content_ranges_give_the_range_and_the_size() {
        assert_eq!(parse_content_range("bytes 0-99/1234"), Some((0..100, 1234)));
        assert_eq!(parse_content_range("bytes 9-9/10"), Some((9..10, 10)));
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn copy_sources_are_percent_encoded() {
        assert_eq!(
            encode_copy_source("b", "a/with space+plus/🦀"),
            "b/a/with%20space%2Bplus/%F0%9F%A6%80"
        );
        assert_eq!(
            encode_copy_source("b", "plain-key_1.txt"),
            "b/plain-key_1.txt"
        );
    }

    #[test]
    fn ranges_that_select_nothing_are_caught_before_s3_ignores_them() {
        assert!(is_empty_range((4..4).into()));
        assert!(is_empty_range(ByteRange::Suffix(0)));
        assert!(!is_empty_range((4..5).into()));
        assert!(!is_empty_range(ByteRange::From(0)));
    }
}
