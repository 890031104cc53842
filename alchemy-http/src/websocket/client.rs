//! [`connect`]: a WebSocket client, for tests and local tools.

use http::{header, HeaderValue, Uri};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::socket::BoxIo;
use super::{WebSocket, WebSocketConfig, WebSocketError};

/// Opens a WebSocket to `url` (`ws://host:port/path`) with the default [`WebSocketConfig`];
/// see [`connect_with`].
pub async fn connect(url: &str) -> Result<WebSocket, WebSocketError> {
    connect_with(url, &WebSocketConfig::default()).await
}

/// Opens a WebSocket to `url` (`ws://host:port/path`), offering the subprotocols of `config`.
///
/// This is a plain client for tests and local tools: `ws://` only (no TLS), no proxies.
///
/// ```no_run
/// use alchemy_http::websocket::{connect, Message};
///
/// # async fn run() -> Result<(), alchemy_http::websocket::WebSocketError> {
/// let mut socket = connect("ws://127.0.0.1:8080/chat").await?;
/// socket.send(Message::text("hello")).await?;
/// let reply = socket.recv().await;
/// socket.close(1000, "done").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect_with(
    url: &str,
    config: &WebSocketConfig,
) -> Result<WebSocket, WebSocketError> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| WebSocketError::Connect {
        url: url.to_owned(),
        source,
    };
    let uri: Uri = url.parse().map_err(|error| failed(Box::new(error)))?;
    match uri.scheme_str() {
        Some("ws") => {}
        Some("wss") => {
            return Err(failed(
                "wss:// needs TLS, which this client does not have; use ws:// to a local server"
                    .into(),
            ))
        }
        _ => return Err(failed("the URL must start with ws://".into())),
    }
    let host = uri
        .host()
        .ok_or_else(|| failed("the URL has no host".into()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);

    let mut request = uri
        .clone()
        .into_client_request()
        .map_err(|error| failed(Box::new(error)))?;
    if !config.protocols.is_empty() {
        let offered = HeaderValue::try_from(config.protocols.join(", "))
            .map_err(|error| failed(Box::new(error)))?;
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, offered);
    }

    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|error| failed(Box::new(error)))?;
    stream
        .set_nodelay(true)
        .map_err(|error| failed(Box::new(error)))?;
    let io: BoxIo = Box::new(stream);
    let (stream, response) =
        tokio_tungstenite::client_async_with_config(request, io, Some(config.to_tungstenite()))
            .await
            .map_err(|error| failed(Box::new(error)))?;
    let protocol = response
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    Ok(WebSocket::new(stream, protocol))
}
