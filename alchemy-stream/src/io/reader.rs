//! [`ByteStreamReader`]: a [`ByteStream`] read through `AsyncRead` / `AsyncBufRead`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures::StreamExt;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

use crate::ByteStream;

/// A [`ByteStream`] as an [`AsyncRead`] and [`AsyncBufRead`], made by
/// [`ByteStream::into_async_read`].
///
/// It holds at most one chunk of the stream at a time. Stream errors become [`io::Error`]s that
/// carry the original [`StreamError`](crate::StreamError), so converting back with
/// `StreamError::from` recovers it.
#[derive(Debug)]
pub struct ByteStreamReader {
    stream: ByteStream,
    chunk: Bytes,
}

impl ByteStream {
    /// Reads this stream through [`AsyncRead`] / [`AsyncBufRead`].
    ///
    /// ```
    /// use alchemy_stream::ByteStream;
    /// use tokio::io::AsyncReadExt;
    ///
    /// # futures::executor::block_on(async {
    /// let mut reader = ByteStream::from_chunks(["hello ", "world"]).into_async_read();
    /// let mut text = String::new();
    /// reader.read_to_string(&mut text).await?;
    /// assert_eq!(text, "hello world");
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn into_async_read(self) -> ByteStreamReader {
        ByteStreamReader {
            stream: self,
            chunk: Bytes::new(),
        }
    }
}

impl ByteStreamReader {
    /// The bytes not read yet, as a stream again (the buffered part of a chunk first).
    pub fn into_stream(self) -> ByteStream {
        ByteStream::from(self.chunk).chain(self.stream)
    }
}

impl AsyncBufRead for ByteStreamReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.chunk.is_empty() {
            match ready!(this.stream.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => this.chunk = chunk,
                Some(Err(error)) => return Poll::Ready(Err(error.into())),
                None => break,
            }
        }
        Poll::Ready(Ok(&this.chunk))
    }

    fn consume(self: Pin<&mut Self>, amount: usize) {
        let chunk = &mut self.get_mut().chunk;
        chunk.advance(amount.min(chunk.len()));
    }
}

impl AsyncRead for ByteStreamReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let amount = available.len().min(buf.remaining());
        buf.put_slice(&available[..amount]);
        self.consume(amount);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};

    use super::*;
    use crate::StreamError;

    #[test]
    fn reads_across_chunks_with_small_buffers() {
        let mut reader = ByteStream::from_chunks(["abc", "defg", "h"]).into_async_read();
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = block_on(reader.read(&mut buf)).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"abcdefgh");
    }

    #[test]
    fn buffered_reads_see_whole_chunks() {
        let mut reader = ByteStream::from_chunks(["one\ntw", "o\n"]).into_async_read();
        let mut line = String::new();
        block_on(reader.read_line(&mut line)).unwrap();
        assert_eq!(line, "one\n");
        line.clear();
        block_on(reader.read_line(&mut line)).unwrap();
        assert_eq!(line, "two\n");
    }

    #[test]
    fn stream_errors_survive_the_reader() {
        let stream = ByteStream::from("abc").with_exact_len(5);
        let mut out = Vec::new();
        let error = block_on(stream.into_async_read().read_to_end(&mut out)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(matches!(
            StreamError::from(error),
            StreamError::LengthMismatch {
                expected: 5,
                actual: 3
            }
        ));
    }

    #[test]
    fn into_stream_returns_the_unread_rest() {
        let mut reader = ByteStream::from_chunks(["abcd", "ef"]).into_async_read();
        let mut two = [0u8; 2];
        block_on(reader.read_exact(&mut two)).unwrap();
        let rest = reader.into_stream();
        assert_eq!(rest.len(), Some(4));
        assert_eq!(block_on(rest.collect(4)).unwrap(), "cdef");
    }
}
