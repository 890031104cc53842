//! Reads: [`GetOptions`], [`ByteRange`] and [`GetResult`].

use std::fmt;
use std::ops::{Range, RangeFrom, RangeInclusive};

use alchemy_stream::{ByteStream, Bytes};

use super::{BucketError, ObjectMeta, Result};

/// Which bytes of an object to read.
///
/// The semantics are those of an HTTP `Range` header, which every provider follows:
///
/// - [`Bounded`](Self::Bounded) and [`From`](Self::From) ranges must start before the end
///   of the object, or the read fails with [`BucketError::InvalidRange`]; an end past the end
///   of the object is cut to it.
/// - A [`Suffix`](Self::Suffix) longer than the object reads the whole object.
/// - No range can be served from an empty object.
///
/// ```
/// use alchemy::bucket::ByteRange;
///
/// assert_eq!(ByteRange::from(2..5).resolve("k", 10).unwrap(), 2..5);
/// assert_eq!(ByteRange::from(8..100).resolve("k", 10).unwrap(), 8..10);
/// assert_eq!(ByteRange::Suffix(3).resolve("k", 10).unwrap(), 7..10);
/// assert!(ByteRange::from(10..).resolve("k", 10).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteRange {
    /// Bytes `start` up to, not including, `end`.
    Bounded {
        /// The first byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Bytes from `start` to the end of the object.
    From(u64),
    /// The last `n` bytes of the object.
    Suffix(u64),
}

impl ByteRange {
    /// The bytes this range selects from an object of `size` bytes, or
    /// [`BucketError::InvalidRange`] (naming `key`) when it selects none.
    ///
    /// Providers that serve ranges themselves use this so that every one of them answers alike.
    pub fn resolve(&self, key: &str, size: u64) -> Result<Range<u64>> {
        let resolved = match *self {
            ByteRange::Bounded { start, end } if start < end && start < size => {
                start..end.min(size)
            }
            ByteRange::From(start) if start < size => start..size,
            ByteRange::Suffix(n) if n > 0 && size > 0 => size.saturating_sub(n)..size,
            _ => {
                return Err(BucketError::InvalidRange {
                    key: key.to_owned(),
                    range: self.to_string(),
                    size,
                })
            }
        };
        Ok(resolved)
    }
}

/// Formats the range as the value of an HTTP `Range` header, such as `bytes=0-99`.
impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ByteRange::Bounded { start, end } => {
                write!(f, "bytes={start}-{}", end.saturating_sub(1))
            }
            ByteRange::From(start) => write!(f, "bytes={start}-"),
            ByteRange::Suffix(n) => write!(f, "bytes=-{n}"),
        }
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(range: Range<u64>) -> Self {
        ByteRange::Bounded {
            start: range.start,
            end: range.end,
        }
    }
}

impl From<RangeInclusive<u64>> for ByteRange {
    fn from(range: RangeInclusive<u64>) -> Self {
        ByteRange::Bounded {
            start: *range.start(),
            end: range.end().saturating_add(1),
        }
    }
}

impl From<RangeFrom<u64>> for ByteRange {
    fn from(range: RangeFrom<u64>) -> Self {
        ByteRange::From(range.start)
    }
}

/// Options of a read: a byte range and conditions on the current etag.
///
/// ```
/// use alchemy::bucket::{ByteRange, GetOptions};
///
/// let options = GetOptions {
///     range: Some(ByteRange::Suffix(100)),
///     if_none_match: Some("\"5d41402abc4b2a76b9719d911017c592\"".into()),
///     ..GetOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// Read only these bytes.
    pub range: Option<ByteRange>,
    /// Read only if the current etag is this one; otherwise fail with
    /// [`BucketError::Precondition`].
    pub if_match: Option<String>,
    /// Read only if the current etag is not this one; otherwise fail with
    /// [`BucketError::NotModified`].
    pub if_none_match: Option<String>,
}

/// An object being read: its metadata, which bytes the body holds, and the body.
#[derive(Debug)]
pub struct GetResult {
    /// The object's metadata (of the whole object, not of the range).
    pub meta: ObjectMeta,
    /// Which bytes of the object [`body`](Self::body) holds: `0..size` for a whole object.
    pub range: Range<u64>,
    /// The bytes, streamed, with an exact length of `range.end - range.start`.
    pub body: ByteStream,
}

impl GetResult {
    /// Collects the body into memory, failing with [`BucketError::TooLarge`] when it holds
    /// more than `limit` bytes (before reading any of it).
    pub async fn bytes(self, limit: usize) -> Result<Bytes> {
        let len = self.range.end - self.range.start;
        let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
        if len > limit_u64 {
            return Err(BucketError::TooLarge { limit: limit_u64 });
        }
        self.body.collect(limit).await.map_err(|error| match error {
            alchemy_stream::StreamError::TooLarge { limit } => BucketError::TooLarge { limit },
            other => BucketError::Stream(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_http_range_headers() {
        let at = |range: ByteRange, size| range.resolve("k", size).ok();
        assert_eq!(at((0..1).into(), 1), Some(0..1));
        assert_eq!(at((3..=5).into(), 10), Some(3..6));
        assert_eq!(at((7..).into(), 10), Some(7..10));
        assert_eq!(at((9..).into(), 10), Some(9..10));
        assert_eq!(at((5..50).into(), 10), Some(5..10));
        assert_eq!(at(ByteRange::Suffix(50), 10), Some(0..10));
        assert_eq!(at(ByteRange::Suffix(1), 10), Some(9..10));
        assert_eq!(at((10..).into(), 10), None);
        assert_eq!(at((10..20).into(), 10), None);
        assert_eq!(at((4..4).into(), 10), None);
        assert_eq!(at(ByteRange::Suffix(0), 10), None);
        assert_eq!(at(ByteRange::Suffix(5), 0), None);
        assert_eq!(at((0..1).into(), 0), None);
    }

    #[test]
    fn an_unsatisfiable_range_names_key_range_and_size() {
        let error = ByteRange::from(12..).resolve("a.txt", 10).unwrap_err();
        match error {
            BucketError::InvalidRange { key, range, size } => {
                assert_eq!(
                    (key.as_str(), range.as_str(), size),
                    ("a.txt", "bytes=12-", 10)
                );
            }
            other => panic!("expected InvalidRange, got {other:?}"),
        }
    }

    #[test]
    fn ranges_display_as_http_headers() {
        assert_eq!(ByteRange::from(0..100).to_string(), "bytes=0-99");
        assert_eq!(ByteRange::from(5..=5).to_string(), "bytes=5-5");
        assert_eq!(ByteRange::from(7..).to_string(), "bytes=7-");
        assert_eq!(ByteRange::Suffix(3).to_string(), "bytes=-3");
    }
}
