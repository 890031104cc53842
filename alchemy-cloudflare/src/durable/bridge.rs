//! The caller's end of a WebSocket to a Durable Object, bridged to a neutral
//! [`WebSocketConnection`].

use alchemy::actor::{ActorError, CloseFrame, Frame, Message, Result, WebSocketConnection};
use futures::{FutureExt, SinkExt, StreamExt};
use worker::{WebSocket, WebsocketEvent};

use super::storage::PROVIDER;

/// How many frames each direction buffers.
const BUFFER: usize = 64;

/// Accepts the client end `socket` and bridges it to a [`WebSocketConnection`], in a task of
/// its own for as long as the socket is open.
pub(crate) fn connection(socket: WebSocket) -> Result<WebSocketConnection> {
    // Binary messages as ArrayBuffers, which can be read at once (a Blob cannot).
    socket
        .as_ref()
        .set_binary_type(web_sys::BinaryType::Arraybuffer);
    socket.accept().map_err(|error| {
        ActorError::backend(
            PROVIDER,
            format!("accepting the actor's WebSocket: {error}"),
        )
    })?;
    let (ours, theirs) = WebSocketConnection::pair(BUFFER);
    let (mut to_caller, mut from_caller) = theirs.into_parts();
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(mut events) = socket.events() else {
            return;
        };
        let mut caller_open = true;
        loop {
            futures::select_biased! {
                event = events.next().fuse() => match event {
                    Some(Ok(WebsocketEvent::Message(message))) => {
                        let message = match (message.text(), message.bytes()) {
                            (Some(text), _) => Message::Text(text),
                            (None, Some(bytes)) => Message::Binary(bytes.into()),
                            (None, None) => continue,
                        };
                        if to_caller.send(Frame::Message(message)).await.is_err() {
                            let _ = socket.close(Some(1000), Some("the caller went away"));
                        }
                    }
                    Some(Ok(WebsocketEvent::Close(close))) => {
                        let frame = CloseFrame::new(close.code(), &close.reason());
                        let _ = to_caller.send(Frame::Close(frame)).await;
                        break;
                    }
                    Some(Err(_)) | None => break,
                },
                frame = if caller_open { from_caller.next().boxed_local() } else { futures::future::pending().boxed_local() }.fuse() => match frame {
                    Some(Frame::Message(Message::Text(text))) => {
                        let _ = socket.send_with_str(text);
                    }
                    Some(Frame::Message(Message::Binary(bytes))) => {
                        let _ = socket.send_with_bytes(bytes);
                    }
                    Some(Frame::Close(frame)) => {
                        let _ = socket.close(Some(frame.code), Some(frame.reason));
                    }
                    None => {
                        caller_open = false;
                        let _ = socket.close(Some(1000), Some("the caller went away"));
                    }
                },
            }
        }
        to_caller.close_channel();
    });
    Ok(ours)
}
