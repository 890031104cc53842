//! The [`Actor`] trait, and its object-safe form for providers.

use std::fmt;
use std::future::Future;

use alchemy_stream::ByteStream;
use http::{Request, Response};

use super::{ActorContext, BoxFuture, MaybeSend, MaybeSendSync, Message, Result, WebSocket};

/// An actor: a named, single-writer object with its own storage, reached through an
/// [`ActorNamespace`](super::ActorNamespace).
///
/// One instance exists per [`ActorId`](super::ActorId). Its events (requests, WebSocket
/// messages and closes, alarms) run one turn at a time, in the order they arrive: a turn
/// ends before the next one starts, so the actor needs no locks. Different actors run
/// concurrently.
///
/// The provider builds the instance with [`init`](Self::init) before its first event, and
/// again after it evicted an idle instance; restore what the handlers need from
/// [`ActorContext::storage`] there. Write handlers as `async fn`; on native targets their
/// futures must be `Send`.
///
/// ```
/// use alchemy::actor::{Actor, ActorContext, ByteStream, Result};
/// use http::{Request, Response};
///
/// struct Counter {
///     ctx: ActorContext,
/// }
///
/// impl Actor for Counter {
///     async fn init(ctx: ActorContext) -> Result<Self> {
///         Ok(Counter { ctx })
///     }
///
///     async fn fetch(&self, _req: Request<ByteStream>) -> Result<Response<ByteStream>> {
///         let storage = self.ctx.storage();
///         let count = storage.get::<u64>("count").await?.unwrap_or(0) + 1;
///         storage.put("count", &count).await?;
///         Ok(Response::new(ByteStream::from(count.to_string())))
///     }
/// }
/// ```
pub trait Actor: Sized + MaybeSendSync + 'static {
    /// Builds the instance for `ctx`, restoring its state.
    fn init(ctx: ActorContext) -> impl Future<Output = Result<Self>> + MaybeSend;

    /// Handles a request sent through a stub.
    fn fetch(
        &self,
        req: Request<ByteStream>,
    ) -> impl Future<Output = Result<Response<ByteStream>>> + MaybeSend;

    /// Handles a message on a WebSocket the actor accepted. By default, ignores it.
    fn on_message(
        &self,
        ws: &WebSocket,
        msg: Message,
    ) -> impl Future<Output = Result<()>> + MaybeSend {
        let _ = (ws, msg);
        async { Ok(()) }
    }

    /// Handles the close of a WebSocket the actor accepted, with the peer's code and reason.
    /// The provider completes the closing handshake; by default, nothing else happens.
    fn on_close(
        &self,
        ws: &WebSocket,
        code: u16,
        reason: &str,
    ) -> impl Future<Output = Result<()>> + MaybeSend {
        let _ = (ws, code, reason);
        async { Ok(()) }
    }

    /// Runs when the alarm set with [`ActorContext::set_alarm`] is due. An error makes the
    /// provider retry it with backoff. By default, does nothing.
    fn alarm(&self) -> impl Future<Output = Result<()>> + MaybeSend {
        async { Ok(()) }
    }
}

/// An [`Actor`] with its types erased, as providers drive it.
pub trait DynActor: MaybeSendSync {
    /// [`Actor::fetch`].
    fn fetch(&self, req: Request<ByteStream>) -> BoxFuture<'_, Result<Response<ByteStream>>>;

    /// [`Actor::on_message`].
    fn on_message<'a>(&'a self, ws: &'a WebSocket, msg: Message) -> BoxFuture<'a, Result<()>>;

    /// [`Actor::on_close`].
    fn on_close<'a>(
        &'a self,
        ws: &'a WebSocket,
        code: u16,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>>;

    /// [`Actor::alarm`].
    fn alarm(&self) -> BoxFuture<'_, Result<()>>;
}

impl<A: Actor> DynActor for A {
    fn fetch(&self, req: Request<ByteStream>) -> BoxFuture<'_, Result<Response<ByteStream>>> {
        Box::pin(Actor::fetch(self, req))
    }

    fn on_message<'a>(&'a self, ws: &'a WebSocket, msg: Message) -> BoxFuture<'a, Result<()>> {
        Box::pin(Actor::on_message(self, ws, msg))
    }

    fn on_close<'a>(
        &'a self,
        ws: &'a WebSocket,
        code: u16,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(Actor::on_close(self, ws, code, reason))
    }

    fn alarm(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(Actor::alarm(self))
    }
}

/// What [`ActorClass::init`] returns: the instance, built, with its type erased.
pub type InitFuture = BoxFuture<'static, Result<Box<dyn DynActor>>>;

/// How a provider builds instances of one [`Actor`] type without naming it.
#[derive(Clone, Copy)]
pub struct ActorClass {
    type_name: &'static str,
    init: fn(ActorContext) -> InitFuture,
}

impl ActorClass {
    /// The class of `A`.
    pub fn of<A: Actor>() -> Self {
        ActorClass {
            type_name: std::any::type_name::<A>(),
            init: |ctx| {
                Box::pin(async move {
                    let actor: Box<dyn DynActor> = Box::new(A::init(ctx).await?);
                    Ok(actor)
                })
            },
        }
    }

    /// The Rust type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Builds an instance with [`Actor::init`].
    pub fn init(&self, ctx: ActorContext) -> InitFuture {
        (self.init)(ctx)
    }
}

impl fmt::Debug for ActorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ActorClass").field(&self.type_name).finish()
    }
}
