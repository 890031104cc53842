//! [`ByteStream::from_async_read`]: chunks read from an `AsyncRead`.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use http_body::SizeHint;
use tokio::io::{AsyncRead, ReadBuf};

use crate::{ByteStream, MaybeSend, StreamError};

impl ByteStream {
    /// A stream of chunks of at most `chunk_size` bytes read from `reader`, ending at its end
    /// of file.
    ///
    /// Reading happens only as the stream is polled, into one reused buffer of `chunk_size`
    /// bytes, so memory stays bounded however long the reader is.
    /// [`ByteStream::DEFAULT_CHUNK_SIZE`] suits most readers. The length is unknown; declare
    /// it with [`with_exact_len`](Self::with_exact_len) when the reader's size is known.
    ///
    /// # Panics
    ///
    /// If `chunk_size` is zero.
    ///
    /// ```
    /// use alchemy_stream::ByteStream;
    ///
    /// # futures::executor::block_on(async {
    /// let reader = std::io::Cursor::new(b"from a reader".to_vec());
    /// let stream = ByteStream::from_async_read(reader, ByteStream::DEFAULT_CHUNK_SIZE);
    /// assert_eq!(stream.collect(64).await?, "from a reader");
    /// # Ok::<(), alchemy_stream::StreamError>(())
    /// # }).unwrap();
    /// ```
    pub fn from_async_read<R>(reader: R, chunk_size: usize) -> Self
    where
        R: AsyncRead + MaybeSend + 'static,
    {
        assert!(
            chunk_size > 0,
            "ByteStream::from_async_read needs a chunk size of at least 1 byte"
        );
        let chunks = ReaderChunks {
            reader,
            buffer: BytesMut::new(),
            chunk_size,
            done: false,
        };
        Self::from_chunk_stream(chunks, SizeHint::new())
    }
}

pin_project_lite::pin_project! {
    /// The stream behind [`ByteStream::from_async_read`].
    struct ReaderChunks<R> {
        #[pin]
        reader: R,
        buffer: BytesMut,
        chunk_size: usize,
        done: bool,
    }
}

impl<R: AsyncRead> Stream for ReaderChunks<R> {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if this.buffer.is_empty() {
            // Reuses the allocation once the consumer has dropped the previous chunk.
            this.buffer.resize(*this.chunk_size, 0);
        }
        let mut read_buf = ReadBuf::new(&mut this.buffer[..]);
        let result = ready!(this.reader.poll_read(cx, &mut read_buf));
        let filled = read_buf.filled().len();
        match result {
            Err(error) => {
                *this.done = true;
                *this.buffer = BytesMut::new();
                Poll::Ready(Some(Err(error.into())))
            }
            Ok(()) if filled == 0 => {
                *this.done = true;
                *this.buffer = BytesMut::new();
                Poll::Ready(None)
            }
            Ok(()) => Poll::Ready(Some(Ok(this.buffer.split_to(filled).freeze()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Cursor};

    use futures::executor::block_on;
    use futures::TryStreamExt;

    use super::*;

    #[test]
    fn chunks_are_at_most_the_chunk_size() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let stream = ByteStream::from_async_read(Cursor::new(data.clone()), 300);
        let chunks: Vec<Bytes> = block_on(stream.try_collect()).unwrap();
        assert!(chunks.iter().all(|chunk| chunk.len() <= 300), "{chunks:?}");
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn reader_errors_keep_their_kind() {
        let reader = tokio_test_reader(io::ErrorKind::ConnectionReset);
        let error = block_on(ByteStream::from_async_read(reader, 16).collect(100)).unwrap_err();
        assert!(matches!(error, StreamError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset));
    }

    #[test]
    fn declared_length_is_checked_against_the_reader() {
        let stream = ByteStream::from_async_read(Cursor::new(b"abc".to_vec()), 2).with_exact_len(4);
        assert!(matches!(
            block_on(stream.collect(10)),
            Err(StreamError::LengthMismatch {
                expected: 4,
                actual: 3
            })
        ));
    }

    #[test]
    #[should_panic(expected = "at least 1 byte")]
    fn zero_chunk_size_is_refused() {
        let _ = ByteStream::from_async_read(Cursor::new(Vec::new()), 0);
    }

    /// A reader that delivers two bytes, then fails with `kind`.
    fn tokio_test_reader(kind: io::ErrorKind) -> impl AsyncRead + Send + 'static {
        use tokio::io::AsyncReadExt;
        Cursor::new(b"ok".to_vec()).chain(FailingReader(kind))
    }

    struct FailingReader(io::ErrorKind);

    impl AsyncRead for FailingReader {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Err(io::Error::new(self.0, "reader failed")))
        }
    }
}
