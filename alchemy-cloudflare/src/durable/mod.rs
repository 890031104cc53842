//! Durable Objects as neutral actors.
//!
//! A Durable Object class hosts the actors of one namespace: the
//! [`durable_object!`](crate::durable_object) macro defines the class, whose instances each hold
//! an [`ObjectHost`]. The host builds the actor with `Actor::init`
//! before its first event (and again after the runtime evicted it), runs its events one turn at
//! a time, and gives it a context over the object's key-value storage, its SQLite database
//! (`ctx.storage.sql`), its alarm and its hibernatable WebSockets.
//!
//! From the Worker (or another object), [`DurableObjects`] reaches the objects of a namespace
//! binding as a neutral [`ActorClient`](alchemy::actor::ActorClient).

mod bridge;
mod client;
mod context;
mod socket;
mod sql;
mod storage;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use alchemy::actor::{
    close_code, Actor, ActorClass, ActorContext, ActorError, Actors, DynActor, Message,
};
use futures::lock::Mutex;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::future_to_promise;
use worker::worker_sys::DurableObjectState;

pub use client::DurableObjects;
pub use context::{capabilities, DoContext};
pub use socket::{DoSocket, MAX_ATTACHMENT_BYTES};
pub use sql::DoSql;
pub use storage::DoStorage;

use crate::js;

/// Waits for `duration`, on the runtime's clock (a timer of the Worker's event loop).
pub async fn sleep(duration: std::time::Duration) {
    worker::Delay::from(duration).await
}

/// The response header that tells a caller why an object answered with an error: `init` when
/// the actor failed to start, `handler` when its handler failed.
pub(crate) const ERROR_HEADER: &str = "x-alchemy-actor-error";

/// One Durable Object instance hosting one actor of a namespace.
///
/// The class that [`durable_object!`](crate::durable_object) defines holds one; its methods are
/// what the runtime calls (`fetch`, `alarm`, `webSocketMessage`, `webSocketClose`,
/// `webSocketError`), each returning the promise the runtime waits for.
pub struct ObjectHost {
    class: ActorClass,
    namespace: &'static str,
    context: Result<Arc<DoContext>, String>,
    actor: RefCell<Option<Rc<dyn DynActor>>>,
    turn: Mutex<()>,
}

impl ObjectHost {
    /// The host of the object `state`, for the actors that `actors` declares.
    pub fn new<A: Actor>(
        state: DurableObjectState,
        _env: worker::Env,
        actors: &'static Actors<A>,
    ) -> Rc<Self> {
        let namespace = actors.id();
        Rc::new(ObjectHost {
            class: actors.class(),
            namespace,
            context: DoContext::new(state, namespace)
                .map(Arc::new)
                .map_err(|error| error.to_string()),
            actor: RefCell::new(None),
            turn: Mutex::new(()),
        })
    }

    /// `namespace/id`, for messages.
    fn actor_name(&self) -> String {
        match &self.context {
            Ok(context) => format!(
                "{}/{}",
                self.namespace,
                alchemy::actor::ContextBackend::id(&**context)
            ),
            Err(_) => self.namespace.to_string(),
        }
    }

    fn context(&self) -> Result<&Arc<DoContext>, ActorError> {
        self.context
            .as_ref()
            .map_err(|reason| ActorError::InitFailed {
                actor: self.namespace.to_string(),
                message: reason.clone(),
            })
    }

    /// The actor, built first if this instance has none yet. Call it within a turn.
    async fn actor(&self) -> Result<Rc<dyn DynActor>, ActorError> {
        if let Some(actor) = self.actor.borrow().as_ref() {
            return Ok(actor.clone());
        }
        let context = self.context()?.clone();
        let built = self
            .class
            .init(ActorContext::new(context))
            .await
            .map_err(|error| ActorError::InitFailed {
                actor: self.actor_name(),
                message: error.to_string(),
            })?;
        let actor: Rc<dyn DynActor> = Rc::from(built);
        *self.actor.borrow_mut() = Some(actor.clone());
        Ok(actor)
    }

    /// Handles a request: the runtime's `fetch`.
    pub fn fetch(self: &Rc<Self>, req: web_sys::Request) -> js_sys::Promise {
        let host = self.clone();
        future_to_promise(async move { host.handle_fetch(req).await.map(JsValue::from) })
    }

    async fn handle_fetch(&self, req: web_sys::Request) -> Result<web_sys::Response, JsValue> {
        let req = match js::from_js_request(&req) {
            Ok(req) => req,
            Err(error) => {
                return js::text_response(400, &format!("the request is invalid: {error}"))
            }
        };
        let _turn = self.turn.lock().await;
        let actor = match self.actor().await {
            Ok(actor) => actor,
            Err(error) => return error_response("init", &error),
        };
        let mut response = match actor.fetch(req).await {
            Ok(response) => response,
            Err(error) => return error_response("handler", &error),
        };
        match response.extensions_mut().remove::<worker::WebSocket>() {
            Some(client) => worker::Response::from_websocket(client)
                .map(web_sys::Response::from)
                .map_err(JsValue::from),
            None => js::to_js_response(response).await,
        }
    }

    /// Runs the alarm handler: the runtime's `alarm`. A failure makes the runtime retry it.
    pub fn alarm(self: &Rc<Self>) -> js_sys::Promise {
        let host = self.clone();
        future_to_promise(async move {
            let _turn = host.turn.lock().await;
            let actor = host.actor().await.map_err(js_error)?;
            actor.alarm().await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Delivers a message of a hibernatable socket: the runtime's `webSocketMessage`.
    pub fn websocket_message(
        self: &Rc<Self>,
        socket: web_sys::WebSocket,
        message: JsValue,
    ) -> js_sys::Promise {
        let host = self.clone();
        future_to_promise(async move {
            let message = match message.as_string() {
                Some(text) => Message::Text(text),
                None => Message::Binary(js_sys::Uint8Array::new(&message).to_vec().into()),
            };
            let _turn = host.turn.lock().await;
            let actor = host.actor().await.map_err(js_error)?;
            let socket = host.context().map_err(js_error)?.socket(socket);
            actor.on_message(&socket, message).await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Delivers the close of a hibernatable socket, then completes the closing handshake: the
    /// runtime's `webSocketClose`.
    pub fn websocket_close(
        self: &Rc<Self>,
        socket: web_sys::WebSocket,
        code: u16,
        reason: String,
    ) -> js_sys::Promise {
        let host = self.clone();
        future_to_promise(async move {
            let _turn = host.turn.lock().await;
            let actor = host.actor().await.map_err(js_error)?;
            let handle = host.context().map_err(js_error)?.socket(socket.clone());
            let handled = actor.on_close(&handle, code, &reason).await;
            // Answer the peer's close; codes it may not echo get a normal closure.
            let echo = code == close_code::NORMAL || (3000..=4999).contains(&code);
            let _ = if echo {
                socket.close_with_code_and_reason(code, &reason)
            } else {
                socket.close_with_code(close_code::NORMAL)
            };
            handled.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// A socket failed: the runtime's `webSocketError`. The close that follows reaches the actor.
    pub fn websocket_error(
        self: &Rc<Self>,
        _socket: web_sys::WebSocket,
        error: JsValue,
    ) -> js_sys::Promise {
        worker::console_warn!(
            "a WebSocket of actor {} failed: {}",
            self.actor_name(),
            js::describe(&error)
        );
        js_sys::Promise::resolve(&JsValue::UNDEFINED)
    }
}

/// An error as a JS exception.
fn js_error(error: ActorError) -> JsValue {
    js_sys::Error::new(&error.to_string()).into()
}

/// The response that carries an actor's failure back to its caller.
fn error_response(kind: &str, error: &ActorError) -> Result<web_sys::Response, JsValue> {
    let message = match error {
        ActorError::InitFailed { message, .. } | ActorError::HandlerFailed { message, .. } => {
            message.clone()
        }
        other => other.to_string(),
    };
    let response = js::text_response(500, &message)?;
    response.headers().set(ERROR_HEADER, kind)?;
    Ok(response)
}
