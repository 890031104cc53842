//! [`DoSocket`]: a WebSocket accepted by a Durable Object as the neutral [`WebSocketBackend`].
//!
//! The runtime keeps the socket, its tags and its attachment while the object is evicted. The
//! attachment holds the socket's id next to the application's own attachment, so both survive.

use alchemy::actor::{ActorError, CloseFrame, Message, Result, WebSocketBackend};
use bytes::Bytes;
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::ext::WebSocketExt;
use worker::worker_sys::DurableObjectState;

use super::storage::PROVIDER;
use crate::js::describe;

pub use crate::capabilities::MAX_ATTACHMENT_BYTES;

/// One hibernatable WebSocket of a Durable Object.
pub struct DoSocket {
    socket: web_sys::WebSocket,
    state: DurableObjectState,
    id: String,
}

impl DoSocket {
    /// Accepts `socket` (the server end of a pair) into the object's hibernatable sockets with
    /// `tags`, giving it the id `id`.
    pub(crate) fn accept(
        state: &DurableObjectState,
        socket: web_sys::WebSocket,
        tags: &[String],
        id: String,
    ) -> Result<Self> {
        socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let tags = tags.iter().map(|tag| JsValue::from(tag.as_str())).collect();
        state
            .accept_websocket_with_tags(&socket, tags)
            .map_err(|error| socket_error("accepting", &error))?;
        let accepted = DoSocket {
            socket,
            state: crate::js::same(state),
            id,
        };
        accepted.write_attachment(None)?;
        Ok(accepted)
    }

    /// A socket the runtime handed back (after eviction, or from `getWebSockets`).
    pub(crate) fn existing(state: &DurableObjectState, socket: web_sys::WebSocket) -> Self {
        let id = Self::stored(&socket)
            .and_then(|stored| Reflect::get(&stored, &"id".into()).ok())
            .and_then(|id| id.as_string())
            .unwrap_or_default();
        DoSocket {
            socket,
            state: crate::js::same(state),
            id,
        }
    }

    /// The stored attachment object, if there is one.
    fn stored(socket: &web_sys::WebSocket) -> Option<Object> {
        socket
            .deserialize_attachment()
            .ok()
            .filter(|value| value.is_object())
            .map(JsCast::unchecked_into)
    }

    /// Stores the socket's id with `data` as its application attachment.
    fn write_attachment(&self, data: Option<&Bytes>) -> Result<()> {
        let stored = Object::new();
        let set = |name: &str, value: JsValue| {
            Reflect::set(&stored, &name.into(), &value)
                .map_err(|error| socket_error("storing the attachment of", &error))
        };
        set("id", self.id.as_str().into())?;
        if let Some(data) = data {
            set("data", Uint8Array::from(&data[..]).into())?;
        }
        self.socket
            .serialize_attachment(stored.into())
            .map_err(|error| socket_error("storing the attachment of", &error))
    }
}

/// A failed socket call, as an [`ActorError`].
fn socket_error(operation: &str, error: &JsValue) -> ActorError {
    ActorError::backend(
        PROVIDER,
        format!("{operation} a WebSocket failed: {}", describe(error)),
    )
}

impl WebSocketBackend for DoSocket {
    fn id(&self) -> &str {
        &self.id
    }

    fn send(&self, message: Message) -> Result<()> {
        if !self.is_open() {
            return Err(ActorError::WebSocketClosed {
                socket: self.id.clone(),
            });
        }
        let sent = match &message {
            Message::Text(text) => self.socket.send_with_str(text),
            Message::Binary(bytes) => self.socket.send_with_u8_array(bytes),
        };
        sent.map_err(|error| socket_error("sending on", &error))
    }

    fn close(&self, frame: CloseFrame) -> Result<()> {
        self.socket
            .close_with_code_and_reason(frame.code, &frame.reason)
            .map_err(|error| socket_error("closing", &error))
    }

    fn tags(&self) -> Vec<String> {
        self.state.get_tags(&self.socket).unwrap_or_default()
    }

    fn attachment(&self) -> Option<Bytes> {
        let stored = Self::stored(&self.socket)?;
        let data = Reflect::get(&stored, &"data".into()).ok()?;
        data.dyn_ref::<Uint8Array>()
            .map(|array| Bytes::from(array.to_vec()))
    }

    fn set_attachment(&self, attachment: Option<Bytes>) -> Result<()> {
        self.write_attachment(attachment.as_ref())
    }

    fn is_open(&self) -> bool {
        self.socket.ready_state() == web_sys::WebSocket::OPEN
    }
}
