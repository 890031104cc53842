//! Adapters that turn one [`ByteStream`] into another: [`limit`](ByteStream::limit),
//! [`chain`](ByteStream::chain), [`inspect_chunks`](ByteStream::inspect_chunks) and
//! [`max_chunk_size`](ByteStream::max_chunk_size).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::stream::{Stream, StreamExt};
use http_body::SizeHint;

use crate::{ByteStream, MaybeSend, StreamError};

impl ByteStream {
    /// Lets at most `max` bytes through; more fail with [`StreamError::TooLarge`].
    ///
    /// The error comes with the chunk that passes the limit, or on the first poll, before
    /// anything is read, when the size hint already promises more than `max` bytes.
    ///
    /// ```
    /// use alchemy_stream::{ByteStream, StreamError};
    ///
    /// # futures::executor::block_on(async {
    /// let upload = ByteStream::from_chunks(["1234", "5678"]).limit(6);
    /// let error = upload.collect_unbounded().await.unwrap_err();
    /// assert!(matches!(error, StreamError::TooLarge { limit: 6 }));
    /// # });
    /// ```
    pub fn limit(self, max: u64) -> Self {
        let mut hint = SizeHint::new();
        if self.hint.lower() <= max {
            hint.set_lower(self.hint.lower());
        }
        hint.set_upper(self.hint.upper().map_or(max, |upper| upper.min(max)));
        let limited = Limit {
            inner: self,
            remaining: max,
            limit: max,
        };
        Self::from_chunk_stream(limited, hint)
    }

    /// This stream's bytes followed by `next`'s; the lengths add up.
    pub fn chain(self, next: ByteStream) -> Self {
        if self.is_spent() {
            return next;
        }
        if next.is_spent() {
            return self;
        }
        let mut hint = SizeHint::new();
        hint.set_lower(self.hint.lower().saturating_add(next.hint.lower()));
        if let (Some(a), Some(b)) = (self.hint.upper(), next.hint.upper()) {
            if let Some(upper) = a.checked_add(b) {
                hint.set_upper(upper);
            }
        }
        Self::from_chunk_stream(StreamExt::chain(self, next), hint)
    }

    /// Calls `inspect` with every chunk as it passes, for progress reports, checksums or
    /// metrics; the stream itself is unchanged.
    pub fn inspect_chunks<F>(self, mut inspect: F) -> Self
    where
        F: FnMut(&Bytes) + MaybeSend + 'static,
    {
        let hint = self.size_hint();
        let inspected = StreamExt::inspect(self, move |item| {
            if let Ok(chunk) = item {
                inspect(chunk);
            }
        });
        Self::from_chunk_stream(inspected, hint)
    }

    /// Splits chunks longer than `max` bytes into pieces of at most `max` bytes, without
    /// copying.
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    pub fn max_chunk_size(self, max: usize) -> Self {
        assert!(
            max > 0,
            "ByteStream::max_chunk_size needs a size of at least 1 byte"
        );
        let hint = self.size_hint();
        let split = MaxChunkSize {
            inner: self,
            pending: Bytes::new(),
            max,
        };
        Self::from_chunk_stream(split, hint)
    }
}

/// The stream behind [`ByteStream::limit`].
struct Limit {
    inner: ByteStream,
    remaining: u64,
    limit: u64,
}

impl Stream for Limit {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let too_large = StreamError::TooLarge { limit: this.limit };
        if this.inner.hint.lower() > this.remaining {
            return Poll::Ready(Some(Err(too_large)));
        }
        Poll::Ready(match ready!(this.inner.poll_next_unpin(cx)) {
            Some(Ok(chunk)) if chunk.len() as u64 > this.remaining => Some(Err(too_large)),
            Some(Ok(chunk)) => {
                this.remaining -= chunk.len() as u64;
                Some(Ok(chunk))
            }
            other => other,
        })
    }
}

/// The stream behind [`ByteStream::max_chunk_size`].
struct MaxChunkSize {
    inner: ByteStream,
    pending: Bytes,
    max: usize,
}

impl Stream for MaxChunkSize {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.pending.is_empty() {
            match ready!(this.inner.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => this.pending = chunk,
                other => return Poll::Ready(other),
            }
        }
        let piece = if this.pending.len() > this.max {
            this.pending.split_to(this.max)
        } else {
            std::mem::take(&mut this.pending)
        };
        Poll::Ready(Some(Ok(piece)))
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use futures::executor::block_on;
    use futures::{stream, TryStreamExt};

    use super::*;

    fn chunks(stream: ByteStream) -> Result<Vec<Bytes>, StreamError> {
        block_on(stream.try_collect())
    }

    #[test]
    fn limit_lets_small_streams_through() {
        let stream = ByteStream::from_chunks(["abc", "def"]).limit(6);
        assert_eq!(stream.len(), Some(6));
        assert_eq!(block_on(stream.collect_unbounded()).unwrap(), "abcdef");
    }

    #[test]
    fn limit_fails_at_the_chunk_that_passes_it() {
        let source = stream::iter(["abc", "def", "ghi"].map(Ok::<_, StreamError>));
        let mut stream = ByteStream::from_stream(source).limit(5);
        assert_eq!(stream.size_hint().upper(), Some(5));
        assert_eq!(block_on(stream.try_next()).unwrap().unwrap(), "abc");
        assert!(matches!(
            block_on(stream.try_next()),
            Err(StreamError::TooLarge { limit: 5 })
        ));
        assert!(block_on(stream.try_next()).unwrap().is_none());
    }

    #[test]
    fn limit_fails_before_reading_a_stream_declared_too_long() {
        let pulled = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&pulled);
        let source = stream::iter(["abc", "def"].map(Ok::<_, StreamError>)).inspect(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let stream = ByteStream::from_stream(source).with_exact_len(6).limit(5);
        assert_eq!(stream.size_hint().lower(), 0);
        assert!(matches!(
            chunks(stream),
            Err(StreamError::TooLarge { limit: 5 })
        ));
        assert_eq!(pulled.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn chain_adds_lengths() {
        let stream = ByteStream::from("abc").chain(ByteStream::from_chunks(["de", "f"]));
        assert_eq!(stream.len(), Some(6));
        assert_eq!(block_on(stream.collect(6)).unwrap(), "abcdef");

        let unknown = ByteStream::from_stream(stream::iter([Ok::<_, StreamError>("x")]));
        let stream = ByteStream::from("abc").chain(unknown);
        assert_eq!(stream.len(), None);
        assert_eq!(stream.size_hint().lower(), 3);
        assert_eq!(block_on(stream.collect(6)).unwrap(), "abcx");
    }

    #[test]
    fn chain_with_empty_is_free_but_keeps_errors() {
        let stream = ByteStream::empty().chain(ByteStream::from("abc"));
        assert!(format!("{stream:?}").contains("bytes"));
        let failing = ByteStream::from("abc")
            .chain(ByteStream::from_error(io::Error::other("boom")).with_exact_len(0));
        assert!(block_on(failing.collect_unbounded()).is_err());
    }

    #[test]
    fn inspect_sees_every_chunk() {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        let stream = ByteStream::from_chunks(["ab", "cde"]).inspect_chunks(move |chunk| {
            counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        });
        assert_eq!(stream.len(), Some(5));
        assert_eq!(block_on(stream.collect(5)).unwrap(), "abcde");
        assert_eq!(seen.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn max_chunk_size_splits_without_copying() {
        let data = Bytes::from_static(b"abcdefghij");
        let pieces = chunks(ByteStream::from(data.clone()).max_chunk_size(3)).unwrap();
        assert_eq!(pieces, ["abc", "def", "ghi", "j"]);
        assert_eq!(pieces[1].as_ptr(), data[3..].as_ptr());
    }

    #[test]
    fn max_chunk_size_passes_errors() {
        let stream = ByteStream::from("abcdef")
            .chain(ByteStream::from_error(io::Error::other("boom")))
            .max_chunk_size(4);
        let items: Vec<_> = block_on(StreamExt::collect(stream));
        assert_eq!(items.len(), 3);
        assert!(items[2].is_err());
    }

    #[test]
    #[should_panic(expected = "at least 1 byte")]
    fn max_chunk_size_of_zero_is_refused() {
        let _ = ByteStream::empty().max_chunk_size(0);
    }
}
