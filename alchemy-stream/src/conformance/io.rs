//! [`PatternReader`] and [`PatternWriter`]: an `AsyncRead` source and an `AsyncWrite` sink of
//! [`Pattern`] bytes that count what they move.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{InFlight, Pattern};
use crate::StreamError;

/// An [`AsyncRead`] of the first `total` bytes of the [`Pattern`], made as they are read and
/// counted as produced by its [`InFlight`].
#[derive(Debug)]
pub struct PatternReader {
    pattern: Pattern,
    offset: u64,
    total: u64,
    in_flight: InFlight,
}

impl PatternReader {
    /// A reader of `total` pattern bytes that records them in `in_flight`.
    pub fn new(total: u64, in_flight: InFlight) -> Self {
        Self {
            pattern: Pattern::new(),
            offset: 0,
            total,
            in_flight,
        }
    }
}

impl AsyncRead for PatternReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let left = this.total - this.offset;
        let len = (buf.remaining() as u64).min(left) as usize;
        let out = buf.initialize_unfilled_to(len);
        this.pattern.fill(this.offset, out);
        buf.advance(len);
        this.offset += len as u64;
        this.in_flight.record_produced(len as u64);
        Poll::Ready(Ok(()))
    }
}

/// An [`AsyncWrite`] that checks everything written against the [`Pattern`] and counts it as
/// consumed by its [`InFlight`], keeping nothing.
///
/// A byte that differs from the pattern fails the write with
/// [`io::ErrorKind::InvalidData`].
#[derive(Debug)]
pub struct PatternWriter {
    pattern: Pattern,
    written: u64,
    in_flight: InFlight,
}

impl PatternWriter {
    /// A writer that records what it receives in `in_flight`.
    pub fn new(in_flight: InFlight) -> Self {
        Self {
            pattern: Pattern::new(),
            written: 0,
            in_flight,
        }
    }

    /// The bytes written so far, all of them checked.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl AsyncWrite for PatternWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.in_flight.record_consumed(buf.len() as u64);
        if let Some(at) = this.pattern.find_mismatch(this.written, buf) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("byte {at} written differs from the pattern"),
            )));
        }
        this.written += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Copies `total` pattern bytes from a [`PatternReader`] to a [`PatternWriter`] through `copy`
/// and checks that every byte arrived intact and that no more than `max_in_flight` bytes were
/// read but not yet written at any moment (counted, not timed).
///
/// `copy` is the implementation under test, for example
/// `async |reader, writer| ByteStream::from_async_read(reader, 64 * 1024).copy_to(writer).await`,
/// or an upload of the reader followed by a download into the writer.
pub async fn copy_bounded_memory(
    total: u64,
    max_in_flight: u64,
    copy: impl AsyncFn(PatternReader, &mut PatternWriter) -> Result<u64, StreamError>,
) {
    let in_flight = InFlight::new();
    let reader = PatternReader::new(total, in_flight.clone());
    let mut writer = PatternWriter::new(in_flight.clone());
    let copied = copy(reader, &mut writer)
        .await
        .unwrap_or_else(|error| panic!("bounded copy: the copy failed: {error}"));
    assert_eq!(
        (copied, writer.written()),
        (total, total),
        "bounded copy: (reported, written) bytes differ from the {total} read"
    );
    assert!(
        in_flight.peak() <= max_in_flight,
        "bounded copy: up to {} bytes were held at once, more than the {max_in_flight} allowed",
        in_flight.peak()
    );
}
