//! [`WebSocketError`] and [`UpgradeError`].

use std::io;

use alchemy_stream::{BoxError, ByteStream};
use http::{header, HeaderValue, Response, StatusCode};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::Error as TungsteniteError;

use super::close_code;

/// Why a WebSocket failed.
///
/// When the peer breaks the protocol, the socket answers with the matching close code before
/// it reports the error: [`close_code`](Self::close_code) tells which one was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// The peer broke the WebSocket protocol (a malformed or unmasked frame, a bad opcode, a
    /// fragmented control frame); the socket was closed with code 1002.
    #[error(
        "the peer broke the WebSocket protocol ({reason}); the socket was closed with code 1002"
    )]
    Protocol {
        /// What was wrong.
        reason: String,
    },

    /// A text message or a close reason was not valid UTF-8; the socket was closed with code
    /// 1007.
    #[error("the peer sent text that is not valid UTF-8; the socket was closed with code 1007")]
    InvalidUtf8,

    /// A message or frame was larger than the configured limit; the socket was closed with code
    /// 1009.
    #[error(
        "the peer sent a message of {size} bytes, over the limit of {limit}; the socket was \
         closed with code 1009 (raise `WebSocketConfig::max_message_size` and \
         `max_frame_size` if such messages are expected)"
    )]
    MessageTooBig {
        /// The size of the message, or of the frame, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },

    /// A message was sent after the socket closed.
    #[error("the WebSocket is closed; no more messages can be sent on it")]
    Closed,

    /// A close message with a code that may not be sent.
    #[error(
        "close code {code} may not be sent; use 1000 to 1003, 1007 to 1014, or 3000 to 4999 \
         for an application's own codes (see `close_code`)"
    )]
    InvalidCloseCode {
        /// The code.
        code: u16,
    },

    /// A control message (ping, pong or close) with a payload too long for one frame.
    #[error(
        "a control message carries {len} bytes, more than a frame allows: pings and pongs take \
         at most 125 bytes, a close reason at most 123"
    )]
    ControlTooLong {
        /// The payload's length, in bytes.
        len: usize,
    },

    /// The connection failed, or the peer went away without a close frame.
    #[error("the WebSocket connection failed: {0}")]
    Io(#[source] io::Error),

    /// The HTTP upgrade did not complete: the connection closed before the `101` response was
    /// sent.
    #[error("the HTTP upgrade to a WebSocket did not complete: {0}")]
    Upgrade(#[source] BoxError),

    /// The client could not open a WebSocket.
    #[error("could not open a WebSocket to {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// What failed.
        #[source]
        source: BoxError,
    },
}

impl WebSocketError {
    /// The close code the socket sent to the peer because of this error, if it sent one.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Self::Protocol { .. } => Some(close_code::PROTOCOL_ERROR),
            Self::InvalidUtf8 => Some(close_code::INVALID_PAYLOAD),
            Self::MessageTooBig { .. } => Some(close_code::MESSAGE_TOO_BIG),
            _ => None,
        }
    }

    /// The error of a failed read or write.
    pub(crate) fn from_tungstenite(error: TungsteniteError) -> Self {
        match error {
            TungsteniteError::ConnectionClosed | TungsteniteError::AlreadyClosed => Self::Closed,
            TungsteniteError::Io(error) => Self::Io(error),
            TungsteniteError::Protocol(ProtocolError::SendAfterClosing) => Self::Closed,
            TungsteniteError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                Self::Io(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the peer closed the connection without a close frame",
                ))
            }
            TungsteniteError::Protocol(error) => Self::Protocol {
                reason: error.to_string(),
            },
            TungsteniteError::Utf8(_) => Self::InvalidUtf8,
            TungsteniteError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                Self::MessageTooBig {
                    size,
                    limit: max_size,
                }
            }
            other => Self::Protocol {
                reason: other.to_string(),
            },
        }
    }
}

/// Why a request could not be upgraded to a WebSocket.
///
/// Each has the response a server should give: [`into_response`](Self::into_response).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// The request does not ask for a WebSocket: it is not a `GET`, or lacks
    /// `Connection: upgrade` or `Upgrade: websocket`. The response is `426 Upgrade Required`.
    #[error(
        "the request does not ask for a WebSocket: it needs `GET` with `Connection: upgrade` \
         and `Upgrade: websocket` (check `is_upgrade_request` first to serve plain requests \
         on the same path)"
    )]
    NotUpgrade,

    /// The client speaks another version of the protocol than 13. The response is
    /// `426 Upgrade Required` with `Sec-WebSocket-Version: 13`.
    #[error("the client asks for WebSocket version {version:?}; only version 13 (RFC 6455) is supported")]
    UnsupportedVersion {
        /// The version the client asked for, or `None` when it named none.
        version: Option<String>,
    },

    /// `Sec-WebSocket-Key` is missing or is not 16 bytes in base64. The response is
    /// `400 Bad Request`.
    #[error("the request lacks a valid `Sec-WebSocket-Key` (16 random bytes in base64)")]
    InvalidKey,

    /// The request carries no connection to upgrade: it arrived over HTTP/2, or was not
    /// received by a server at all (a handler called directly, as in a unit test). The
    /// response is `500 Internal Server Error`.
    #[error(
        "the request cannot be upgraded: WebSockets need an HTTP/1.1 connection from a server \
         that supports upgrades, such as `alchemy_http::serve`; a handler called directly or \
         over HTTP/2 cannot accept one"
    )]
    NotUpgradable,
}

impl UpgradeError {
    /// The status of the response to give.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotUpgrade | Self::UnsupportedVersion { .. } => StatusCode::UPGRADE_REQUIRED,
            Self::InvalidKey => StatusCode::BAD_REQUEST,
            Self::NotUpgradable => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response to give: [`status`](Self::status), the headers that tell the client what
    /// is expected, and this error's message as plain text.
    pub fn into_response(self) -> Response<ByteStream> {
        let mut response = Response::new(ByteStream::from(format!("{self}\n")));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match self {
            Self::NotUpgrade => {
                headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            }
            Self::UnsupportedVersion { .. } => {
                headers.insert(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
            }
            Self::InvalidKey | Self::NotUpgradable => {}
        }
        response
    }
}
