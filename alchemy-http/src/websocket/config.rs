//! [`WebSocketConfig`]: limits and subprotocols of a WebSocket.

/// Limits and subprotocols of a WebSocket, for [`accept_with`](super::accept_with) and
/// [`connect_with`](super::connect_with).
///
/// The defaults: messages and frames up to 16 MiB, no subprotocol.
#[derive(Clone, Debug)]
pub struct WebSocketConfig {
    pub(crate) max_message_size: usize,
    pub(crate) max_frame_size: usize,
    pub(crate) protocols: Vec<String>,
}

impl WebSocketConfig {
    /// The default limit on the size of a message, and of a frame: 16 MiB.
    pub const DEFAULT_MAX_SIZE: usize = 16 << 20;

    /// The default settings.
    pub fn new() -> Self {
        Self {
            max_message_size: Self::DEFAULT_MAX_SIZE,
            max_frame_size: Self::DEFAULT_MAX_SIZE,
            protocols: Vec::new(),
        }
    }

    /// The largest message accepted, in bytes, after its fragments are put together. A larger
    /// one fails the socket, which is closed with code 1009 (message too big).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The largest single frame accepted, in bytes; a larger one fails the socket with code
    /// 1009 too.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The subprotocols (`Sec-WebSocket-Protocol`) this side speaks, most preferred first.
    ///
    /// A server picks the first of its own that the client offers, or none when the client
    /// offers none of them; a client offers all of them.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn to_tungstenite(
        &self,
    ) -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
    }
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self::new()
    }
}
