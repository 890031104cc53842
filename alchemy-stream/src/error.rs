//! [`StreamError`], the one error type of every byte stream.

use std::error::Error as StdError;
use std::io;

/// A boxed error that can cross threads on native targets.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a [`ByteStream`](crate::ByteStream) stopped early.
///
/// Every error is terminal: a stream that yielded one yields nothing after it.
///
/// `StreamError` converts to and from [`std::io::Error`] without losing meaning: turning a
/// `StreamError` into an `io::Error` and back gives the same variant, so errors survive a trip
/// through `AsyncRead`/`AsyncWrite` code unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// More bytes arrived than a size limit allows ([`ByteStream::collect`](crate::ByteStream::collect)
    /// or [`ByteStream::limit`](crate::ByteStream::limit)).
    #[error(
        "the stream is longer than the limit of {limit} bytes; \
         raise the limit if bodies this large are expected, or process the stream \
         incrementally instead of collecting it"
    )]
    TooLarge {
        /// The limit, in bytes, that was exceeded.
        limit: u64,
    },

    /// A stream that declared an exact length delivered a different number of bytes.
    #[error(
        "the stream declared a length of {expected} bytes but delivered {actual}; \
         the source was cut short or its declared length (such as Content-Length) is wrong"
    )]
    LengthMismatch {
        /// The declared length, in bytes.
        expected: u64,
        /// The bytes delivered when the mismatch was detected: the whole count when the stream
        /// ended early, or the count including the first chunk that overran the declared length.
        actual: u64,
    },

    /// An I/O error from the source or sink, keeping its [`io::ErrorKind`] and message.
    #[error(transparent)]
    Io(io::Error),

    /// Any other error from a stream's source.
    #[error(transparent)]
    Other(BoxError),
}

impl StreamError {
    /// Wraps any error, keeping its meaning when it already is a `StreamError` or an
    /// [`io::Error`] (so nothing is wrapped twice).
    pub fn other(error: impl Into<BoxError>) -> Self {
        let error = error.into();
        let error = match error.downcast::<StreamError>() {
            Ok(stream_error) => return *stream_error,
            Err(error) => error,
        };
        match error.downcast::<io::Error>() {
            Ok(io_error) => Self::from(*io_error),
            Err(error) => Self::Other(error),
        }
    }

    /// The [`io::ErrorKind`] that best describes this error; used when it becomes an
    /// [`io::Error`].
    ///
    /// [`TooLarge`](Self::TooLarge) is [`FileTooLarge`](io::ErrorKind::FileTooLarge); a
    /// [`LengthMismatch`](Self::LengthMismatch) is
    /// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) when the stream was short and
    /// [`InvalidData`](io::ErrorKind::InvalidData) when it was long.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Self::TooLarge { .. } => io::ErrorKind::FileTooLarge,
            Self::LengthMismatch { expected, actual } if actual < expected => {
                io::ErrorKind::UnexpectedEof
            }
            Self::LengthMismatch { .. } => io::ErrorKind::InvalidData,
            Self::Io(error) => error.kind(),
            Self::Other(_) => io::ErrorKind::Other,
        }
    }
}

impl From<io::Error> for StreamError {
    /// Unwraps an `io::Error` that carries a `StreamError` (as made by the reverse conversion);
    /// any other becomes [`StreamError::Io`].
    fn from(error: io::Error) -> Self {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<StreamError>())
        {
            match error.downcast::<StreamError>() {
                Ok(stream_error) => return stream_error,
                Err(error) => return Self::Io(error),
            }
        }
        Self::Io(error)
    }
}

impl From<StreamError> for io::Error {
    /// [`StreamError::Io`] gives back its `io::Error`; any other variant becomes an `io::Error`
    /// of kind [`StreamError::kind`] that carries the `StreamError` as its inner error.
    fn from(error: StreamError) -> Self {
        match error {
            StreamError::Io(error) => error,
            other => io::Error::new(other.kind(), other),
        }
    }
}

impl From<BoxError> for StreamError {
    fn from(error: BoxError) -> Self {
        Self::other(error)
    }
}

impl From<std::convert::Infallible> for StreamError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("upstream exploded")]
    struct Custom;

    #[test]
    fn every_variant_survives_a_trip_through_io_error() {
        let cases = [
            StreamError::TooLarge { limit: 10 },
            StreamError::LengthMismatch {
                expected: 5,
                actual: 3,
            },
            StreamError::Io(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
            StreamError::Other(Box::new(Custom)),
        ];
        for original in cases {
            let text = original.to_string();
            let kind = original.kind();
            let through_io: io::Error = original.into();
            assert_eq!(through_io.kind(), kind);
            let back = StreamError::from(through_io);
            assert_eq!(back.to_string(), text);
            assert_eq!(back.kind(), kind);
        }
    }

    #[test]
    fn io_variant_keeps_kind_and_message() {
        let error = StreamError::from(io::Error::new(io::ErrorKind::BrokenPipe, "pipe closed"));
        match &error {
            StreamError::Io(inner) => {
                assert_eq!(inner.kind(), io::ErrorKind::BrokenPipe);
                assert_eq!(inner.to_string(), "pipe closed");
            }
            other => panic!("expected StreamError::Io, got {other:?}"),
        }
        assert_eq!(error.to_string(), "pipe closed");
    }

    #[test]
    fn kinds_describe_the_problem() {
        assert_eq!(
            StreamError::TooLarge { limit: 1 }.kind(),
            io::ErrorKind::FileTooLarge
        );
        let short = StreamError::LengthMismatch {
            expected: 10,
            actual: 4,
        };
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
        let long = StreamError::LengthMismatch {
            expected: 10,
            actual: 14,
        };
        assert_eq!(long.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            StreamError::Other(Box::new(Custom)).kind(),
            io::ErrorKind::Other
        );
    }

    #[test]
    fn other_does_not_wrap_twice() {
        let inner = StreamError::TooLarge { limit: 7 };
        assert!(matches!(
            StreamError::other(inner),
            StreamError::TooLarge { limit: 7 }
        ));
        let io_error = io::Error::new(io::ErrorKind::TimedOut, "slow");
        assert!(matches!(
            StreamError::other(io_error),
            StreamError::Io(e) if e.kind() == io::ErrorKind::TimedOut
        ));
        let custom = StreamError::other(Custom);
        assert!(matches!(&custom, StreamError::Other(e) if e.is::<Custom>()));
        assert_eq!(custom.to_string(), "upstream exploded");
    }

    #[test]
    fn messages_name_the_problem_and_the_fix() {
        let too_large = StreamError::TooLarge { limit: 1024 }.to_string();
        assert!(too_large.contains("1024 bytes"), "{too_large}");
        assert!(too_large.contains("raise the limit"), "{too_large}");
        let mismatch = StreamError::LengthMismatch {
            expected: 10,
            actual: 4,
        }
        .to_string();
        assert!(mismatch.contains("10 bytes"), "{mismatch}");
        assert!(mismatch.contains("delivered 4"), "{mismatch}");
        assert!(mismatch.contains("Content-Length"), "{mismatch}");
    }
}
