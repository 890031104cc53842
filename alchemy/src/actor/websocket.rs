//! WebSockets of actors: the actor's side ([`WebSocket`]), the caller's side
//! ([`WebSocketConnection`]) and the messages between them.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use http::{header, Method, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use alchemy_http::{close_code, CloseFrame};

use super::{ActorError, MaybeSendSync, Result};

/// The longest close reason, in bytes, that fits a close frame.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

/// A WebSocket message, as an actor receives and sends it: text or binary.
///
/// Control frames (ping, pong, close) never appear here: the provider answers pings, and
/// closes arrive at [`Actor::on_close`](super::Actor::on_close). It converts to and from the
/// wire-level [`alchemy_http::Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        }
    }

    /// The message's bytes, whichever kind it is.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
        }
    }

    /// The message's size, in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_string())
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Message::Binary(bytes)
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Message::Binary(bytes.into())
    }
}

/// Checks that an application may send `frame`: its code is 1000 or from 3000 to 4999 (the
/// rule of Durable Objects, which every provider follows) and its reason fits a close frame.
pub fn validate_close(frame: &CloseFrame) -> Result<()> {
    if frame.code != close_code::NORMAL && !(3000..=4999).contains(&frame.code) {
        return Err(ActorError::InvalidCloseCode { code: frame.code });
    }
    if frame.reason.len() > MAX_CLOSE_REASON_BYTES {
        return Err(ActorError::TooLarge {
            what: "WebSocket close reason",
            size: frame.reason.len(),
            limit: MAX_CLOSE_REASON_BYTES,
        });
    }
    Ok(())
}

impl From<Message> for alchemy_http::Message {
    fn from(message: Message) -> Self {
        match message {
            Message::Text(text) => alchemy_http::Message::Text(text),
            Message::Binary(bytes) => alchemy_http::Message::Binary(bytes),
        }
    }
}

impl TryFrom<alchemy_http::Message> for Message {
    type Error = alchemy_http::Message;

    /// The text or binary message; control messages are given back.
    fn try_from(message: alchemy_http::Message) -> std::result::Result<Self, Self::Error> {
        match message {
            alchemy_http::Message::Text(text) => Ok(Message::Text(text)),
            alchemy_http::Message::Binary(bytes) => Ok(Message::Binary(bytes)),
            other => Err(other),
        }
    }
}

/// What travels over a [`WebSocketConnection`]: a message or the closing handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A message.
    Message(Message),
    /// A close frame.
    Close(CloseFrame),
}

/// One WebSocket that an actor accepted, as a provider implements it.
///
/// The socket outlives the actor instance on providers with
/// [`hibernation`](super::Capabilities::hibernation): its tags and attachment are kept by the
/// provider, not in the instance.
pub trait WebSocketBackend: MaybeSendSync + 'static {
    /// The socket's id, unique within its actor.
    fn id(&self) -> &str;

    /// Queues `message` for the peer.
    fn send(&self, message: Message) -> Result<()>;

    /// Starts the closing handshake with a frame that [`validate_close`] accepted.
    fn close(&self, frame: CloseFrame) -> Result<()>;

    /// The tags the socket was accepted with.
    fn tags(&self) -> Vec<String>;

    /// The serialized attachment, if one was set.
    fn attachment(&self) -> Option<Bytes>;

    /// Replaces the serialized attachment (already checked against the size limit).
    fn set_attachment(&self, attachment: Option<Bytes>) -> Result<()>;

    /// Whether the socket is open (not closing or closed).
    fn is_open(&self) -> bool;
}

/// One WebSocket accepted by an actor: the actor's end of the connection.
///
/// Handles are cheap to clone and compare equal when they are the same socket. A socket keeps
/// its tags and its attachment for as long as it is open, even while the actor instance is
/// evicted (see [`Capabilities::hibernation`](super::Capabilities::hibernation)), so state that
/// belongs to one connection (who is on it, what it subscribed to) goes into the attachment.
#[derive(Clone)]
pub struct WebSocket {
    backend: Arc<dyn WebSocketBackend>,
    max_attachment_bytes: usize,
}

impl WebSocket {
    /// A socket over `backend`, whose attachments may be up to `max_attachment_bytes`.
    pub fn new(backend: Arc<dyn WebSocketBackend>, max_attachment_bytes: usize) -> Self {
        WebSocket {
            backend,
            max_attachment_bytes,
        }
    }

    /// The socket's id, unique within its actor.
    pub fn id(&self) -> &str {
        self.backend.id()
    }

    /// Queues `message` for the peer; fails when the socket is closed or its peer does not
    /// keep up (then the socket is closed).
    pub fn send(&self, message: impl Into<Message>) -> Result<()> {
        self.backend.send(message.into())
    }

    /// Closes the socket with `code` (1000, or 3000 to 4999) and `reason`.
    pub fn close(&self, code: u16, reason: &str) -> Result<()> {
        let frame = CloseFrame::new(code, reason);
        validate_close(&frame)?;
        self.backend.close(frame)
    }

    /// The tags the socket was accepted with.
    pub fn tags(&self) -> Vec<String> {
        self.backend.tags()
    }

    /// Whether the socket is open (not closing or closed).
    pub fn is_open(&self) -> bool {
        self.backend.is_open()
    }

    /// Keeps `value` with the socket, as JSON, until the socket closes or the next call.
    ///
    /// Fails with [`ActorError::TooLarge`] beyond
    /// [`Capabilities::max_attachment_bytes`](super::Capabilities::max_attachment_bytes).
    pub fn serialize_attachment<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(ActorError::Encode)?;
        if bytes.len() > self.max_attachment_bytes {
            return Err(ActorError::TooLarge {
                what: "WebSocket attachment",
                size: bytes.len(),
                limit: self.max_attachment_bytes,
            });
        }
        self.backend.set_attachment(Some(bytes.into()))
    }

    /// The value kept with [`serialize_attachment`](Self::serialize_attachment), if any.
    pub fn deserialize_attachment<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        match self.backend.attachment() {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| ActorError::Decode {
                        key: format!("attachment of WebSocket {}", self.id()),
                        source,
                    })
            }
        }
    }

    /// Drops the attachment.
    pub fn clear_attachment(&self) -> Result<()> {
        self.backend.set_attachment(None)
    }
}

impl PartialEq for WebSocket {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for WebSocket {}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("id", &self.id())
            .field("tags", &self.tags())
            .field("open", &self.is_open())
            .finish()
    }
}

/// Whether `req` asks for a WebSocket upgrade (a `GET` with `Upgrade: websocket`).
pub fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET
        && req
            .headers()
            .get_all(header::UPGRADE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// Checks that `req` is a complete WebSocket handshake (RFC 6455, section 4.2.1).
pub fn validate_upgrade<B>(req: &Request<B>) -> Result<()> {
    let fail = |reason: &str| {
        Err(ActorError::NotWebSocketUpgrade {
            reason: reason.to_string(),
        })
    };
    if req.method() != Method::GET {
        return fail(&format!("its method is {}, not GET", req.method()));
    }
    if !is_websocket_upgrade(req) {
        return fail("it has no `Upgrade: websocket` header");
    }
    let connection_upgrade = req
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return fail("it has no `Connection: upgrade` header");
    }
    match req.headers().get(header::SEC_WEBSOCKET_VERSION) {
        Some(version) if version == "13" => {}
        Some(_) => return fail("its `Sec-WebSocket-Version` is not 13"),
        None => return fail("it has no `Sec-WebSocket-Version` header"),
    }
    if req.headers().get(header::SEC_WEBSOCKET_KEY).is_none() {
        return fail("it has no `Sec-WebSocket-Key` header");
    }
    Ok(())
}

/// Adds the headers of a WebSocket handshake to `req`, keeping any it has.
pub fn add_upgrade_headers<B>(req: &mut Request<B>, key: &str) -> Result<()> {
    let headers = req.headers_mut();
    let defaults = [
        (header::UPGRADE, "websocket"),
        (header::CONNECTION, "upgrade"),
        (header::SEC_WEBSOCKET_VERSION, "13"),
        (header::SEC_WEBSOCKET_KEY, key),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            let value = http::HeaderValue::from_str(value).map_err(http::Error::from)?;
            headers.insert(name, value);
        }
    }
    *req.method_mut() = Method::GET;
    Ok(())
}

/// The caller's end of a WebSocket to an actor, from
/// [`ActorStub::connect`](super::ActorStub::connect).
///
/// [`send`](Self::send) applies backpressure; [`recv`](Self::recv) (or the [`Stream`]
/// implementation) yields messages until the socket closes, then `None`, and
/// [`close_frame`](Self::close_frame) tells how it closed.
///
/// Providers make one with [`WebSocketConnection::pair`] and bridge the other end to their
/// own sockets.
pub struct WebSocketConnection {
    tx: mpsc::Sender<Frame>,
    rx: mpsc::Receiver<Frame>,
    close: Option<CloseFrame>,
    closing: bool,
}

impl fmt::Debug for WebSocketConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketConnection")
            .field("close", &self.close)
            .field("closing", &self.closing)
            .finish()
    }
}

impl WebSocketConnection {
    /// Two connected ends, each buffering up to `buffer` frames from the other.
    pub fn pair(buffer: usize) -> (WebSocketConnection, WebSocketConnection) {
        let (a_tx, b_rx) = mpsc::channel(buffer);
        let (b_tx, a_rx) = mpsc::channel(buffer);
        let end = |tx, rx| WebSocketConnection {
            tx,
            rx,
            close: None,
            closing: false,
        };
        (end(a_tx, a_rx), end(b_tx, b_rx))
    }

    /// Sends `message`, waiting while the peer's buffer is full.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        if self.closing || self.close.is_some() {
            return Err(self.closed_error());
        }
        self.send_frame(Frame::Message(message.into())).await
    }

    /// Sends a frame as is: for providers bridging a connection.
    pub async fn send_frame(&mut self, frame: Frame) -> Result<()> {
        match self.tx.send(frame).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.closed_error()),
        }
    }

    /// The next message; `None` once the socket is closed.
    pub async fn recv(&mut self) -> Option<Message> {
        loop {
            match self.next_frame().await? {
                Frame::Message(message) => return Some(message),
                Frame::Close(_) => continue,
            }
        }
    }

    /// The next frame, close frames included; `None` once the socket is closed (after a close
    /// frame, or when the peer is gone, which counts as a close with code 1006).
    pub async fn next_frame(&mut self) -> Option<Frame> {
        if self.close.is_some() {
            return None;
        }
        match self.rx.next().await {
            Some(Frame::Close(frame)) => {
                self.close = Some(frame.clone());
                if !self.closing {
                    self.closing = true;
                    let _ = self.tx.send(Frame::Close(frame.clone())).await;
                }
                self.tx.close_channel();
                Some(Frame::Close(frame))
            }
            Some(frame) => Some(frame),
            None => {
                self.close = Some(CloseFrame::new(
                    close_code::ABNORMAL,
                    "the connection dropped without a close frame",
                ));
                None
            }
        }
    }

    /// Starts the closing handshake with `code` (1000, or 3000 to 4999) and `reason`; keep
    /// reading until [`recv`](Self::recv) gives `None` to see the peer's answer.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<()> {
        let frame = CloseFrame::new(code, reason);
        validate_close(&frame)?;
        self.closing = true;
        self.send_frame(Frame::Close(frame)).await
    }

    /// How the socket closed, once it has: the peer's close frame, or code 1006 when the
    /// connection dropped without one.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.close.as_ref()
    }

    /// The two channels underneath, for providers that bridge this end to their own socket:
    /// frames for the peer go into the sender, frames from the peer come out of the receiver.
    pub fn into_parts(self) -> (mpsc::Sender<Frame>, mpsc::Receiver<Frame>) {
        (self.tx, self.rx)
    }

    fn closed_error(&self) -> ActorError {
        ActorError::WebSocketClosed {
            socket: "connection".to_string(),
        }
    }
}

impl Stream for WebSocketConnection {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let this = self.get_mut();
        loop {
            if this.close.is_some() {
                return Poll::Ready(None);
            }
            match futures::ready!(this.rx.poll_next_unpin(cx)) {
                Some(Frame::Message(message)) => return Poll::Ready(Some(message)),
                Some(Frame::Close(frame)) => {
                    if !this.closing {
                        this.closing = true;
                        let _ = this.tx.try_send(Frame::Close(frame.clone()));
                    }
                    this.tx.close_channel();
                    this.close = Some(frame);
                }
                None => {
                    this.close = Some(CloseFrame::new(
                        close_code::ABNORMAL,
                        "the connection dropped without a close frame",
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    fn handshake() -> Request<()> {
        Request::builder()
            .uri("/ws")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap()
    }

    #[test]
    fn recognises_complete_handshakes() {
        let req = handshake();
        assert!(is_websocket_upgrade(&req));
        validate_upgrade(&req).unwrap();

        let mut no_key = handshake();
        no_key.headers_mut().remove("sec-websocket-key");
        let error = validate_upgrade(&no_key).unwrap_err();
        assert!(error.to_string().contains("Sec-WebSocket-Key"), "{error}");

        let plain = Request::post("/").body(()).unwrap();
        assert!(!is_websocket_upgrade(&plain));
        assert!(validate_upgrade(&plain)
            .unwrap_err()
            .to_string()
            .contains("POST"));

        let mut built = Request::get("/").body(()).unwrap();
        add_upgrade_headers(&mut built, "a2V5").unwrap();
        validate_upgrade(&built).unwrap();
    }

    #[test]
    fn close_frames_follow_the_rules() {
        validate_close(&CloseFrame::new(1000, "bye")).unwrap();
        validate_close(&CloseFrame::new(4000, "")).unwrap();
        assert!(matches!(
            validate_close(&CloseFrame::new(1006, "")),
            Err(ActorError::InvalidCloseCode { code: 1006 })
        ));
        assert!(matches!(
            validate_close(&CloseFrame::new(1000, "x".repeat(124))),
            Err(ActorError::TooLarge { .. })
        ));
    }

    #[test]
    fn connections_carry_messages_and_the_closing_handshake() {
        block_on(async {
            let (mut client, mut server) = WebSocketConnection::pair(4);
            client.send("hi").await.unwrap();
            assert_eq!(server.recv().await, Some(Message::Text("hi".into())));
            client.close(1000, "done").await.unwrap();
            assert_eq!(
                server.next_frame().await,
                Some(Frame::Close(CloseFrame::new(1000, "done")))
            );
            // The server answered the close; the client sees it and then the end.
            assert_eq!(client.recv().await, None);
            assert_eq!(client.close_frame(), Some(&CloseFrame::new(1000, "done")));
            assert!(client.send("late").await.is_err());
        });
    }

    #[test]
    fn a_dropped_peer_is_an_abnormal_close() {
        block_on(async {
            let (mut client, server) = WebSocketConnection::pair(1);
            drop(server);
            assert_eq!(client.recv().await, None);
            assert_eq!(
                client.close_frame().map(|f| f.code),
                Some(close_code::ABNORMAL)
            );
        });
    }
}
