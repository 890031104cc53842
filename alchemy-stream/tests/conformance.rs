//! The conformance suite, run on this crate's own sources and adapters.

use std::io::Cursor;

use alchemy_stream::conformance::{self, BOUNDED_MEMORY_CHUNK};
use alchemy_stream::{ByteStream, StreamError};
use bytes::Bytes;
use futures::executor::block_on;
use futures::stream::{self, StreamExt};
use http_body_util::{BodyExt, Full};
use tokio::io::AsyncWriteExt;

/// Enough to cross every buffer many times over.
const BOUNDED_TOTAL: u64 = 32 << 20;

/// The input chunk, an output chunk and one buffer of the pipe.
const BOUNDED_IN_FLIGHT: u64 = 4 * BOUNDED_MEMORY_CHUNK as u64;

fn pieces(data: &Bytes, size: usize) -> Vec<Bytes> {
    data.chunks(size).map(Bytes::copy_from_slice).collect()
}

fn unsized_stream(data: &Bytes) -> ByteStream {
    ByteStream::from_stream(stream::iter(
        pieces(data, 4096).into_iter().map(Ok::<_, StreamError>),
    ))
}

// Sources.

#[test]
fn source_bytes() {
    let make = async |data: Bytes| ByteStream::from(data);
    block_on(conformance::roundtrip(make));
    block_on(conformance::exact_length(make));
    block_on(conformance::limits(make));
}

#[test]
fn source_vec() {
    let make = async |data: Bytes| ByteStream::from(data.to_vec());
    block_on(conformance::roundtrip(make));
    block_on(conformance::exact_length(make));
    block_on(conformance::limits(make));
}

#[test]
fn source_chunks() {
    let make = async |data: Bytes| ByteStream::from_chunks(pieces(&data, 1000));
    block_on(conformance::roundtrip(make));
    block_on(conformance::exact_length(make));
    block_on(conformance::limits(make));
}

#[test]
fn source_stream_with_declared_length() {
    let make = async |data: Bytes| unsized_stream(&data).with_exact_len(data.len() as u64);
    block_on(conformance::roundtrip(make));
    block_on(conformance::exact_length(make));
    block_on(conformance::limits(make));
}

#[test]
fn source_stream_of_unknown_length() {
    let make = async |data: Bytes| unsized_stream(&data);
    block_on(conformance::roundtrip(make));
    block_on(conformance::limits(make));
}

#[test]
fn source_once() {
    let make = async |data: Bytes| ByteStream::once(async move { Ok::<_, StreamError>(data) });
    block_on(conformance::roundtrip(make));
    block_on(conformance::limits(make));
}

#[test]
fn source_http_body() {
    let make = async |data: Bytes| ByteStream::from_body(Full::new(data));
    block_on(conformance::roundtrip(make));
    block_on(conformance::exact_length(make));
    block_on(conformance::limits(make));
}

#[test]
fn source_async_read() {
    let make = async |data: Bytes| ByteStream::from_async_read(Cursor::new(data), 4096);
    block_on(conformance::roundtrip(make));
    block_on(conformance::limits(make));
    let sized = async |data: Bytes| {
        let len = data.len() as u64;
        ByteStream::from_async_read(Cursor::new(data), 4096).with_exact_len(len)
    };
    block_on(conformance::exact_length(sized));
}

// Pipes.

/// Runs the whole pipe suite; `exact` for pipes that carry the length.
fn pipe_suite(pipe: impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>, exact: bool) {
    block_on(async {
        conformance::roundtrip(async |data| pipe(ByteStream::from(data)).await.unwrap()).await;
        conformance::limits(async |data| pipe(ByteStream::from(data)).await.unwrap()).await;
        conformance::pipe_roundtrip(&pipe).await;
        if exact {
            conformance::pipe_exact_length(&pipe).await;
        }
        conformance::pipe_propagates_errors(&pipe).await;
        conformance::pipe_preserves_errors(&pipe).await;
        conformance::pipe_bounded_memory(&pipe, BOUNDED_TOTAL, BOUNDED_IN_FLIGHT).await;
    });
}

#[test]
fn pipe_identity() {
    pipe_suite(async |input| Ok(input), true);
}

#[test]
fn pipe_foreign_http_body() {
    // `map_err` hides the ByteStream, so `from_body` really reads a foreign body.
    pipe_suite(
        async |input: ByteStream| Ok(ByteStream::from_body(input.map_err(|error| error))),
        true,
    );
    pipe_suite(
        async |input: ByteStream| Ok(ByteStream::from_body(input.boxed_unsync())),
        true,
    );
}

#[test]
fn pipe_http_body_unwrapped() {
    pipe_suite(async |input| Ok(ByteStream::from_body(input)), true);
}

#[test]
fn pipe_limit() {
    pipe_suite(async |input: ByteStream| Ok(input.limit(u64::MAX)), true);
}

#[test]
fn pipe_chain() {
    let empty = || ByteStream::from_stream(stream::empty::<Result<Bytes, StreamError>>());
    pipe_suite(
        async |input: ByteStream| Ok(empty().with_exact_len(0).chain(input)),
        true,
    );
    pipe_suite(async |input: ByteStream| Ok(input.chain(empty())), false);
}

#[test]
fn pipe_inspect_chunks() {
    pipe_suite(
        async |input: ByteStream| Ok(input.inspect_chunks(|_| {})),
        true,
    );
}

#[test]
fn pipe_max_chunk_size() {
    pipe_suite(
        async |input: ByteStream| Ok(input.max_chunk_size(1000)),
        true,
    );
}

#[test]
fn pipe_async_read_round_trip() {
    pipe_suite(
        async |input: ByteStream| Ok(ByteStream::from_async_read(input.into_async_read(), 8192)),
        false,
    );
}

#[test]
fn pipe_copy_to_through_a_duplex() {
    pipe_suite(through_duplex, true);
}

/// `copy_to` into one end of an in-memory pipe, `from_async_read` from the other, both driven
/// by polling the output, with the input's size hint passed on.
async fn through_duplex(input: ByteStream) -> Result<ByteStream, StreamError> {
    let hint = input.size_hint();
    let (mut write_half, read_half) = tokio::io::duplex(BOUNDED_MEMORY_CHUNK);
    let writer = async move {
        input.copy_to(&mut write_half).await?;
        write_half.shutdown().await?;
        Ok::<_, StreamError>(())
    };
    let write_errors =
        stream::once(writer).filter_map(|result| async move { result.err().map(Err::<Bytes, _>) });
    let reader = ByteStream::from_async_read(read_half, BOUNDED_MEMORY_CHUNK / 2);
    Ok(ByteStream::from_stream(stream::select(write_errors, reader)).with_size_hint(hint))
}
