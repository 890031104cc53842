//! [`WebSocket`]: an open WebSocket, as a stream and a sink of [`Message`]s.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as WireCloseFrame;
use tokio_tungstenite::tungstenite::Message as WireMessage;
use tokio_tungstenite::WebSocketStream;

use super::{close_code, CloseFrame, Message, WebSocketError};

/// The byte stream under a WebSocket: an upgraded HTTP connection or a client's TCP stream.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub(crate) type BoxIo = Box<dyn Io>;

/// The most payload a control frame carries.
const MAX_CONTROL_PAYLOAD: usize = 125;

/// An open WebSocket: a [`Stream`] of received [`Message`]s and a [`Sink`] of messages to
/// send, with [`recv`](Self::recv), [`send`](Self::send) and [`close`](Self::close) for
/// the common cases.
///
/// - **Pings are answered** with pongs automatically; they are still delivered, for
///   keep-alive bookkeeping.
/// - **The close handshake**: a [`Message::Close`] from the peer is answered at once, then
///   delivered; the stream ends after it. [`close`](Self::close) starts the handshake from
///   this side; keep reading until the stream ends to receive the peer's answer.
/// - **Protocol errors never panic.** When the peer breaks the protocol, the socket sends a
///   close frame with the matching code (1002 for a malformed frame, 1007 for text that is not
///   UTF-8, 1009 for a message over the limit), closes the connection and yields the
///   [`WebSocketError`]; then the stream ends.
///
/// Use `futures::StreamExt::split` to read and write from different tasks.
pub struct WebSocket {
    inner: WebSocketStream<BoxIo>,
    protocol: Option<String>,
    state: State,
}

enum State {
    Open,
    /// A close message from the peer: the reply is flushed before it is delivered.
    Closing(Option<CloseFrame>),
    /// The peer broke the protocol: the close frame goes out, then the error is delivered.
    Failing {
        error: WebSocketError,
        step: FailStep,
    },
    /// The socket failed; the stream has ended.
    Failed,
}

#[derive(Clone, Copy)]
enum FailStep {
    Send,
    Flush,
    Shutdown,
}

impl WebSocket {
    pub(crate) fn new(inner: WebSocketStream<BoxIo>, protocol: Option<String>) -> Self {
        Self {
            inner,
            protocol,
            state: State::Open,
        }
    }

    /// The subprotocol agreed on in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The next message, `None` once the socket has closed.
    pub async fn recv(&mut self) -> Option<Result<Message, WebSocketError>> {
        self.next().await
    }

    /// Sends `message` and flushes it.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), WebSocketError> {
        SinkExt::send(self, message.into()).await
    }

    /// Starts the close handshake with `code` (see [`close_code`]) and `reason`, and flushes
    /// the close frame. The peer's answer arrives as the last message of the stream.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        SinkExt::send(self, Message::close(code, reason)).await
    }

    fn poll_fail(&mut self, cx: &mut Context<'_>) -> Poll<WebSocketError> {
        loop {
            let State::Failing { error, step } = &mut self.state else {
                unreachable!("poll_fail is only called while failing");
            };
            let done = match *step {
                FailStep::Send => match ready!(self.inner.poll_ready_unpin(cx)) {
                    Ok(()) => {
                        let code = error.close_code().unwrap_or(close_code::PROTOCOL_ERROR);
                        let frame = WireCloseFrame {
                            code: CloseCode::from(code),
                            reason: close_reason(error).into(),
                        };
                        let sent = self.inner.start_send_unpin(WireMessage::Close(Some(frame)));
                        *step = FailStep::Flush;
                        sent.is_err()
                    }
                    Err(_) => true,
                },
                FailStep::Flush => {
                    let flushed = ready!(self.inner.poll_flush_unpin(cx));
                    *step = FailStep::Shutdown;
                    flushed.is_err()
                }
                FailStep::Shutdown => {
                    // The connection is failed: close it without waiting for the peer's reply.
                    let _ = ready!(Pin::new(self.inner.get_mut()).poll_shutdown(cx));
                    true
                }
            };
            if done {
                let State::Failing { error, .. } =
                    std::mem::replace(&mut self.state, State::Failed)
                else {
                    unreachable!("the state is still failing");
                };
                return Poll::Ready(error);
            }
        }
    }
}

/// The reason sent in the close frame of a failed socket: short, and within a frame.
fn close_reason(error: &WebSocketError) -> &'static str {
    match error {
        WebSocketError::InvalidUtf8 => "invalid UTF-8",
        WebSocketError::MessageTooBig { .. } => "message too big",
        _ => "protocol error",
    }
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Open => "open",
            State::Closing(_) => "closing",
            State::Failing { .. } => "failing",
            State::Failed => "failed",
        };
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .field("state", &state)
            .finish()
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, WebSocketError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Failed => return Poll::Ready(None),
                State::Failing { .. } => return this.poll_fail(cx).map(|error| Some(Err(error))),
                State::Closing(frame) => {
                    // Best effort: a peer that is gone already does not need the reply.
                    let _ = ready!(this.inner.poll_flush_unpin(cx));
                    let frame = frame.take();
                    this.state = State::Open;
                    return Poll::Ready(Some(Ok(Message::Close(frame))));
                }
                State::Open => {}
            }
            match ready!(this.inner.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Ok(message)) => match from_wire(message) {
                    Some(Message::Close(frame)) => this.state = State::Closing(frame),
                    Some(message) => return Poll::Ready(Some(Ok(message))),
                    None => {}
                },
                Some(Err(error)) => {
                    let error = WebSocketError::from_tungstenite(error);
                    if error.close_code().is_none() {
                        this.state = State::Failed;
                        return Poll::Ready(Some(Err(error)));
                    }
                    tracing::debug!(%error, "closing a WebSocket whose peer broke the protocol");
                    this.state = State::Failing {
                        error,
                        step: FailStep::Send,
                    };
                }
            }
        }
    }
}

impl Sink<Message> for WebSocket {
    type Error = WebSocketError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_ready_unpin(cx)
            .map_err(WebSocketError::from_tungstenite)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        let message = to_wire(message)?;
        self.inner
            .start_send_unpin(message)
            .map_err(WebSocketError::from_tungstenite)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_flush_unpin(cx)
            .map_err(WebSocketError::from_tungstenite)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_close_unpin(cx)
            .map_err(WebSocketError::from_tungstenite)
    }
}

/// A received message; `None` for raw frames, which are never received.
fn from_wire(message: WireMessage) -> Option<Message> {
    Some(match message {
        WireMessage::Text(text) => Message::Text(text.as_str().to_owned()),
        WireMessage::Binary(data) => Message::Binary(data),
        WireMessage::Ping(data) => Message::Ping(data),
        WireMessage::Pong(data) => Message::Pong(data),
        WireMessage::Close(frame) => Message::Close(frame.map(|frame| CloseFrame {
            code: frame.code.into(),
            reason: frame.reason.as_str().to_owned(),
        })),
        WireMessage::Frame(_) => return None,
    })
}

/// A message to send, checked against what the protocol allows.
fn to_wire(message: Message) -> Result<WireMessage, WebSocketError> {
    Ok(match message {
        Message::Text(text) => WireMessage::Text(text.into()),
        Message::Binary(data) => WireMessage::Binary(data),
        Message::Ping(data) => WireMessage::Ping(control_payload(data)?),
        Message::Pong(data) => WireMessage::Pong(control_payload(data)?),
        Message::Close(None) => WireMessage::Close(None),
        Message::Close(Some(CloseFrame { code, reason })) => {
            if !close_code::is_sendable(code) {
                return Err(WebSocketError::InvalidCloseCode { code });
            }
            if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
                return Err(WebSocketError::ControlTooLong {
                    len: reason.len() + 2,
                });
            }
            WireMessage::Close(Some(WireCloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            }))
        }
    })
}

fn control_payload(data: Bytes) -> Result<Bytes, WebSocketError> {
    if data.len() > MAX_CONTROL_PAYLOAD {
        return Err(WebSocketError::ControlTooLong { len: data.len() });
    }
    Ok(data)
}
