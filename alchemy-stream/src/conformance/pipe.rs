//! Tests for *pipes*: implementations that take a [`ByteStream`] in and give one back out.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::{self, Stream};
use futures::TryStreamExt;

use super::check::{describe, same_bytes};
use super::{payload, InFlight, Pattern, PAYLOAD_SIZES};
use crate::{ByteStream, StreamError};

/// The chunk size of the input that [`pipe_bounded_memory`] feeds in: 16 KiB.
pub const BOUNDED_MEMORY_CHUNK: usize = 16 * 1024;

/// How a pipe test splits its input into chunks.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One chunk.
    Whole,
    /// Chunks of one byte (used for smaller payloads only).
    Bytes,
    /// Chunks of 1000 bytes.
    Fixed,
    /// Chunks of irregular sizes, each after a `Pending` poll.
    Irregular,
}

const SHAPES: [Shape; 4] = [Shape::Whole, Shape::Bytes, Shape::Fixed, Shape::Irregular];
const IRREGULAR: [usize; 7] = [1, 7, 4096, 3, 65_536, 2, 999];

fn split(data: &Bytes, shape: Shape) -> Vec<Bytes> {
    let sizes: Box<dyn Iterator<Item = usize>> = match shape {
        Shape::Whole => Box::new(std::iter::once(data.len().max(1))),
        Shape::Bytes => Box::new(std::iter::repeat(1)),
        Shape::Fixed => Box::new(std::iter::repeat(1000)),
        Shape::Irregular => Box::new(IRREGULAR.into_iter().cycle()),
    };
    let mut chunks = Vec::new();
    let mut offset = 0;
    for size in sizes {
        if offset >= data.len() {
            break;
        }
        let end = (offset + size).min(data.len());
        chunks.push(data.slice(offset..end));
        offset = end;
    }
    chunks
}

/// The input stream of a case: `chunks`, with or without their total declared.
fn input(chunks: Vec<Bytes>, shape: Shape, declared: bool) -> ByteStream {
    let total: u64 = chunks.iter().map(|chunk| chunk.len() as u64).sum();
    let items = stream::iter(chunks.into_iter().map(Ok::<_, StreamError>));
    let stream = match shape {
        Shape::Irregular => ByteStream::from_stream(YieldFirst::new(items)),
        _ => ByteStream::from_stream(items),
    };
    if declared {
        stream.with_exact_len(total)
    } else {
        stream
    }
}

/// Every pipe delivers exactly the bytes that went in, whatever the chunking and whether or not
/// the input declares its length.
///
/// `pipe` receives an input stream and returns the stream that comes out of the
/// implementation: for an HTTP adapter, the request body as the handler sees it; for a bucket,
/// put the input and return a read. Inputs are the payloads of [`PAYLOAD_SIZES`] in one chunk,
/// in one-byte chunks (up to 64 KiB), in 1000-byte chunks and in irregular chunks that each
/// follow a `Pending` poll (which checks that wakeups are passed on).
pub async fn pipe_roundtrip(pipe: impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>) {
    for &size in PAYLOAD_SIZES {
        let data = payload(size);
        for shape in SHAPES {
            if matches!(shape, Shape::Bytes) && size > 65_537 {
                continue;
            }
            for declared in [true, false] {
                let case = format!(
                    "pipe roundtrip, {}, {shape:?} chunks, length {}",
                    describe(&data),
                    if declared { "declared" } else { "unknown" }
                );
                let output = pipe(input(split(&data, shape), shape, declared))
                    .await
                    .unwrap_or_else(|error| panic!("{case}: the pipe failed: {error}"));
                if let Some(len) = output.len() {
                    assert_eq!(
                        len, size as u64,
                        "{case}: the output declares a wrong length"
                    );
                }
                let received = output
                    .collect_unbounded()
                    .await
                    .unwrap_or_else(|error| panic!("{case}: the output failed: {error}"));
                same_bytes(&case, &received, &data);
            }
        }
    }
}

/// Every pipe passes a declared input length on: the output's [`ByteStream::len`] equals the
/// input's.
///
/// For implementations that carry the length (a `Content-Length`, an object size).
pub async fn pipe_exact_length(pipe: impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>) {
    for &size in PAYLOAD_SIZES {
        let data = payload(size);
        let case = format!("pipe exact length, {}", describe(&data));
        let output = pipe(input(split(&data, Shape::Fixed), Shape::Fixed, true))
            .await
            .unwrap_or_else(|error| panic!("{case}: the pipe failed: {error}"));
        assert_eq!(
            output.len(),
            Some(size as u64),
            "{case}: the output does not declare the input's length"
        );
        let received = output
            .collect_unbounded()
            .await
            .unwrap_or_else(|error| panic!("{case}: the output failed: {error}"));
        same_bytes(&case, &received, &data);
    }
}

/// A failing input of the error tests: its description, the stream, and a check of the error
/// it must fail with.
type FailingInput = (&'static str, ByteStream, fn(&StreamError) -> bool);

fn failing_inputs() -> Vec<FailingInput> {
    let reset = || {
        io::Error::new(
            io::ErrorKind::ConnectionReset,
            "conformance: upstream reset",
        )
    };
    let chunks = |size| split(&payload(size), Shape::Fixed);
    vec![
        (
            "an I/O error after 10 000 bytes",
            input(chunks(10_000), Shape::Fixed, false).chain(ByteStream::from_error(reset())),
            |error| matches!(error, StreamError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
        ),
        (
            "an I/O error before any byte",
            ByteStream::from_error(reset()),
            |error| matches!(error, StreamError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
        ),
        (
            "a declared length of 20 000 with 10 000 bytes delivered",
            input(chunks(10_000), Shape::Fixed, false).with_exact_len(20_000),
            |error| {
                matches!(
                    error,
                    StreamError::LengthMismatch {
                        expected: 20_000,
                        actual: 10_000
                    }
                )
            },
        ),
        (
            "a declared length of 5 000 with 10 000 bytes delivered",
            input(chunks(10_000), Shape::Fixed, false).with_exact_len(5_000),
            |error| {
                matches!(
                    error,
                    StreamError::LengthMismatch {
                        expected: 5_000,
                        ..
                    }
                )
            },
        ),
    ]
}

/// Runs the pipe on a failing input; the error it surfaces, if any.
async fn surfaced_error(
    pipe: &impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>,
    input: ByteStream,
) -> Option<StreamError> {
    match pipe(input).await {
        Err(error) => Some(error),
        Ok(output) => output.collect_unbounded().await.err(),
    }
}

/// A failing input makes the pipe fail: an I/O error before or after data, or an input whose
/// declared length is not kept. The failure may come from the pipe call itself or from the
/// output stream; what matters is that the output never looks complete.
///
/// For every implementation, including ones that cross a network (where the error arrives as
/// a broken connection).
pub async fn pipe_propagates_errors(
    pipe: impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>,
) {
    for (case, input, _) in failing_inputs() {
        assert!(
            surfaced_error(&pipe, input).await.is_some(),
            "pipe errors, {case}: the pipe completed although its input failed"
        );
    }
}

/// Like [`pipe_propagates_errors`], and the error that comes out is the one that went in: the
/// same [`StreamError`] variant, and for I/O errors the same [`io::ErrorKind`].
///
/// For in-process implementations, where nothing stands between input and output that could
/// lose the error's meaning.
pub async fn pipe_preserves_errors(
    pipe: impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>,
) {
    for (case, input, expected) in failing_inputs() {
        match surfaced_error(&pipe, input).await {
            Some(error) => assert!(
                expected(&error),
                "pipe errors, {case}: the error changed on the way to {error:?}"
            ),
            None => panic!("pipe errors, {case}: the pipe completed although its input failed"),
        }
    }
}

/// Moves `total` bytes through the pipe and checks that it never holds more than
/// `max_in_flight` bytes at once: the bytes pulled from the input, less the bytes delivered by
/// the output, counted by [`InFlight`] (no timing).
///
/// The input is the [`Pattern`], made lazily in chunks of [`BOUNDED_MEMORY_CHUNK`] bytes with a
/// declared length; every output byte is checked against it. `max_in_flight` is the
/// implementation's buffering plus a chunk or two: for example `4 * BOUNDED_MEMORY_CHUNK` for
/// a pipe that holds one input chunk and one output chunk.
pub async fn pipe_bounded_memory(
    pipe: impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>,
    total: u64,
    max_in_flight: u64,
) {
    let in_flight = InFlight::new();
    let pattern = Pattern::new();
    let input = in_flight.track_produced(pattern.stream(total, BOUNDED_MEMORY_CHUNK));
    let mut output = pipe(input)
        .await
        .unwrap_or_else(|error| panic!("bounded memory: the pipe failed: {error}"));
    let mut offset = 0u64;
    loop {
        let chunk = match output.try_next().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => panic!("bounded memory: the output failed after {offset} bytes: {error}"),
        };
        in_flight.record_consumed(chunk.len() as u64);
        if let Some(at) = pattern.find_mismatch(offset, &chunk) {
            panic!("bounded memory: byte {at} of the output differs from the input");
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(
        offset, total,
        "bounded memory: the output has {offset} bytes, the input {total}"
    );
    assert!(
        in_flight.peak() <= max_in_flight,
        "bounded memory: the pipe held up to {} bytes at once, more than the {max_in_flight} allowed",
        in_flight.peak()
    );
}

pin_project_lite::pin_project! {
    /// Returns `Pending` (waking at once) before each item of the inner stream.
    struct YieldFirst<S> {
        #[pin]
        inner: S,
        yielded: bool,
    }
}

impl<S> YieldFirst<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            yielded: false,
        }
    }
}

impl<S: Stream> Stream for YieldFirst<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if !*this.yielded {
            *this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let item = this.inner.poll_next(cx);
        if item.is_ready() {
            *this.yielded = false;
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::StreamExt;

    use super::*;

    #[test]
    fn shapes_cover_the_payload_in_order() {
        let data = payload(70_000);
        for shape in SHAPES {
            let chunks = split(&data, shape);
            assert!(chunks.iter().all(|chunk| !chunk.is_empty()), "{shape:?}");
            assert_eq!(chunks.concat(), data, "{shape:?}");
        }
        assert!(split(&Bytes::new(), Shape::Whole).is_empty());
    }

    #[test]
    fn yield_first_returns_pending_before_each_item() {
        let mut stream = YieldFirst::new(stream::iter([1, 2]));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut polls = Vec::new();
        loop {
            match Pin::new(&mut stream).poll_next(&mut cx) {
                Poll::Ready(None) => break,
                Poll::Ready(Some(item)) => polls.push(Some(item)),
                Poll::Pending => polls.push(None),
            }
        }
        assert_eq!(polls, [None, Some(1), None, Some(2), None]);
        assert_eq!(
            block_on(YieldFirst::new(stream::iter([3])).collect::<Vec<_>>()),
            [3]
        );
    }

    #[test]
    fn a_pipe_that_loses_errors_is_caught() {
        let swallow = async |input: ByteStream| {
            let kept: Vec<Bytes> = input
                .take_while(|item| futures::future::ready(item.is_ok()))
                .map(|item| item.unwrap_or_default())
                .collect()
                .await;
            Ok(ByteStream::from_chunks(kept))
        };
        let outcome = std::panic::catch_unwind(|| block_on(pipe_propagates_errors(swallow)));
        assert!(outcome.is_err(), "an error-swallowing pipe passed");
    }

    #[test]
    fn a_pipe_that_buffers_everything_is_caught() {
        let buffer_all =
            async |input: ByteStream| Ok(ByteStream::from(input.collect_unbounded().await?));
        let outcome = std::panic::catch_unwind(|| {
            block_on(pipe_bounded_memory(
                buffer_all,
                1 << 20,
                4 * BOUNDED_MEMORY_CHUNK as u64,
            ))
        });
        assert!(
            outcome.is_err(),
            "a buffering pipe passed the bounded memory test"
        );
    }
}
