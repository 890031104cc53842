//! The local server: any [`HttpHandler`] on hyper 1.x, HTTP/1.1 and HTTP/2 (h2c), with
//! streaming bodies, a request body limit and graceful shutdown (feature `server`).

mod bind;
mod connection;
mod error;
mod service;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use bind::Bind;
pub use error::ServeError;

use crate::HttpHandler;
use connection::Accept;
use service::ConnectionService;

/// Serves `handler` on `bind` with the default settings; see [`ServerBuilder`] for the others.
///
/// `bind` is an address such as `"127.0.0.1:0"` (port 0 picks a free port) or a listener
/// bound already (see [`Bind`]). The server runs on the current tokio runtime until the
/// returned [`Server`] is shut down or dropped.
///
/// # Examples
///
/// ```
/// use alchemy_http::{handler_fn, serve};
/// use alchemy_stream::ByteStream;
/// use http::{Request, Response};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), alchemy_http::ServeError> {
/// let hello = handler_fn(|_: Request<ByteStream>| async { Response::new(ByteStream::from("hello")) });
/// let server = serve("127.0.0.1:0", hello).await?;
/// println!("listening on {}", server.url());
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub async fn serve<H: HttpHandler>(
    bind: impl Into<Bind>,
    handler: H,
) -> Result<Server, ServeError> {
    ServerBuilder::new().serve(bind, handler).await
}

/// Settings of a server, then [`serve`](Self::serve).
///
/// The defaults suit local development: HTTP/1.1 with keep-alive and HTTP/2 over cleartext
/// (h2c, with prior knowledge) on the same port, WebSocket upgrades, `TCP_NODELAY`, no request
/// body limit, no header read timeout, and a graceful shutdown that waits for every in-flight
/// request.
///
/// ```
/// use std::time::Duration;
///
/// use alchemy_http::{handler_fn, Server};
/// use alchemy_stream::ByteStream;
/// use http::{Request, Response};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), alchemy_http::ServeError> {
/// let echo = handler_fn(|request: Request<ByteStream>| async { Response::new(request.into_body()) });
/// let server = Server::builder()
///     .max_request_body_size(16 << 20)
///     .shutdown_timeout(Duration::from_secs(10))
///     .serve("127.0.0.1:0", echo)
///     .await?;
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `serve` is called"]
pub struct ServerBuilder {
    max_request_body: Option<u64>,
    header_read_timeout: Option<Duration>,
    shutdown_timeout: Option<Duration>,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl ServerBuilder {
    /// The default settings.
    pub fn new() -> Self {
        Self {
            max_request_body: None,
            header_read_timeout: None,
            shutdown_timeout: None,
            signal: None,
        }
    }

    /// Refuses request bodies longer than `bytes` with `413 Payload Too Large`.
    ///
    /// A request whose `Content-Length` is over the limit is refused before the handler runs.
    /// A body of unknown length (chunked) is streamed to the handler until it passes the limit;
    /// then reading it fails with [`StreamError::TooLarge`](alchemy_stream::StreamError), and
    /// whatever the handler answers, the client gets a `413`. A response that is already
    /// streaming when the limit is passed is cut short instead. No limit by default.
    pub fn max_request_body_size(mut self, bytes: u64) -> Self {
        self.max_request_body = Some(bytes);
        self
    }

    /// Closes an HTTP/1.1 connection whose client takes longer than `timeout` to send a
    /// request's head, which protects a server exposed to untrusted clients from slow ones
    /// holding connections open. Off by default: the timer costs an allocation per request,
    /// and a local server has no such clients.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = Some(timeout);
        self
    }

    /// How long a graceful shutdown waits for in-flight requests before it closes their
    /// connections. Without a timeout (the default) it waits as long as they take.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Shuts the server down gracefully when `signal` completes, such as
    /// `async { tokio::signal::ctrl_c().await.ok(); }`; the [`Server`] future then completes.
    pub fn with_graceful_shutdown(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// Starts serving `handler` on `bind`, in a task on the current tokio runtime.
    ///
    /// Returns once the listener is bound, so the server is ready for requests.
    pub async fn serve<H: HttpHandler>(
        self,
        bind: impl Into<Bind>,
        handler: H,
    ) -> Result<Server, ServeError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ServeError::NoRuntime)?;
        let listener = bind.into().listen().await?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServeError::Listener { source })?;

        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http2().timer(TokioTimer::new());
        if let Some(timeout) = self.header_read_timeout {
            http.http1()
                .timer(TokioTimer::new())
                .header_read_timeout(timeout);
        }

        let (stop, stopped) = watch::channel(());
        let accept = Accept {
            listener,
            http: Arc::new(http),
            service: ConnectionService::new(handler, self.max_request_body),
            shutdown_timeout: self.shutdown_timeout,
        };
        let task = runtime.spawn(accept.run(stopped, self.signal));
        tracing::debug!(%local_addr, "serving HTTP");
        Ok(Server {
            local_addr,
            stop: Some(stop),
            task,
        })
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("max_request_body", &self.max_request_body)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("signal", &self.signal.is_some())
            .finish()
    }
}

/// A running server: its address, and the way to stop it.
///
/// - [`shutdown`](Self::shutdown) stops it gracefully: no new connections are accepted,
///   idle connections close, and in-flight requests run to completion (up to the
///   [`shutdown_timeout`](ServerBuilder::shutdown_timeout)).
/// - Dropping the `Server` starts the same graceful shutdown, without waiting for it.
/// - Awaiting the `Server` waits until it stops on the signal given to
///   [`with_graceful_shutdown`](ServerBuilder::with_graceful_shutdown).
///
/// Connections upgraded to WebSockets belong to their handlers and are not waited for.
#[must_use = "the server shuts down when this value is dropped"]
pub struct Server {
    local_addr: SocketAddr,
    stop: Option<watch::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Settings for a server; the same as [`ServerBuilder::new`].
    pub fn builder() -> ServerBuilder {
        ServerBuilder::new()
    }

    /// The address the server listens on, with the port the system picked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Shuts the server down gracefully and waits until it has stopped: it accepts no more
    /// connections, and every in-flight request has completed (or the shutdown timeout has
    /// passed).
    pub async fn shutdown(mut self) {
        self.stop = None;
        self.stopped().await;
    }

    async fn stopped(&mut self) {
        if let Err(error) = (&mut self.task).await {
            if error.is_panic() {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("running", &!self.task.is_finished())
            .finish()
    }
}

impl IntoFuture for Server {
    type Output = ();
    type IntoFuture = Stopped;

    /// Waits until the server stops on its shutdown signal, running it meanwhile.
    fn into_future(self) -> Stopped {
        Stopped {
            inner: Box::pin(async move {
                let mut server = self;
                server.stopped().await;
            }),
        }
    }
}

/// The future of an awaited [`Server`]: completes when the server has stopped.
#[must_use = "futures do nothing unless polled"]
pub struct Stopped {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for Stopped {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopped").finish_non_exhaustive()
    }
}
