//! [`ByteStream::copy_to`]: writing a stream into an `AsyncWrite`.

use futures::TryStreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{ByteStream, StreamError};

impl ByteStream {
    /// Writes every chunk to `writer` as it arrives, then flushes it; returns the number of
    /// bytes written.
    ///
    /// Only one chunk is held at a time. The writer is not shut down, so more may be written
    /// to it afterwards. Read errors and write errors both end the copy; a write error becomes
    /// [`StreamError::Io`].
    ///
    /// ```
    /// use alchemy_stream::ByteStream;
    ///
    /// # futures::executor::block_on(async {
    /// let mut out = Vec::new();
    /// let written = ByteStream::from_chunks(["ab", "cd"]).copy_to(&mut out).await?;
    /// assert_eq!((written, out.as_slice()), (4, &b"abcd"[..]));
    /// # Ok::<(), alchemy_stream::StreamError>(())
    /// # }).unwrap();
    /// ```
    pub async fn copy_to<W>(mut self, writer: &mut W) -> Result<u64, StreamError>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut written = 0u64;
        while let Some(chunk) = self.try_next().await? {
            writer.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        writer.flush().await?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures::executor::block_on;

    use super::*;

    /// Accepts up to `capacity` bytes, then fails every write.
    struct FullDisk {
        written: Vec<u8>,
        capacity: usize,
    }

    impl AsyncWrite for FullDisk {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let room = self.capacity - self.written.len();
            if room == 0 {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::StorageFull, "disk full")));
            }
            let amount = room.min(buf.len());
            self.written.extend_from_slice(&buf[..amount]);
            Poll::Ready(Ok(amount))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn copies_everything_and_counts_it() {
        let mut sink = FullDisk {
            written: Vec::new(),
            capacity: 100,
        };
        let written =
            block_on(ByteStream::from_chunks(["abc", "defg"]).copy_to(&mut sink)).unwrap();
        assert_eq!(written, 7);
        assert_eq!(sink.written, b"abcdefg");
    }

    #[test]
    fn write_errors_end_the_copy() {
        let mut sink = FullDisk {
            written: Vec::new(),
            capacity: 4,
        };
        let error =
            block_on(ByteStream::from_chunks(["abc", "defg"]).copy_to(&mut sink)).unwrap_err();
        assert!(matches!(error, StreamError::Io(e) if e.kind() == io::ErrorKind::StorageFull));
        assert_eq!(sink.written, b"abcd");
    }

    #[test]
    fn read_errors_end_the_copy() {
        let mut out = Vec::new();
        let stream = ByteStream::from("abc")
            .chain(ByteStream::from_error(StreamError::TooLarge { limit: 3 }));
        let error = block_on(stream.copy_to(&mut out)).unwrap_err();
        assert!(matches!(error, StreamError::TooLarge { limit: 3 }));
        assert_eq!(out, b"abc");
    }
}
