//! The conformance suite for HTTP adapters (feature `conformance`).
//!
//! Every adapter that carries [`HttpHandler`](crate::HttpHandler)s to a platform (the local
//! hyper server, Lambda, Workers) runs the same checks, so that a handler behaves the same
//! wherever it is deployed: methods, headers, status codes, paths and query strings, empty
//! bodies, declared lengths, streaming both ways, large bodies with bounded memory, concurrent
//! requests, and handler errors.
//!
//! The implementation under test serves [`app`], the suite's own handler. Each check takes
//! `send`, a function that delivers a `Request<ByteStream>` to that served app and returns its
//! response: over a socket for a server, through an event for Lambda, through a `fetch` for a
//! Worker. Requests carry a path and query only (`/echo?x=1`); `send` adds what the
//! implementation needs to route them.
//!
//! The checks are `async` and panic with a message naming the case that failed. They need no
//! runtime of their own; checks that depend on a capability say so, and [`run`] runs the ones
//! that the [`Capabilities`] allow.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "server")]
//! # async fn run() -> Result<(), alchemy_http::BoxError> {
//! use alchemy_http::client::Client;
//! use alchemy_http::conformance::{self, Capabilities};
//!
//! let server = alchemy_http::serve("127.0.0.1:0", conformance::app()).await?;
//! let client = Client::new(&server.url())?;
//! let send = async |request| Ok(client.send(request).await?);
//! conformance::run(send, &Capabilities::new()).await;
//! # Ok(())
//! # }
//! ```

mod app;
mod behaviour;
mod bodies;
mod requests;
mod support;

use alchemy_stream::{BoxError, ByteStream};
use http::{Request, Response};

pub use app::app;
pub use behaviour::{concurrent_requests, handler_errors};
pub use bodies::{content_length, empty_bodies, large_bodies, streaming};
pub use requests::{headers, methods, query_strings, status_codes};

/// What the implementation under test can do, so that [`run`] runs the checks that apply.
///
/// [`new`](Self::new) is a streaming, concurrent implementation such as the local server;
/// narrow it down for others.
#[derive(Clone, Debug)]
pub struct Capabilities {
    buffered: bool,
    sequential: bool,
    concurrency: usize,
    large_body_size: u64,
    max_in_flight: u64,
}

impl Capabilities {
    /// A streaming implementation that runs requests concurrently: large bodies of 64 MiB
    /// with at most 32 MiB in flight (loopback socket buffers of both directions hold up to about 20 MiB), and 16 requests at once.
    pub fn new() -> Self {
        Self {
            buffered: false,
            sequential: false,
            concurrency: 16,
            large_body_size: 64 << 20,
            max_in_flight: 32 << 20,
        }
    }

    /// The implementation buffers whole bodies (as Lambda's buffered responses do): skip
    /// [`streaming`] and [`large_bodies`].
    pub fn buffered(mut self) -> Self {
        self.buffered = true;
        self
    }

    /// The implementation runs one request at a time: [`concurrent_requests`] skips its
    /// barrier.
    pub fn sequential(mut self) -> Self {
        self.sequential = true;
        self
    }

    /// How many requests [`concurrent_requests`] sends at once.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests;
        self
    }

    /// The size of the bodies of [`large_bodies`], and the most bytes the implementation may
    /// hold at once while they pass.
    pub fn large_bodies(mut self, total: u64, max_in_flight: u64) -> Self {
        self.large_body_size = total;
        self.max_in_flight = max_in_flight;
        self
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs every check that `capabilities` allow, in order, against the implementation reached
/// through `send`.
pub async fn run(
    send: impl AsyncFn(Request<ByteStream>) -> Result<Response<ByteStream>, BoxError>,
    capabilities: &Capabilities,
) {
    methods(&send).await;
    headers(&send).await;
    status_codes(&send).await;
    query_strings(&send).await;
    empty_bodies(&send).await;
    content_length(&send).await;
    handler_errors(&send).await;
    if capabilities.sequential {
        behaviour::concurrent_echoes(&send, capabilities.concurrency).await;
    } else {
        concurrent_requests(&send, capabilities.concurrency).await;
    }
    if !capabilities.buffered {
        streaming(&send).await;
        large_bodies(
            &send,
            capabilities.large_body_size,
            capabilities.max_in_flight,
        )
        .await;
    }
}
