//! WebSockets of local actors: the socket the actor holds, and the bridge between it and a
//! connection.
//!
//! A [`LocalSocket`] lives in its actor's slot, not in the instance, so it stays open (with
//! its tags and attachment) while the instance is evicted. Frames for the peer wait in a
//! queue bounded in bytes; a peer that does not keep up is disconnected rather than letting
//! the queue grow. Frames from the peer go to the actor's mailbox, which is bounded too: when
//! it is full, reading stops and the connection's own flow control holds the peer back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use alchemy_stream::ByteStream;
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use http::{header, Response, StatusCode};
use tokio::sync::mpsc;

use super::runtime::{Event, Slot};
use crate::actor::{
    close_code, ActorError, CloseFrame, Frame, Message, Result, WebSocket, WebSocketBackend,
};

/// What a queued frame costs beyond its payload, so that many empty messages still count.
const FRAME_OVERHEAD: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A close frame was queued for the peer.
    Closing,
    /// The connection is over.
    Closed,
}

struct Outgoing {
    state: State,
    /// `None` once nothing more may be queued.
    tx: Option<mpsc::UnboundedSender<Frame>>,
}

/// One accepted socket.
pub(crate) struct LocalSocket {
    id: String,
    tags: Vec<String>,
    attachment: Mutex<Option<Bytes>>,
    outgoing: Mutex<Outgoing>,
    /// Taken by the bridge when the connection is up.
    queue: Mutex<Option<mpsc::UnboundedReceiver<Frame>>>,
    queued_bytes: AtomicUsize,
    send_buffer_limit: usize,
    max_attachment_bytes: usize,
}

fn cost(frame: &Frame) -> usize {
    FRAME_OVERHEAD
        + match frame {
            Frame::Message(message) => message.len(),
            Frame::Close(close) => close.reason.len(),
        }
}

impl LocalSocket {
    pub(crate) fn new(
        id: String,
        tags: Vec<String>,
        send_buffer_limit: usize,
        max_attachment_bytes: usize,
    ) -> Arc<LocalSocket> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(LocalSocket {
            id,
            tags,
            attachment: Mutex::default(),
            outgoing: Mutex::new(Outgoing {
                state: State::Open,
                tx: Some(tx),
            }),
            queue: Mutex::new(Some(rx)),
            queued_bytes: AtomicUsize::new(0),
            send_buffer_limit,
            max_attachment_bytes,
        })
    }

    /// The actor's handle on this socket.
    pub(crate) fn handle(self: &Arc<Self>) -> WebSocket {
        WebSocket::new(self.clone(), self.max_attachment_bytes)
    }

    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|own| own == tag)
    }

    fn outgoing(&self) -> std::sync::MutexGuard<'_, Outgoing> {
        self.outgoing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enqueue(&self, outgoing: &Outgoing, frame: Frame) -> bool {
        let Some(tx) = &outgoing.tx else { return false };
        self.queued_bytes.fetch_add(cost(&frame), Ordering::AcqRel);
        tx.send(frame).is_ok()
    }

    /// The connection ended: nothing more is sent, and the socket no longer counts as open.
    pub(crate) fn mark_closed(&self) {
        let mut outgoing = self.outgoing();
        outgoing.state = State::Closed;
        outgoing.tx = None;
    }

    /// The peer closed (or the connection failed): answers a clean close with the same frame,
    /// then lets the writer finish.
    fn peer_closed(&self, answer: Option<CloseFrame>) {
        let mut outgoing = self.outgoing();
        if outgoing.state == State::Open {
            if let Some(frame) = answer {
                self.enqueue(&outgoing, Frame::Close(frame));
            }
        }
        outgoing.state = State::Closed;
        outgoing.tx = None;
    }

    /// An accepted socket whose connection never came up.
    pub(crate) async fn abandon(self: &Arc<Self>, slot: &Slot) {
        self.mark_closed();
        let frame = CloseFrame::new(
            close_code::ABNORMAL,
            "the WebSocket handshake did not complete",
        );
        let _ = slot
            .tx
            .send(Event::Close {
                socket: self.clone(),
                frame,
            })
            .await;
    }
}

impl WebSocketBackend for LocalSocket {
    fn id(&self) -> &str {
        &self.id
    }

    fn send(&self, message: Message) -> Result<()> {
        let mut outgoing = self.outgoing();
        if outgoing.state != State::Open {
            return Err(ActorError::WebSocketClosed {
                socket: self.id.clone(),
            });
        }
        let frame = Frame::Message(message);
        let queued = self.queued_bytes.load(Ordering::Acquire);
        if queued + cost(&frame) > self.send_buffer_limit {
            let close = CloseFrame::new(close_code::POLICY_VIOLATION, "send buffer full");
            self.enqueue(&outgoing, Frame::Close(close));
            outgoing.state = State::Closing;
            outgoing.tx = None;
            return Err(ActorError::SendBufferFull {
                socket: self.id.clone(),
                limit: self.send_buffer_limit,
            });
        }
        if self.enqueue(&outgoing, frame) {
            Ok(())
        } else {
            Err(ActorError::WebSocketClosed {
                socket: self.id.clone(),
            })
        }
    }

    fn close(&self, frame: CloseFrame) -> Result<()> {
        let mut outgoing = self.outgoing();
        if outgoing.state == State::Open {
            self.enqueue(&outgoing, Frame::Close(frame));
            outgoing.state = State::Closing;
            outgoing.tx = None;
        }
        Ok(())
    }

    fn tags(&self) -> Vec<String> {
        self.tags.clone()
    }

    fn attachment(&self) -> Option<Bytes> {
        self.attachment
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_attachment(&self, attachment: Option<Bytes>) -> Result<()> {
        *self
            .attachment
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = attachment;
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.outgoing().state == State::Open
    }
}

/// Where an accepted socket goes: carried in the extensions of a request that can be
/// upgraded, filled by `accept_websocket`.
#[derive(Clone, Default)]
pub(crate) struct UpgradeSlot(Arc<Mutex<Option<Arc<LocalSocket>>>>);

impl UpgradeSlot {
    /// Records the socket accepted for this request; a request upgrades once.
    pub(crate) fn fill(&self, socket: Arc<LocalSocket>) -> Result<()> {
        let mut accepted = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if accepted.is_some() {
            return Err(ActorError::NotWebSocketUpgrade {
                reason: "its WebSocket was accepted already".to_string(),
            });
        }
        *accepted = Some(socket);
        Ok(())
    }

    /// The socket accepted for this request, if one was.
    pub(crate) fn take(&self) -> Option<Arc<LocalSocket>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The response that tells the caller the socket was accepted.
pub(crate) fn switching_protocols() -> Response<ByteStream> {
    let mut response = Response::new(ByteStream::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("upgrade"),
    );
    response
}

/// Moves frames between `socket` and a connection until it closes.
///
/// `incoming` yields the peer's frames, or an error frame (such as 1002 for a malformed
/// frame) when the connection failed; it ends when the connection drops. `outgoing` takes
/// the frames for the peer.
pub(crate) async fn bridge<I, O>(
    socket: Arc<LocalSocket>,
    slot: Arc<Slot>,
    mut incoming: I,
    mut outgoing: O,
) where
    I: Stream<Item = std::result::Result<Frame, CloseFrame>> + Unpin,
    O: Sink<Frame> + Unpin,
{
    let queue = socket
        .queue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let writer = async {
        let Some(mut queue) = queue else { return };
        while let Some(frame) = queue.recv().await {
            socket
                .queued_bytes
                .fetch_sub(cost(&frame), Ordering::AcqRel);
            let last = matches!(frame, Frame::Close(_));
            if outgoing.send(frame).await.is_err() || last {
                break;
            }
        }
        let _ = outgoing.close().await;
    };
    let reader = async {
        let frame = loop {
            match incoming.next().await {
                Some(Ok(Frame::Message(message))) => {
                    let event = Event::Message {
                        socket: socket.clone(),
                        message,
                    };
                    if slot.tx.send(event).await.is_err() {
                        break None;
                    }
                }
                Some(Ok(Frame::Close(frame))) => {
                    socket.peer_closed(Some(frame.clone()));
                    break Some(frame);
                }
                Some(Err(frame)) => {
                    socket.peer_closed(None);
                    break Some(frame);
                }
                None => {
                    socket.peer_closed(None);
                    break Some(CloseFrame::new(
                        close_code::ABNORMAL,
                        "the connection dropped without a close frame",
                    ));
                }
            }
        };
        if let Some(frame) = frame {
            let _ = slot
                .tx
                .send(Event::Close {
                    socket: socket.clone(),
                    frame,
                })
                .await;
        }
    };
    futures::join!(reader, writer);
}

/// Bridges `socket` to a WebSocket that the local HTTP server upgraded.
///
/// Pings are answered by the connection and not delivered; a peer that breaks the protocol
/// has been sent the matching close code (1002, 1007, 1009) by the connection, and the actor
/// sees that code in `on_close`.
pub(crate) async fn bridge_upgraded(
    socket: Arc<LocalSocket>,
    slot: Arc<Slot>,
    ws: alchemy_http::websocket::WebSocket,
) {
    use alchemy_http::Message as Wire;
    use futures::future::ready;

    let (sink, stream) = ws.split();
    let incoming = stream.filter_map(|item| {
        ready(match item {
            Ok(Wire::Text(text)) => Some(Ok(Frame::Message(Message::Text(text)))),
            Ok(Wire::Binary(bytes)) => Some(Ok(Frame::Message(Message::Binary(bytes)))),
            Ok(Wire::Ping(_) | Wire::Pong(_)) => None,
            Ok(Wire::Close(frame)) => {
                Some(Ok(Frame::Close(frame.unwrap_or_else(|| {
                    CloseFrame::new(close_code::NO_STATUS, "")
                }))))
            }
            Err(error) => Some(Err(CloseFrame::new(
                error.close_code().unwrap_or(close_code::ABNORMAL),
                error.to_string(),
            ))),
        })
    });
    let outgoing = sink.with(|frame: Frame| {
        ready(Ok::<_, alchemy_http::websocket::WebSocketError>(
            match frame {
                Frame::Message(message) => Wire::from(message),
                Frame::Close(frame) => Wire::Close(Some(frame)),
            },
        ))
    });
    bridge(socket, slot, incoming, outgoing).await;
}
