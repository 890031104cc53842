//! Checks of bodies: empty ones, declared lengths, streaming both ways, and large ones with
//! bounded memory.

use alchemy_stream::conformance::{self as stream_conformance, Pattern, PAYLOAD_SIZES};
use alchemy_stream::{BoxError, ByteStream, StreamError};
use futures::channel::oneshot;
use futures::{stream, StreamExt, TryStreamExt};
use http::{Method, Request, Response, StatusCode};

use super::support::{body_of, expect_status, get, request, send_ok, text_of};

/// Sends `input` to `/echo` and gives back the response body: the implementation as a pipe of
/// the stream conformance suite.
async fn echo(
    send: &impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
    input: ByteStream,
) -> Result<ByteStream, StreamError> {
    let response = send(request(Method::POST, "/echo", input))
        .await
        .map_err(StreamError::other)?;
    if response.status() != StatusCode::OK {
        return Err(StreamError::Other(
            format!("/echo answered {}", response.status()).into(),
        ));
    }
    Ok(response.into_body())
}

/// Empty bodies stay empty, with a length of 0 where one is declared, both ways.
pub async fn empty_bodies(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    let case = "empty bodies, declared request";
    let response = send_ok(
        &send,
        case,
        request(Method::POST, "/echo", ByteStream::empty()),
    )
    .await;
    let response = expect_status(case, response, StatusCode::OK).await;
    assert_eq!(
        response
            .headers()
            .get("x-request-length")
            .map(|value| value.as_bytes()),
        Some(&b"0"[..]),
        "{case}: the handler did not see an empty body of length 0"
    );
    assert!(
        body_of(case, response).await.is_empty(),
        "{case}: the echo is not empty"
    );

    let case = "empty bodies, request of unknown length";
    let unknown = ByteStream::from_stream(stream::empty::<Result<&'static [u8], StreamError>>());
    let response = send_ok(&send, case, request(Method::POST, "/echo", unknown)).await;
    let response = expect_status(case, response, StatusCode::OK).await;
    assert!(
        body_of(case, response).await.is_empty(),
        "{case}: the echo is not empty"
    );

    let case = "empty bodies, response";
    let response = send_ok(&send, case, get("/empty")).await;
    let response = expect_status(case, response, StatusCode::OK).await;
    assert_eq!(
        response.body().len(),
        Some(0),
        "{case}: an empty response body does not declare a length of 0"
    );
    assert!(
        body_of(case, response).await.is_empty(),
        "{case}: the body is not empty"
    );
}

/// Declared lengths are kept: a request's `Content-Length` is the length of the body the
/// handler reads, and a response body of known length arrives with that length.
pub async fn content_length(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    stream_conformance::pipe_exact_length(async |input| echo(&send, input).await).await;

    for &size in PAYLOAD_SIZES {
        let case = format!("content length, request of {size} bytes");
        let body = Pattern::new().stream(size as u64, 1000);
        let response = send_ok(&send, &case, request(Method::POST, "/echo", body)).await;
        let response = expect_status(&case, response, StatusCode::OK).await;
        assert_eq!(
            response
                .headers()
                .get("x-request-length")
                .and_then(|value| value.to_str().ok()),
            Some(size.to_string().as_str()),
            "{case}: the handler's body does not declare the request's length"
        );

        let case = format!("content length, response of {size} bytes");
        let response = send_ok(
            &send,
            &case,
            get(&format!("/stream?size={size}&length=exact")),
        )
        .await;
        let response = expect_status(&case, response, StatusCode::OK).await;
        assert_eq!(
            response.body().len(),
            Some(size as u64),
            "{case}: the response body does not declare its length"
        );
        let body = body_of(&case, response).await;
        assert_eq!(
            Pattern::new().find_mismatch(0, &body),
            None,
            "{case}: the body differs from the pattern"
        );
        assert_eq!(body.len(), size, "{case}: the body has another length");
    }
}

/// Bodies stream both ways: whatever the chunking, the bytes arrive intact; a failing request
/// body never looks complete; a response's head and first bytes arrive while the handler is
/// still producing the rest, and the handler reads a request's first bytes while the client is
/// still producing the rest.
///
/// An implementation that buffers whole bodies never completes the last two parts; do not run
/// this check on one (see [`Capabilities::buffered`](super::Capabilities::buffered)).
pub async fn streaming(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    stream_conformance::pipe_roundtrip(async |input| echo(&send, input).await).await;
    stream_conformance::pipe_propagates_errors(async |input| echo(&send, input).await).await;

    for (size, chunk) in [
        (1u64, 1u64),
        (100_000, 1),
        (1_000_003, 4096),
        (3 << 20, 65_536),
    ] {
        for length in ["exact", "unknown"] {
            let case = format!(
                "streaming, response of {size} bytes in chunks of {chunk}, length {length}"
            );
            let uri = format!("/stream?size={size}&chunk={chunk}&length={length}");
            let response = send_ok(&send, &case, get(&uri)).await;
            let response = expect_status(&case, response, StatusCode::OK).await;
            let received = read_pattern(&case, response.into_body()).await;
            assert_eq!(received, size, "{case}: the body has another length");
        }
    }

    let case = "streaming, response before the handler finishes";
    let response = send_ok(&send, case, get("/hold?id=streaming")).await;
    let mut body = expect_status(case, response, StatusCode::OK)
        .await
        .into_body();
    let head = body
        .try_next()
        .await
        .unwrap_or_else(|error| panic!("{case}: the body failed: {error}"));
    assert_eq!(
        head.as_deref(),
        Some(&b"head"[..]),
        "{case}: the first chunk is wrong"
    );
    let released = send_ok(&send, case, get("/release?id=streaming")).await;
    expect_status(case, released, StatusCode::OK).await;
    let tail = body
        .collect(16)
        .await
        .unwrap_or_else(|error| panic!("{case}: the body failed after the release: {error}"));
    assert_eq!(tail, "tail", "{case}: the rest of the body is wrong");

    let case = "streaming, request read before the client finishes";
    let (finish, finished) = oneshot::channel::<()>();
    let rest = async move {
        let _ = finished.await;
        Ok::<_, StreamError>("rest")
    };
    let body = stream::once(async { Ok::<_, StreamError>("first") }).chain(stream::once(rest));
    let response = send_ok(
        &send,
        case,
        request(Method::POST, "/first-chunk", ByteStream::from_stream(body)),
    )
    .await;
    let response = expect_status(case, response, StatusCode::OK).await;
    let first = text_of(case, response).await;
    let _ = finish.send(());
    assert_eq!(first, "first", "{case}: the handler read something else");
}

/// Reads a body that should be the [`Pattern`], checking each chunk as it arrives, and returns
/// its length.
async fn read_pattern(case: &str, mut body: ByteStream) -> u64 {
    let pattern = Pattern::new();
    let mut offset = 0u64;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                if let Some(at) = pattern.find_mismatch(offset, &chunk) {
                    panic!("{case}: byte {at} differs from the pattern");
                }
                offset += chunk.len() as u64;
            }
            Ok(None) => return offset,
            Err(error) => panic!("{case}: the body failed after {offset} bytes: {error}"),
        }
    }
}

/// `total` bytes go through the implementation both ways without it holding more than
/// `max_in_flight` of them at once: an echo (counted by the stream suite's
/// [`pipe_bounded_memory`](stream_conformance::pipe_bounded_memory)), an upload that the handler
/// checks as it reads, with and without a declared length, and a download.
///
/// `max_in_flight` must allow for the buffers between client and handler: over a network, the
/// socket buffers of both directions.
pub async fn large_bodies(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
    total: u64,
    max_in_flight: u64,
) {
    stream_conformance::pipe_bounded_memory(
        async |input| echo(&send, input).await,
        total,
        max_in_flight,
    )
    .await;

    for declared in [true, false] {
        let case = format!(
            "large bodies, upload of {total} bytes, length {}",
            if declared { "declared" } else { "unknown" }
        );
        let body = Pattern::new().stream(total, stream_conformance::BOUNDED_MEMORY_CHUNK);
        let body = if declared {
            body
        } else {
            ByteStream::from_stream(body)
        };
        let response = send_ok(&send, &case, request(Method::POST, "/count", body)).await;
        let response = expect_status(&case, response, StatusCode::OK).await;
        assert_eq!(
            text_of(&case, response).await,
            total.to_string(),
            "{case}: the handler counted another length"
        );
    }

    let case = format!("large bodies, download of {total} bytes");
    let response = send_ok(
        &send,
        &case,
        get(&format!("/stream?size={total}&length=exact")),
    )
    .await;
    let response = expect_status(&case, response, StatusCode::OK).await;
    assert_eq!(
        read_pattern(&case, response.into_body()).await,
        total,
        "{case}: the body has another length"
    );
}
