//! Checks of behaviour under load and failure: concurrent requests, and handler errors.

use std::sync::atomic::{AtomicU64, Ordering};

use alchemy_stream::conformance::Pattern;
use alchemy_stream::{BoxError, ByteStream};
use futures::future::join_all;
use http::{Method, Request, Response, StatusCode};

use super::support::{body_of, expect_status, get, request, send_ok};

/// `n` requests sent at once each get their own answer; and `n` requests that wait for each
/// other at a barrier all complete, which they can only do if the implementation runs them at
/// the same time.
///
/// An implementation that runs one request at a time never completes the barrier part; do not
/// run this check on one (see [`Capabilities::sequential`](super::Capabilities::sequential)).
pub async fn concurrent_requests(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
    n: usize,
) {
    concurrent_echoes(&send, n).await;

    static GROUPS: AtomicU64 = AtomicU64::new(0);
    let group = GROUPS.fetch_add(1, Ordering::Relaxed);
    let waiters = (0..n).map(|i| {
        let send = &send;
        async move {
            let case = format!("concurrent requests, barrier of {n}, request {i}");
            let response =
                send_ok(send, &case, get(&format!("/barrier?group={group}&n={n}"))).await;
            expect_status(&case, response, StatusCode::OK).await;
        }
    });
    join_all(waiters).await;
}

/// `n` echoes sent at once each get their own answer.
pub(crate) async fn concurrent_echoes(
    send: &impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
    n: usize,
) {
    let pattern = Pattern::new();
    let echoes = (0..n).map(|i| {
        let body = pattern.bytes(i as u64 * 7_919, (i * 1_009) % 70_000 + 1);
        async move {
            let case = format!("concurrent requests, request {i} of {n}");
            let response = send_ok(
                send,
                &case,
                request(Method::POST, "/echo", ByteStream::from(body.clone())),
            )
            .await;
            let response = expect_status(&case, response, StatusCode::OK).await;
            assert!(
                body_of(&case, response).await == body,
                "{case}: the answer belongs to another request"
            );
        }
    });
    join_all(echoes).await;
}

/// A handler that fails gives a `500`; a response body that fails after its head never looks
/// complete to the client.
pub async fn handler_errors(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
) {
    let case = "handler errors, failing handler";
    let response = send_ok(&send, case, get("/error")).await;
    expect_status(case, response, StatusCode::INTERNAL_SERVER_ERROR).await;

    for length in ["exact", "unknown"] {
        let case = format!("handler errors, failing response body, length {length}");
        let outcome = match send(get(&format!("/broken-body?length={length}"))).await {
            Err(_) => None,
            Ok(response) => {
                assert_eq!(
                    response.status(),
                    StatusCode::OK,
                    "{case}: the head changed"
                );
                Some(response.into_body().collect(1 << 20).await)
            }
        };
        if let Some(Ok(body)) = outcome {
            panic!(
                "{case}: the body looked complete ({} bytes) although the handler's body failed",
                body.len()
            );
        }
    }
}
