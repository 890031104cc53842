//! [`Message`] and [`CloseFrame`]: WebSocket messages, the same on every provider.

use std::fmt;

use bytes::Bytes;

/// One WebSocket message: what an actor receives and sends, whatever carries it (the local
/// server, a Durable Object's hibernatable socket, an API Gateway connection).
///
/// Fragmented messages arrive whole; pings are answered with pongs by the connection itself, so
/// most code only matches [`Text`](Self::Text), [`Binary`](Self::Binary) and
/// [`Close`](Self::Close).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message, valid UTF-8.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping, with up to 125 bytes of payload.
    Ping(Bytes),
    /// A pong, with up to 125 bytes of payload.
    Pong(Bytes),
    /// The close handshake: the peer is closing, or this side closes, with an optional code
    /// and reason.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// A close message with `code` (see [`close_code`]) and `reason`.
    pub fn close(code: u16, reason: impl Into<String>) -> Self {
        Self::Close(Some(CloseFrame::new(code, reason)))
    }

    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The payload of any message but a close: the UTF-8 bytes of a text, the data of the
    /// others.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Binary(data) | Self::Ping(data) | Self::Pong(data) => data,
            Self::Close(_) => &[],
        }
    }

    /// Whether this is a [`Close`](Self::Close) message.
    pub fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Self::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Self::Binary(data.into())
    }
}

/// The code and reason of a close message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// Why the connection closes; see [`close_code`].
    pub code: u16,
    /// A short human-readable reason; at most 123 bytes of UTF-8 on the wire.
    pub reason: String,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "close code {}", self.code)
        } else {
            write!(f, "close code {} ({})", self.code, self.reason)
        }
    }
}

/// The close codes of RFC 6455, section 7.4.1, and whether a code may be sent.
pub mod close_code {
    /// The purpose of the connection is fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The endpoint goes away: a server shutting down, a page navigated away from.
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol (a malformed frame, an unmasked client frame).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A kind of data the endpoint cannot accept (binary for a text-only endpoint).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// No code was present in the close frame. Reported, never sent.
    pub const NO_STATUS: u16 = 1005;
    /// The connection closed without a close frame. Reported, never sent.
    pub const ABNORMAL: u16 = 1006;
    /// Data inconsistent with the message type, such as text that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message that violates the endpoint's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message too big to process.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The client expected an extension that the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// The server met an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;

    /// Whether `code` may be sent in a close frame: the codes that RFC 6455 defines for the
    /// wire (1000 to 1003, 1007 to 1011), the later IANA registrations 1012 to 1014, and the
    /// ranges for libraries and applications (3000 to 4999).
    pub fn is_sendable(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_accessors_agree() {
        assert_eq!(Message::text("hi"), Message::Text("hi".into()));
        assert_eq!(Message::from("hi").as_text(), Some("hi"));
        assert_eq!(Message::binary(vec![1u8, 2]).as_bytes(), [1, 2]);
        assert_eq!(Message::from(Bytes::from_static(b"x")).as_text(), None);
        let close = Message::close(close_code::NORMAL, "bye");
        assert!(close.is_close());
        assert_eq!(close.as_bytes(), b"");
        assert_eq!(
            close,
            Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "bye".into()
            }))
        );
    }

    #[test]
    fn only_wire_codes_are_sendable() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999,
        ] {
            assert!(close_code::is_sendable(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!close_code::is_sendable(code), "{code}");
        }
    }

    #[test]
    fn close_frames_display_code_and_reason() {
        assert_eq!(CloseFrame::new(1000, "").to_string(), "close code 1000");
        assert_eq!(
            CloseFrame::new(1009, "too big").to_string(),
            "close code 1009 (too big)"
        );
    }
}
