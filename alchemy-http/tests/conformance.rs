//! The HTTP conformance suite against the local hyper server, over HTTP/1.1 and over h2c.

use alchemy_http::client::Client;
use alchemy_http::conformance::{self, Capabilities};
use alchemy_http::{serve, BoxError, ByteStream, Server};
use http::{Request, Response};

/// A server of the conformance app, and a client of it.
async fn served(http2: bool) -> (Server, Client) {
    let server = serve("127.0.0.1:0", conformance::app())
        .await
        .expect("the server starts");
    let client = if http2 {
        Client::http2(&server.url())
    } else {
        Client::new(&server.url())
    }
    .expect("the server URL is valid");
    (server, client)
}

async fn send(
    client: &Client,
    request: Request<ByteStream>,
) -> Result<Response<ByteStream>, BoxError> {
    Ok(client.send(request).await?)
}

macro_rules! conformance_tests {
    ($($name:ident: |$send:ident| $check:expr;)*) => {
        mod http1 {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (server, client) = served(false).await;
                    let $send = async |request| send(&client, request).await;
                    $check.await;
                    server.shutdown().await;
                }
            )*
        }

        mod h2c {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (server, client) = served(true).await;
                    let $send = async |request| send(&client, request).await;
                    $check.await;
                    server.shutdown().await;
                }
            )*
        }
    };
}

conformance_tests! {
    methods: |send| conformance::methods(send);
    headers: |send| conformance::headers(send);
    status_codes: |send| conformance::status_codes(send);
    query_strings: |send| conformance::query_strings(send);
    empty_bodies: |send| conformance::empty_bodies(send);
    content_length: |send| conformance::content_length(send);
    streaming: |send| conformance::streaming(send);
    large_bodies: |send| conformance::large_bodies(send, 128 << 20, 32 << 20);
    concurrent_requests: |send| conformance::concurrent_requests(send, 32);
    handler_errors: |send| conformance::handler_errors(send);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_runs_through_run() {
    let (server, client) = served(false).await;
    let capabilities = Capabilities::new().large_bodies(8 << 20, 32 << 20);
    conformance::run(async |request| send(&client, request).await, &capabilities).await;
    server.shutdown().await;
}
