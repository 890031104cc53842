//! The [`ByteStream`] type: construction, length accounting and its `Stream` implementation.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, FusedStream, Stream, StreamExt};
use http_body::SizeHint;
use sync_wrapper::SyncWrapper;

use crate::{MaybeSend, StreamError};

/// A stream of chunks with the item type of every [`ByteStream`] source.
pub(crate) trait ChunkStream: Stream<Item = Result<Bytes, StreamError>> + MaybeSend {}

impl<S> ChunkStream for S where S: Stream<Item = Result<Bytes, StreamError>> + MaybeSend + ?Sized {}

/// A stream of [`Bytes`] chunks with a size hint that it keeps honest.
///
/// `ByteStream` is the body type of Alchemy: object contents, HTTP request and response bodies,
/// and anything read from or written to `AsyncRead`/`AsyncWrite` travel as one. It is a
/// [`Stream`] of `Result<Bytes, StreamError>` and an [`http_body::Body`], so the whole
/// `futures` and `http-body` toolboxes apply.
///
/// # Guarantees
///
/// - **No empty chunks.** Empty chunks from a source are skipped, so a consumer never sees one.
/// - **Errors are terminal.** After a stream yields an error it yields nothing more.
/// - **The size hint is kept.** A stream that declares a length, with [`with_exact_len`] or
///   because its source did (a `Content-Length`, a known object size), delivers exactly that many
///   bytes or fails with [`StreamError::LengthMismatch`]; a consumer can trust [`len`] and
///   [`size_hint`]. Both report the bytes *still to come*, so they shrink as chunks are read.
/// - **Cheap in-memory streams.** A stream made from [`Bytes`], `Vec<u8>`, `String` or a
///   static slice neither copies nor allocates, and [`collect`] gives the same buffer back.
/// - **`Send` where it matters.** On native targets a `ByteStream` is `Send` and `Sync` (it
///   only touches its source through `&mut self`), so it fits hyper, axum, reqwest and the AWS
///   SDK. On `wasm32` no `Send` bound is asked of sources (see [`MaybeSend`]).
///
/// # Examples
///
/// ```
/// use alchemy_stream::ByteStream;
/// use bytes::Bytes;
///
/// # futures::executor::block_on(async {
/// let body = ByteStream::from_chunks(["hello", " ", "world"]);
/// assert_eq!(body.len(), Some(11));
/// let text = body.collect(1024).await?;
/// assert_eq!(text, Bytes::from_static(b"hello world"));
/// # Ok::<(), alchemy_stream::StreamError>(())
/// # }).unwrap();
/// ```
///
/// [`with_exact_len`]: Self::with_exact_len
/// [`len`]: Self::len
/// [`size_hint`]: Self::size_hint
/// [`collect`]: Self::collect
pub struct ByteStream {
    source: Source,
    /// Bytes still to come; a promise, enforced as chunks arrive.
    pub(crate) hint: SizeHint,
    /// Bytes delivered so far.
    delivered: u64,
}

// SAFETY: without the `atomics` target feature a wasm32 module runs on one thread, so a stream
// of JavaScript chunks never reaches another one; frameworks that ask for `Send` bodies (axum)
// take a Worker's bodies as they are.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Send for ByteStream {}

enum Source {
    /// One in-memory chunk, not yet delivered.
    Bytes(Bytes),
    /// Any other source of chunks.
    Stream(SyncWrapper<Pin<Box<dyn ChunkStream>>>),
    /// The source is exhausted; the next poll checks the declared length and ends.
    Exhausted,
    /// Finished: ended, failed, or its length check is done.
    Done,
}

impl ByteStream {
    /// A chunk size that suits most sources: 64 KiB.
    pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

    /// A stream of no bytes, with an exact length of zero.
    pub fn empty() -> Self {
        Self::with_source(Source::Exhausted, SizeHint::with_exact(0))
    }

    /// A stream over any [`Stream`] of chunks.
    ///
    /// The length is unknown; declare it with [`with_exact_len`](Self::with_exact_len) when the
    /// source knows it. Chunks may be anything that converts to [`Bytes`] and errors anything
    /// that converts to [`StreamError`] (such as [`std::io::Error`] or [`BoxError`](crate::BoxError)).
    ///
    /// ```
    /// use alchemy_stream::{ByteStream, StreamError};
    ///
    /// # futures::executor::block_on(async {
    /// let chunks = futures::stream::iter([Ok::<_, StreamError>("a"), Ok("b")]);
    /// let body = ByteStream::from_stream(chunks);
    /// assert_eq!(body.len(), None);
    /// assert_eq!(body.collect_unbounded().await?, "ab");
    /// # Ok::<(), StreamError>(())
    /// # }).unwrap();
    /// ```
    pub fn from_stream<S, B, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<B, E>> + MaybeSend + 'static,
        B: Into<Bytes>,
        E: Into<StreamError>,
    {
        let chunks = stream.map(|item| item.map(Into::into).map_err(Into::into));
        Self::from_chunk_stream(chunks, SizeHint::new())
    }

    /// A stream of the one chunk that `future` resolves to, read lazily on the first poll.
    ///
    /// ```
    /// use alchemy_stream::{ByteStream, StreamError};
    ///
    /// # futures::executor::block_on(async {
    /// let body = ByteStream::once(async { Ok::<_, StreamError>("fetched later") });
    /// assert_eq!(body.collect(64).await?, "fetched later");
    /// # Ok::<(), StreamError>(())
    /// # }).unwrap();
    /// ```
    pub fn once<F, B, E>(future: F) -> Self
    where
        F: Future<Output = Result<B, E>> + MaybeSend + 'static,
        B: Into<Bytes>,
        E: Into<StreamError>,
    {
        Self::from_stream(stream::once(future))
    }

    /// A stream of the given in-memory chunks, in order, with their total as its exact length.
    pub fn from_chunks<I>(chunks: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        let mut chunks: Vec<Bytes> = chunks
            .into_iter()
            .map(Into::into)
            .filter(|chunk| !chunk.is_empty())
            .collect();
        match chunks.len() {
            0 => Self::empty(),
            1 => Self::from(chunks.swap_remove(0)),
            _ => {
                let len = chunks.iter().map(|chunk| chunk.len() as u64).sum();
                Self::from_chunk_stream(
                    stream::iter(chunks.into_iter().map(Ok)),
                    SizeHint::with_exact(len),
                )
            }
        }
    }

    /// A stream that fails with `error` on its first poll, without delivering any bytes.
    pub fn from_error(error: impl Into<StreamError>) -> Self {
        let error = error.into();
        Self::from_chunk_stream(stream::once(async move { Err(error) }), SizeHint::new())
    }

    /// Declares that the stream delivers exactly `len` more bytes.
    ///
    /// A source that then delivers fewer or more fails with [`StreamError::LengthMismatch`]
    /// (when it ends early, or with the first chunk that overruns).
    pub fn with_exact_len(self, len: u64) -> Self {
        self.with_size_hint(SizeHint::with_exact(len))
    }

    /// Declares bounds on the bytes still to come.
    ///
    /// Both bounds are kept like an exact length: delivering fewer than
    /// [`lower`](SizeHint::lower) or more than [`upper`](SizeHint::upper) bytes fails with
    /// [`StreamError::LengthMismatch`].
    pub fn with_size_hint(mut self, hint: SizeHint) -> Self {
        self.hint = hint;
        self
    }

    /// The exact number of bytes still to come, when known.
    pub fn len(&self) -> Option<u64> {
        self.hint.exact()
    }

    /// Whether the stream is known to deliver no more bytes.
    pub fn is_empty(&self) -> bool {
        self.hint.upper() == Some(0)
    }

    /// Bounds on the bytes still to come (the same value as [`http_body::Body::size_hint`]).
    ///
    /// Not to be confused with [`Stream::size_hint`], which counts chunks.
    pub fn size_hint(&self) -> SizeHint {
        self.hint
    }

    pub(crate) fn from_chunk_stream(stream: impl ChunkStream + 'static, hint: SizeHint) -> Self {
        let stream: Pin<Box<dyn ChunkStream>> = Box::pin(stream);
        Self::with_source(Source::Stream(SyncWrapper::new(stream)), hint)
    }

    fn with_source(source: Source, hint: SizeHint) -> Self {
        Self {
            source,
            hint,
            delivered: 0,
        }
    }

    /// Whether polling is over (so [`http_body::Body::is_end_stream`] may say so).
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.source, Source::Done)
    }

    /// Whether the stream has nothing left to deliver or report, not even an error.
    pub(crate) fn is_spent(&self) -> bool {
        matches!(self.source, Source::Exhausted | Source::Done) && self.hint.upper() == Some(0)
    }

    fn finish(&mut self) {
        self.source = Source::Done;
        self.hint = SizeHint::with_exact(0);
    }

    /// Counts a chunk against the size hint.
    fn account(&mut self, chunk: Bytes) -> Result<Bytes, StreamError> {
        let len = chunk.len() as u64;
        let before = self.delivered;
        self.delivered = before.saturating_add(len);
        if let Some(upper) = self.hint.upper() {
            if len > upper {
                self.finish();
                return Err(StreamError::LengthMismatch {
                    expected: before + upper,
                    actual: self.delivered,
                });
            }
        }
        let mut rest = SizeHint::new();
        rest.set_lower(self.hint.lower().saturating_sub(len));
        if let Some(upper) = self.hint.upper() {
            rest.set_upper(upper - len);
        }
        self.hint = rest;
        Ok(chunk)
    }

    /// Checks, once the source is exhausted, that nothing that was promised is missing.
    fn check_end(&mut self) -> Option<StreamError> {
        let missing = self.hint.lower();
        let delivered = self.delivered;
        self.finish();
        (missing > 0).then_some(StreamError::LengthMismatch {
            expected: delivered + missing,
            actual: delivered,
        })
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let next = match &mut this.source {
                Source::Done => return Poll::Ready(None),
                Source::Exhausted => None,
                Source::Bytes(bytes) => {
                    let chunk = std::mem::take(bytes);
                    this.source = Source::Exhausted;
                    Some(Ok(chunk))
                }
                Source::Stream(stream) => ready!(stream.get_mut().as_mut().poll_next(cx)),
            };
            return Poll::Ready(match next {
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                Some(Ok(chunk)) => Some(this.account(chunk)),
                Some(Err(error)) => {
                    this.finish();
                    Some(Err(error))
                }
                None => this.check_end().map(Err),
            });
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.source {
            Source::Done => (0, Some(0)),
            _ => (0, None),
        }
    }
}

impl FusedStream for ByteStream {
    fn is_terminated(&self) -> bool {
        self.is_done()
    }
}

impl Default for ByteStream {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Bytes(_) => "bytes",
            Source::Stream(_) => "stream",
            Source::Exhausted => "exhausted",
            Source::Done => "done",
        };
        f.debug_struct("ByteStream")
            .field("source", &source)
            .field("lower", &self.hint.lower())
            .field("upper", &self.hint.upper())
            .field("delivered", &self.delivered)
            .finish()
    }
}

impl From<Bytes> for ByteStream {
    fn from(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            return Self::empty();
        }
        let hint = SizeHint::with_exact(bytes.len() as u64);
        Self::with_source(Source::Bytes(bytes), hint)
    }
}

impl From<BytesMut> for ByteStream {
    fn from(bytes: BytesMut) -> Self {
        Self::from(bytes.freeze())
    }
}

impl From<Vec<u8>> for ByteStream {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for ByteStream {
    fn from(bytes: &'static [u8]) -> Self {
        Self::from(Bytes::from_static(bytes))
    }
}

impl From<String> for ByteStream {
    fn from(text: String) -> Self {
        Self::from(Bytes::from(text))
    }
}

impl From<&'static str> for ByteStream {
    fn from(text: &'static str) -> Self {
        Self::from(Bytes::from_static(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use futures::executor::block_on;
    use futures::TryStreamExt;

    use super::*;

    fn chunks_of(stream: ByteStream) -> Vec<Result<Bytes, String>> {
        block_on(
            stream
                .map(|item| item.map_err(|error| error.to_string()))
                .collect(),
        )
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn is_send_and_sync_on_native() {
        fn send_sync<T: Send + Sync + Unpin + 'static>(_: &T) {}
        fn send<T: Send + 'static>(_: &T) {}
        send_sync(&ByteStream::empty());
        send(&ByteStream::empty().collect(1));
    }

    #[test]
    fn in_memory_constructors_have_exact_lengths() {
        assert_eq!(ByteStream::empty().len(), Some(0));
        assert_eq!(ByteStream::from(Bytes::from_static(b"abc")).len(), Some(3));
        assert_eq!(ByteStream::from(vec![1u8, 2]).len(), Some(2));
        assert_eq!(ByteStream::from(&b"abcd"[..]).len(), Some(4));
        assert_eq!(ByteStream::from(String::from("hello")).len(), Some(5));
        assert_eq!(ByteStream::from("hi").len(), Some(2));
        assert_eq!(ByteStream::from(BytesMut::from(&b"xyz"[..])).len(), Some(3));
        assert_eq!(ByteStream::default().len(), Some(0));
        assert_eq!(ByteStream::from_chunks(["ab", "", "cde"]).len(), Some(5));
    }

    #[test]
    fn in_memory_stream_gives_back_its_buffer() {
        let bytes = Bytes::from(vec![7u8; 1000]);
        let collected = block_on(ByteStream::from(bytes.clone()).collect(1000)).unwrap();
        assert_eq!(collected.as_ptr(), bytes.as_ptr(), "the buffer was copied");
    }

    #[test]
    fn len_shrinks_as_chunks_are_read() {
        let mut stream = ByteStream::from_chunks(["abc", "de", "f"]);
        assert_eq!(stream.len(), Some(6));
        assert_eq!(block_on(stream.try_next()).unwrap().unwrap(), "abc");
        assert_eq!(stream.len(), Some(3));
        assert_eq!(block_on(stream.try_next()).unwrap().unwrap(), "de");
        assert_eq!(stream.len(), Some(1));
        assert_eq!(block_on(stream.try_next()).unwrap().unwrap(), "f");
        assert_eq!(stream.len(), Some(0));
        assert!(stream.is_empty());
        assert!(block_on(stream.try_next()).unwrap().is_none());
        assert!(stream.is_terminated());
    }

    #[test]
    fn empty_chunks_are_skipped() {
        let source = stream::iter(["", "a", "", "", "b", ""].map(Ok::<_, StreamError>));
        let chunks = chunks_of(ByteStream::from_stream(source));
        assert_eq!(
            chunks,
            vec![Ok(Bytes::from_static(b"a")), Ok(Bytes::from_static(b"b"))]
        );
    }

    #[test]
    fn short_stream_with_declared_length_fails() {
        let stream = ByteStream::from_chunks(["abc", "de"]).with_exact_len(8);
        let error = block_on(stream.collect_unbounded()).unwrap_err();
        assert!(
            matches!(
                error,
                StreamError::LengthMismatch {
                    expected: 8,
                    actual: 5
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn long_stream_with_declared_length_fails_at_the_overrunning_chunk() {
        let stream = ByteStream::from_chunks(["abc", "de", "fgh"]).with_exact_len(4);
        let chunks = chunks_of(stream);
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert_eq!(chunks[0], Ok(Bytes::from_static(b"abc")));
        assert_eq!(
            chunks[1],
            Err(StreamError::LengthMismatch {
                expected: 4,
                actual: 5
            }
            .to_string())
        );
    }

    #[test]
    fn single_buffer_with_wrong_declared_length_fails() {
        let error = block_on(ByteStream::from("abc").with_exact_len(2).collect(10)).unwrap_err();
        assert!(matches!(
            error,
            StreamError::LengthMismatch {
                expected: 2,
                actual: 3
            }
        ));
        let error = block_on(ByteStream::from("abc").with_exact_len(5).collect(10)).unwrap_err();
        assert!(matches!(
            error,
            StreamError::LengthMismatch {
                expected: 5,
                actual: 3
            }
        ));
    }

    #[test]
    fn bounds_are_kept_like_a_length() {
        let mut hint = SizeHint::new();
        hint.set_lower(2);
        hint.set_upper(4);
        let fine = ByteStream::from_stream(stream::iter([Ok::<_, StreamError>("abc")]))
            .with_size_hint(hint);
        assert_eq!(block_on(fine.collect(10)).unwrap(), "abc");

        let short =
            ByteStream::from_stream(stream::iter([Ok::<_, StreamError>("a")])).with_size_hint(hint);
        assert!(matches!(
            block_on(short.collect(10)),
            Err(StreamError::LengthMismatch {
                expected: 2,
                actual: 1
            })
        ));

        let long = ByteStream::from_stream(stream::iter([Ok::<_, StreamError>("abcde")]))
            .with_size_hint(hint);
        assert!(matches!(
            block_on(long.collect(10)),
            Err(StreamError::LengthMismatch {
                expected: 4,
                actual: 5
            })
        ));
    }

    #[test]
    fn errors_are_terminal() {
        let source = stream::iter([
            Ok(Bytes::from_static(b"a")),
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
            Ok(Bytes::from_static(b"never")),
        ]);
        let chunks = chunks_of(ByteStream::from_stream(source));
        assert_eq!(
            chunks,
            vec![Ok(Bytes::from_static(b"a")), Err("reset".to_string())]
        );
    }

    #[test]
    fn from_error_fails_first() {
        let stream = ByteStream::from_error(StreamError::TooLarge { limit: 3 });
        assert_eq!(
            stream.len(),
            None,
            "a failing stream must not claim to be empty"
        );
        assert!(matches!(
            block_on(stream.collect(10)),
            Err(StreamError::TooLarge { limit: 3 })
        ));
    }

    #[test]
    fn once_reads_its_future_lazily() {
        let stream = ByteStream::once(async { Ok::<_, io::Error>(vec![1u8, 2, 3]) });
        assert_eq!(stream.len(), None);
        assert_eq!(block_on(stream.collect(3)).unwrap(), vec![1u8, 2, 3]);
    }

    #[test]
    fn debug_shows_source_and_hint() {
        let text = format!("{:?}", ByteStream::from("abc"));
        assert!(text.contains("bytes"), "{text}");
        assert!(text.contains("lower: 3"), "{text}");
    }
}
