//! [`BucketError`], the one error type of every bucket operation.

use alchemy_stream::StreamError;

/// A `Result` whose error is [`BucketError`].
pub type Result<T, E = BucketError> = std::result::Result<T, E>;

/// Why a bucket operation failed, the same for every provider.
///
/// Providers normalise their quirks at the edge: S3's `412 Precondition Failed`, R2's
/// `PreconditionFailed` and a local compare-and-swap that lost all become
/// [`Precondition`](Self::Precondition); a create that found the key taken is always
/// [`AlreadyExists`](Self::AlreadyExists). Match on the variant, never on the message.
///
/// Messages name the problem and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BucketError {
    /// No object has this key.
    #[error(
        "no object has the key `{key}`: check the key (keys are case-sensitive), \
        or write the object first"
    )]
    NotFound {
        /// The key asked for.
        key: String,
    },

    /// A create-only write ([`PutMode::Create`](super::PutMode::Create)) found the key taken.
    #[error(
        "an object with the key `{key}` exists already: read it, \
        or write with `PutMode::Overwrite` to replace it"
    )]
    AlreadyExists {
        /// The key that is taken.
        key: String,
    },

    /// A condition on the current object did not hold: an `if_match` read or a
    /// [`PutMode::Update`](super::PutMode::Update) write whose etag is no longer current.
    #[error(
        "the condition on `{key}` failed: {detail}. \
        Read the object again for its current etag and retry"
    )]
    Precondition {
        /// The key.
        key: String,
        /// What did not hold.
        detail: String,
    },

    /// An `if_none_match` read whose etag is still current: the copy the caller has is fresh.
    #[error("`{key}` has not changed since the given etag: keep using the copy you have")]
    NotModified {
        /// The key.
        key: String,
    },

    /// A key that breaks the key rules (see [`validate_key`](super::validate_key)).
    #[error(
        "invalid object key `{}`: {reason}. \
        Keys are 1 to 1024 bytes of UTF-8 without NUL, \
        without a leading `/` and without `.` or `..` segments",
        key.escape_debug()
    )]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Which rule it breaks.
        reason: String,
    },

    /// User metadata that breaks the metadata rules (see
    /// [`validate_metadata`](super::validate_metadata)).
    #[error("invalid object metadata `{}`: {reason}", name.escape_debug())]
    InvalidMetadata {
        /// The metadata name concerned, or empty when the rule is about all of it.
        name: String,
        /// Which rule it breaks, and how to follow it.
        reason: String,
    },

    /// A byte range that the object cannot satisfy (it starts at or past the end).
    #[error(
        "the range {range} of `{key}` cannot be served: the object has {size} bytes. \
        Ask for a range that starts before byte {size}, or use a suffix range"
    )]
    InvalidRange {
        /// The key.
        key: String,
        /// The range asked for, as written in an HTTP `Range` header.
        range: String,
        /// The size of the object.
        size: u64,
    },

    /// A multipart part that cannot be used: unknown, out of order, with a stale etag, or too
    /// small.
    #[error("part {part_number} of the multipart upload of `{key}` is unusable: {reason}")]
    InvalidPart {
        /// The key being uploaded.
        key: String,
        /// The part's number.
        part_number: u32,
        /// What is wrong, and how to fix it.
        reason: String,
    },

    /// A multipart upload id that is unknown: never created, completed or aborted.
    #[error(
        "no multipart upload `{upload_id}` is in progress for `{key}`: \
        it was completed or aborted; start a new one with `create_multipart`"
    )]
    NoSuchUpload {
        /// The key.
        key: String,
        /// The upload id as given.
        upload_id: String,
    },

    /// The provider cannot do this at all. Check [`Capabilities`](super::Capabilities) first
    /// to learn this before starting.
    #[error(
        "{provider} buckets do not support {operation}: \
        check `capabilities()` before calling, \
        and fall back or choose a provider that does"
    )]
    NotSupported {
        /// What was asked, such as `"conditional put (PutMode::Update)"`.
        operation: &'static str,
        /// The provider, such as `"local"`, `"s3"` or `"r2"`.
        provider: &'static str,
    },

    /// An object or body larger than a limit: the caller's (as in
    /// [`BucketClient::get_bytes`](super::BucketClient::get_bytes)) or the provider's.
    #[error(
        "the object is larger than the limit of {limit} bytes: raise the limit, \
        stream the body instead of collecting it, or use a multipart upload"
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },

    /// The body stream failed while it was read or written.
    #[error("the body stream failed: {0}")]
    Stream(#[from] StreamError),

    /// The provider failed in a way that has no variant of its own.
    #[error(
        "{provider} failed: {message}{}",
        if *retryable { " (transient: retrying may succeed)" } else { "" }
    )]
    Backend {
        /// The provider, such as `"local"`, `"s3"` or `"r2"`.
        provider: &'static str,
        /// What the provider said, with the path or request it concerns.
        message: String,
        /// Whether the same call may succeed if retried (throttling, a timeout, a 5xx).
        retryable: bool,
    },
}

impl BucketError {
    /// Whether retrying the same call may succeed.
    ///
    /// True for transient backend failures and for body streams that failed with a transient
    /// I/O error; false for everything that needs the caller to change something.
    pub fn is_retryable(&self) -> bool {
        match self {
            BucketError::Backend { retryable, .. } => *retryable,
            BucketError::Stream(StreamError::Io(error)) => matches!(
                error.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
            ),
            _ => false,
        }
    }

    /// A [`BucketError::NotFound`] for `key`.
    pub fn not_found(key: impl Into<String>) -> Self {
        BucketError::NotFound { key: key.into() }
    }

    /// A [`BucketError::Backend`] failure that retrying will not fix.
    pub fn backend(provider: &'static str, message: impl Into<String>) -> Self {
        BucketError::Backend {
            provider,
            message: message.into(),
            retryable: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem_and_the_fix() {
        let cases = [
            (
                BucketError::not_found("a/b.txt"),
                ["`a/b.txt`", "write the object first"],
            ),
            (
                BucketError::AlreadyExists { key: "k".into() },
                ["`k` exists already", "PutMode::Overwrite"],
            ),
            (
                BucketError::Precondition {
                    key: "k".into(),
                    detail: "the etag is stale".into(),
                },
                ["the etag is stale", "current etag and retry"],
            ),
            (
                BucketError::NotSupported {
                    operation: "multipart uploads",
                    provider: "local",
                },
                [
                    "local buckets do not support multipart uploads",
                    "capabilities()",
                ],
            ),
            (
                BucketError::InvalidRange {
                    key: "k".into(),
                    range: "bytes=10-".into(),
                    size: 4,
                },
                ["bytes=10-", "has 4 bytes"],
            ),
            (
                BucketError::TooLarge { limit: 9 },
                ["9 bytes", "raise the limit"],
            ),
        ];
        for (error, needles) in cases {
            let message = error.to_string();
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn invalid_keys_are_shown_escaped() {
        let error = BucketError::InvalidKey {
            key: "a\0b".into(),
            reason: "it contains NUL".into(),
        };
        assert!(error.to_string().contains(r"`a\0b`"), "{error}");
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let transient = BucketError::Backend {
            provider: "s3",
            message: "503 Slow Down".into(),
            retryable: true,
        };
        assert!(transient.is_retryable());
        assert!(transient.to_string().contains("retrying may succeed"));
        assert!(!BucketError::backend("s3", "403 Access Denied").is_retryable());
        let reset = StreamError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(BucketError::from(reset).is_retryable());
        assert!(!BucketError::not_found("k").is_retryable());
    }
}
