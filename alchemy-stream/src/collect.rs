//! Collecting a [`ByteStream`] into one buffer, with a size limit.

use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;

use crate::{ByteStream, StreamError};

/// The most that [`ByteStream::collect`] reserves up front from a size hint; past it the buffer
/// grows as bytes actually arrive, so a lying hint cannot make it allocate a huge buffer.
const MAX_PREALLOCATION: usize = 16 * 1024 * 1024;

impl ByteStream {
    /// Reads the whole stream into one buffer of at most `limit` bytes.
    ///
    /// Fails with [`StreamError::TooLarge`] as soon as the limit is passed, without reading
    /// the rest, and before reading anything when the size hint already says the stream is too
    /// long. A stream of one chunk is returned without copying.
    ///
    /// ```
    /// use alchemy_stream::{ByteStream, StreamError};
    ///
    /// # futures::executor::block_on(async {
    /// let body = ByteStream::from(vec![0u8; 2048]);
    /// let error = body.collect(1024).await.unwrap_err();
    /// assert!(matches!(error, StreamError::TooLarge { limit: 1024 }));
    /// # });
    /// ```
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, StreamError> {
        let too_large = || StreamError::TooLarge {
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        };
        if usize::try_from(self.hint.lower()).map_or(true, |lower| lower > limit) {
            return Err(too_large());
        }
        let mut first: Option<Bytes> = None;
        let mut buffer = BytesMut::new();
        let mut total = 0usize;
        while let Some(chunk) = self.try_next().await? {
            if chunk.len() > limit - total {
                return Err(too_large());
            }
            total += chunk.len();
            match first.take() {
                None if buffer.is_empty() => first = Some(chunk),
                None => buffer.extend_from_slice(&chunk),
                Some(head) => {
                    let promised = usize::try_from(self.hint.lower()).unwrap_or(usize::MAX);
                    let capacity = total
                        .saturating_add(promised)
                        .min(limit)
                        .min(total.max(MAX_PREALLOCATION));
                    buffer.reserve(capacity);
                    buffer.extend_from_slice(&head);
                    buffer.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| buffer.freeze()))
    }

    /// Reads the whole stream into one buffer, however long it is.
    ///
    /// Prefer [`collect`](Self::collect) with a limit for data from outside the program.
    pub async fn collect_unbounded(self) -> Result<Bytes, StreamError> {
        self.collect(usize::MAX).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use futures::executor::block_on;
    use futures::stream;

    use super::*;

    /// Ten chunks of 100 bytes, counting how many were pulled.
    fn counted(pulled: &Arc<AtomicUsize>) -> ByteStream {
        let pulled = Arc::clone(pulled);
        ByteStream::from_stream(stream::iter(0..10u8).map(move |i| {
            pulled.fetch_add(1, Ordering::SeqCst);
            Ok::<_, StreamError>(vec![i; 100])
        }))
    }

    use futures::StreamExt;

    #[test]
    fn collects_many_chunks_in_order() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let bytes = block_on(counted(&pulled).collect(1000)).unwrap();
        assert_eq!(bytes.len(), 1000);
        for (i, chunk) in bytes.chunks(100).enumerate() {
            assert!(chunk.iter().all(|&b| usize::from(b) == i), "chunk {i}");
        }
    }

    #[test]
    fn stops_reading_as_soon_as_the_limit_is_passed() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let error = block_on(counted(&pulled).collect(250)).unwrap_err();
        assert!(matches!(error, StreamError::TooLarge { limit: 250 }));
        assert_eq!(pulled.load(Ordering::SeqCst), 3, "read past the limit");
    }

    #[test]
    fn fails_before_reading_when_the_declared_length_is_too_long() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let error = block_on(counted(&pulled).with_exact_len(1000).collect(999)).unwrap_err();
        assert!(matches!(error, StreamError::TooLarge { limit: 999 }));
        assert_eq!(pulled.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_limit_equal_to_the_length_is_enough() {
        let bytes = block_on(ByteStream::from_chunks(["ab", "cd"]).collect(4)).unwrap();
        assert_eq!(bytes, "abcd");
        assert_eq!(block_on(ByteStream::empty().collect(0)).unwrap(), "");
    }

    #[test]
    fn a_lying_hint_does_not_preallocate_past_the_cap() {
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(2);
        hint.set_upper(u64::MAX);
        let stream = ByteStream::from_chunks(["a", "b"]).with_size_hint(hint);
        assert_eq!(block_on(stream.collect_unbounded()).unwrap(), "ab");
    }

    #[test]
    fn errors_pass_through() {
        let stream = ByteStream::from_chunks(["a"]).chain(ByteStream::from_error(
            std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"),
        ));
        assert!(matches!(
            block_on(stream.collect_unbounded()),
            Err(StreamError::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut
        ));
    }
}
