//! The accept loop and the connections it spawns, with graceful shutdown.

use std::future::{pending, Future};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::bind::is_connection_error;
use super::service::ConnectionService;
use crate::HttpHandler;

/// How long to wait after an accept error that is not about one connection (such as running
/// out of file descriptors) before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// A bound listener and everything a connection needs.
pub(crate) struct Accept<H> {
    pub(crate) listener: TcpListener,
    pub(crate) http: Arc<auto::Builder<TokioExecutor>>,
    pub(crate) service: ConnectionService<H>,
    pub(crate) shutdown_timeout: Option<Duration>,
}

impl<H: HttpHandler> Accept<H> {
    /// Accepts connections until `stop` is dropped or `signal` completes, then shuts down
    /// gracefully.
    pub(crate) async fn run(
        self,
        mut stop: watch::Receiver<()>,
        signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    ) {
        let Self {
            listener,
            http,
            service,
            shutdown_timeout,
        } = self;
        let mut signal = pin!(async move {
            match signal {
                Some(signal) => signal.await,
                None => pending().await,
            }
        });
        // Dropping `drain` asks every connection to finish its in-flight requests and close.
        let (drain, draining) = watch::channel(());
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                () = &mut signal => break,
                Some(finished) = connections.join_next(), if !connections.is_empty() => {
                    report_panic(finished);
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let connection = serve_connection(
                            Arc::clone(&http),
                            stream,
                            service.clone(),
                            draining.clone(),
                        );
                        connections.spawn(connection);
                    }
                    Err(error) if is_connection_error(&error) => {}
                    Err(error) => {
                        tracing::error!(%error, "accepting a connection failed; retrying shortly");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                },
            }
        }

        drop(listener);
        drop(drain);
        tracing::debug!(
            in_flight = connections.len(),
            "shutting down: waiting for open connections"
        );
        let all_closed = async {
            while let Some(finished) = connections.join_next().await {
                report_panic(finished);
            }
        };
        match shutdown_timeout {
            None => all_closed.await,
            Some(timeout) => {
                if tokio::time::timeout(timeout, all_closed).await.is_err() {
                    tracing::warn!(
                        open = connections.len(),
                        ?timeout,
                        "the shutdown timeout passed; closing the connections still open"
                    );
                    connections.shutdown().await;
                }
            }
        }
    }
}

/// Serves one connection until it closes, or until `draining` says to finish up.
async fn serve_connection<H: HttpHandler>(
    http: Arc<auto::Builder<TokioExecutor>>,
    stream: TcpStream,
    service: ConnectionService<H>,
    mut draining: watch::Receiver<()>,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY");
    }
    let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut connection = pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = draining.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "an HTTP connection ended with an error");
    }
}

fn report_panic(finished: Result<(), tokio::task::JoinError>) {
    if let Err(error) = finished {
        if error.is_panic() {
            tracing::error!("an HTTP connection task panicked (in a response body?)");
        }
    }
}
