//! Tests for stream *sources*: implementations that produce a [`ByteStream`] of given content.

use bytes::Bytes;
use futures::TryStreamExt;
use http_body::Body;

use super::check::{describe, same_bytes};
use super::payload;
use crate::{ByteStream, StreamError};

/// Payload sizes that the source tests use: empty, tiny, around common buffer sizes, and over
/// a mebibyte.
pub const PAYLOAD_SIZES: &[usize] = &[0, 1, 13, 4096, 65_537, 1_048_579];

/// Every source gives back exactly the bytes it was given, and never claims a wrong length.
///
/// `make` receives the content and returns a stream that should deliver it: for an in-memory
/// source `async |data| ByteStream::from(data)`; for a bucket, store `data` and return the
/// stream of a read. Each payload of [`PAYLOAD_SIZES`] is checked chunk by chunk: the bytes,
/// the remaining [`ByteStream::len`] when one is declared, and that the stream stays ended.
pub async fn roundtrip(make: impl AsyncFn(Bytes) -> ByteStream) {
    for &size in PAYLOAD_SIZES {
        let data = payload(size);
        let case = format!("roundtrip, {}", describe(&data));
        let mut stream = make(data.clone()).await;
        if let Some(len) = stream.len() {
            assert_eq!(
                len, size as u64,
                "{case}: the stream declares a wrong length"
            );
        }
        let mut received = Vec::with_capacity(size);
        while let Some(chunk) = next_chunk(&case, &mut stream).await {
            assert!(!chunk.is_empty(), "{case}: an empty chunk was delivered");
            received.extend_from_slice(&chunk);
            if let Some(left) = stream.len() {
                assert_eq!(
                    left,
                    (size - received.len().min(size)) as u64,
                    "{case}: the remaining length is wrong after {} bytes",
                    received.len()
                );
            }
        }
        same_bytes(&case, &received, &data);
        assert!(
            next_chunk(&case, &mut stream).await.is_none(),
            "{case}: the stream delivered more after it ended"
        );
    }
}

/// Every source declares the exact length of what it delivers, as [`ByteStream::len`] and as
/// the exact [`http_body::Body::size_hint`], and the length shrinks as chunks are read.
///
/// For sources that always know the length (a stored object, a `Content-Length` body).
pub async fn exact_length(make: impl AsyncFn(Bytes) -> ByteStream) {
    for &size in PAYLOAD_SIZES {
        let data = payload(size);
        let case = format!("exact length, {}", describe(&data));
        let mut stream = make(data).await;
        assert_eq!(
            stream.len(),
            Some(size as u64),
            "{case}: the stream does not declare its exact length"
        );
        assert_eq!(
            Body::size_hint(&stream).exact(),
            Some(size as u64),
            "{case}: the body size hint is not exact"
        );
        assert_eq!(
            stream.is_end_stream(),
            size == 0,
            "{case}: is_end_stream disagrees with the length"
        );
        if let Some(chunk) = next_chunk(&case, &mut stream).await {
            assert_eq!(
                stream.len(),
                Some((size - chunk.len()) as u64),
                "{case}: the length did not shrink by the first chunk"
            );
        }
    }
}

/// Size limits hold on the source's streams: [`ByteStream::collect`] and
/// [`ByteStream::limit`] accept exactly the length and refuse one byte less with
/// [`StreamError::TooLarge`].
pub async fn limits(make: impl AsyncFn(Bytes) -> ByteStream) {
    let size = 100_000;
    let data = payload(size);
    let case = "limits";

    let collected = make(data.clone()).await.collect(size).await;
    same_bytes(
        &format!("{case}, collect at the limit"),
        &expect_ok(case, collected),
        &data,
    );
    let refused = make(data.clone()).await.collect(size - 1).await;
    expect_too_large(
        &format!("{case}, collect one byte under"),
        refused,
        size - 1,
    );

    let limited = make(data.clone()).await.limit(size as u64);
    let collected = limited.collect_unbounded().await;
    same_bytes(
        &format!("{case}, limit at the length"),
        &expect_ok(case, collected),
        &data,
    );
    let limited = make(data.clone()).await.limit(size as u64 - 1);
    expect_too_large(
        &format!("{case}, limit one byte under"),
        limited.collect_unbounded().await,
        size - 1,
    );

    let empty = make(Bytes::new()).await.collect(0).await;
    assert!(
        expect_ok(case, empty).is_empty(),
        "{case}: an empty source was not empty"
    );
}

async fn next_chunk(case: &str, stream: &mut ByteStream) -> Option<Bytes> {
    match stream.try_next().await {
        Ok(chunk) => chunk,
        Err(error) => panic!("{case}: the stream failed: {error}"),
    }
}

fn expect_ok(case: &str, result: Result<Bytes, StreamError>) -> Bytes {
    result.unwrap_or_else(|error| panic!("{case}: the stream failed: {error}"))
}

fn expect_too_large(case: &str, result: Result<Bytes, StreamError>, limit: usize) {
    match result {
        Err(StreamError::TooLarge { limit: reported }) => assert_eq!(
            reported, limit as u64,
            "{case}: TooLarge reports the wrong limit"
        ),
        Err(other) => panic!(
            "{case}: expected StreamError::TooLarge, got {other:?} ({:?})",
            other.kind()
        ),
        Ok(bytes) => panic!(
            "{case}: {} bytes were accepted over a limit of {limit}",
            bytes.len()
        ),
    }
}
