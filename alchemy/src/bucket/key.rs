//! The rules for object keys and user metadata, the same for every provider.

use std::collections::BTreeMap;

use super::{BucketError, Result};

/// The longest key, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

/// The most bytes of user metadata (names plus values) an object may carry.
pub const MAX_METADATA_LEN: usize = 2048;

/// Checks `key` against the key rules every bucket enforces.
///
/// A key is:
///
/// - not empty, and at most [`MAX_KEY_LEN`] (1024) bytes of UTF-8;
/// - free of NUL characters;
/// - not starting with `/`;
/// - free of `.` and `..` segments (a segment is what lies between two `/`).
///
/// Anything else is allowed, including empty segments (`a//b`), a trailing `/` (a "folder"
/// marker such as `photos/`), spaces and any Unicode. Keys are compared byte for byte: `A` and
/// `a` are different keys on every provider, including the local one.
///
/// These rules are the intersection of what S3, R2 and a file system can hold safely: a key
/// that passes can never name a path outside a local bucket's directory. Every provider rejects
/// a key that fails with [`BucketError::InvalidKey`], before any I/O.
///
/// ```
/// use alchemy::bucket::validate_key;
///
/// assert!(validate_key("photos/2024/cat.jpg").is_ok());
/// assert!(validate_key("photos/").is_ok());
/// assert!(validate_key("../etc/passwd").is_err());
/// assert!(validate_key("/absolute").is_err());
/// ```
pub fn validate_key(key: &str) -> Result<()> {
    let reason = if key.is_empty() {
        "it is empty"
    } else if key.len() > MAX_KEY_LEN {
        "it is longer than 1024 bytes"
    } else if key.contains('\0') {
        "it contains a NUL character"
    } else if key.starts_with('/') {
        "it starts with `/`; drop the leading slash"
    } else if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        "it has a `.` or `..` segment; spell the path out without them"
    } else {
        return Ok(());
    };
    Err(BucketError::InvalidKey {
        key: key.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Checks user metadata against the rules every bucket enforces.
///
/// - Names are 1 or more of `a`–`z`, `0`–`9`, `-` and `_`. (S3 lowercases names on the wire,
///   so uppercase is refused rather than silently changed.)
/// - Values are printable ASCII (space to `~`), since they travel as HTTP header values.
///   Percent-encode or base64 anything else.
/// - Names and values together take at most [`MAX_METADATA_LEN`] (2048) bytes.
///
/// Violations are [`BucketError::InvalidMetadata`].
///
/// ```
/// use std::collections::BTreeMap;
/// use alchemy::bucket::validate_metadata;
///
/// let ok = BTreeMap::from([("owner".to_string(), "ada".to_string())]);
/// assert!(validate_metadata(&ok).is_ok());
/// let upper = BTreeMap::from([("Owner".to_string(), "ada".to_string())]);
/// assert!(validate_metadata(&upper).is_err());
/// ```
pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<()> {
    let invalid = |name: &str, reason: &str| BucketError::InvalidMetadata {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let mut total = 0;
    for (name, value) in metadata {
        if name.is_empty() {
            return Err(invalid(name, "the name is empty"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                name,
                "names use only lowercase ASCII letters, digits, `-` and `_`",
            ));
        }
        if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(invalid(
                name,
                "values are printable ASCII only; percent-encode or base64 other text",
            ));
        }
        total += name.len() + value.len();
    }
    if total > MAX_METADATA_LEN {
        return Err(invalid(
            "",
            "names and values together exceed 2048 bytes; keep large data in the object itself",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(key: &str) -> String {
        match validate_key(key) {
            Err(BucketError::InvalidKey { reason, key: k }) => {
                assert_eq!(k, key);
                reason
            }
            other => panic!("expected InvalidKey for {key:?}, got {other:?}"),
        }
    }

    #[test]
    fn accepts_ordinary_and_unusual_keys() {
        for key in [
            "a",
            "photos/cat.jpg",
            "photos/",
            "a//b",
            "...",
            "a/.../b",
            ".hidden",
            "a/.b",
            "with space/and:colon",
            "Großbuchstaben/日本語",
            "trailing.",
        ] {
            assert!(validate_key(key).is_ok(), "{key:?} was refused");
        }
        assert!(validate_key(&"k".repeat(MAX_KEY_LEN)).is_ok());
    }

    #[test]
    fn refuses_keys_that_break_a_rule() {
        assert!(reason("").contains("empty"));
        assert!(reason(&"k".repeat(MAX_KEY_LEN + 1)).contains("1024"));
        assert!(reason("a\0b").contains("NUL"));
        assert!(reason("/a").contains("leading slash"));
        for key in [
            ".",
            "..",
            "./a",
            "a/..",
            "a/./b",
            "a/../b",
            "../../etc/passwd",
        ] {
            assert!(reason(key).contains("segment"), "{key:?}");
        }
    }

    #[test]
    fn the_length_limit_counts_bytes_not_characters() {
        let key = "é".repeat(MAX_KEY_LEN / 2 + 1);
        assert!(key.chars().count() < MAX_KEY_LEN);
        assert!(reason(&key).contains("1024"));
    }

    #[test]
    fn metadata_rules() {
        let meta = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(validate_metadata(&meta(&[("a-b_1", "any printable ~ text")])).is_ok());
        assert!(validate_metadata(&BTreeMap::new()).is_ok());
        for bad in [
            meta(&[("", "v")]),
            meta(&[("Upper", "v")]),
            meta(&[("has space", "v")]),
            meta(&[("k", "new\nline")]),
            meta(&[("k", "café")]),
            meta(&[("k", &"v".repeat(MAX_METADATA_LEN))]),
        ] {
            assert!(
                matches!(
                    validate_metadata(&bad),
                    Err(BucketError::InvalidMetadata { .. })
                ),
                "{bad:?} was accepted"
            );
        }
    }
}
