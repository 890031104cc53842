//! [`accept`]: upgrade a request on the local server to a [`WebSocket`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use alchemy_stream::ByteStream;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::request::is_upgrade_request;
use super::socket::BoxIo;
use super::{UpgradeError, WebSocket, WebSocketConfig, WebSocketError};

/// Accepts a WebSocket on `request` with the default [`WebSocketConfig`]; see
/// [`accept_with`].
pub fn accept<B>(request: Request<B>) -> Result<(Response<ByteStream>, Upgrading), UpgradeError> {
    accept_with(request, &WebSocketConfig::default())
}

/// Accepts a WebSocket on `request`: checks the handshake and returns the `101 Switching
/// Protocols` response to send, with the future of the socket.
///
/// The socket exists only once the response has gone out, so **return the response from the
/// handler first**, and await [`Upgrading`] in a task of its own (awaiting it inside the
/// handler would wait forever).
///
/// The request must have come through a server that supports upgrades, over HTTP/1.1, such as
/// [`serve`](crate::serve). A request that is not a valid handshake gives an
/// [`UpgradeError`], whose [`into_response`](UpgradeError::into_response) is the answer to
/// send instead.
pub fn accept_with<B>(
    mut request: Request<B>,
    config: &WebSocketConfig,
) -> Result<(Response<ByteStream>, Upgrading), UpgradeError> {
    if !is_upgrade_request(&request) {
        return Err(UpgradeError::NotUpgrade);
    }
    let headers = request.headers();
    let version = headers.get(header::SEC_WEBSOCKET_VERSION);
    if version.is_none_or(|version| version != "13") {
        return Err(UpgradeError::UnsupportedVersion {
            version: version.map(|version| String::from_utf8_lossy(version.as_bytes()).into()),
        });
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|key| is_valid_key(key.as_bytes()))
        .ok_or(UpgradeError::InvalidKey)?;
    let accept_key = derive_accept_key(key.as_bytes());
    let protocol = choose_protocol(headers, &config.protocols);
    let on_upgrade = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or(UpgradeError::NotUpgradable)?;

    let mut response = Response::new(ByteStream::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    response_headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    response_headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::try_from(accept_key).expect("a base64 accept key is a valid header value"),
    );
    if let Some(protocol) = &protocol {
        response_headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::try_from(protocol.as_str())
                .expect("the protocol was read from a header value"),
        );
    }

    let config = config.to_tungstenite();
    let upgrading = Upgrading {
        inner: Box::pin(async move {
            let upgraded = on_upgrade
                .await
                .map_err(|error| WebSocketError::Upgrade(error.into()))?;
            let io: BoxIo = Box::new(TokioIo::new(upgraded));
            let stream = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
            Ok(WebSocket::new(stream, protocol))
        }),
    };
    Ok((response, upgrading))
}

/// Whether a `Sec-WebSocket-Key` is 16 bytes in base64: 22 characters of the base64 alphabet
/// and `==`.
fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/'))
}

/// The first of `supported` that the client offers in `Sec-WebSocket-Protocol`.
fn choose_protocol(headers: &HeaderMap, supported: &[String]) -> Option<String> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    supported
        .iter()
        .find(|protocol| offered.contains(&protocol.as_str()))
        .cloned()
}

/// The future of an accepted WebSocket: completes once the `101` response has been sent and
/// the connection is the socket's.
#[must_use = "the WebSocket is only usable once this future completes"]
pub struct Upgrading {
    inner: Pin<Box<dyn Future<Output = Result<WebSocket, WebSocketError>> + Send>>,
}

impl Future for Upgrading {
    type Output = Result<WebSocket, WebSocketError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Upgrading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrading").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(version: &'static str, key: &'static str) -> Request<()> {
        Request::get("/socket")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", version)
            .header("sec-websocket-key", key)
            .body(())
            .unwrap()
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn refusals_name_the_problem_and_answer_with_the_right_status() {
        let error = accept(Request::get("/socket").body(()).unwrap()).unwrap_err();
        assert!(matches!(error, UpgradeError::NotUpgrade));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()["upgrade"], "websocket");

        let error = accept(handshake("8", KEY)).unwrap_err();
        assert!(
            matches!(&error, UpgradeError::UnsupportedVersion { version: Some(v) } if v == "8"),
            "{error:?}"
        );
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()["sec-websocket-version"], "13");

        let error = accept(handshake("13", "short")).unwrap_err();
        assert!(matches!(error, UpgradeError::InvalidKey));
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_request_without_a_connection_cannot_be_upgraded() {
        let error = accept(handshake("13", KEY)).unwrap_err();
        assert!(matches!(error, UpgradeError::NotUpgradable));
        assert!(error.to_string().contains("alchemy_http::serve"), "{error}");
    }

    #[test]
    fn the_first_supported_protocol_that_is_offered_is_chosen() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("graphql-ws, chat"),
        );
        let supported = ["chat".to_owned(), "graphql-ws".to_owned()];
        assert_eq!(
            choose_protocol(&headers, &supported).as_deref(),
            Some("chat")
        );
        assert_eq!(choose_protocol(&headers, &["mqtt".to_owned()]), None);
        assert_eq!(choose_protocol(&HeaderMap::new(), &supported), None);
    }

    #[test]
    fn keys_are_sixteen_bytes_of_base64() {
        assert!(is_valid_key(KEY.as_bytes()));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25j!Q=="));
    }
}
