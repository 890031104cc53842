//! The caller's side: [`ActorNamespace`], [`ActorStub`] and the [`ActorClient`] trait that
//! providers implement.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use alchemy_stream::ByteStream;
use http::{Request, Response};

use super::{ActorError, ActorId, Capabilities, MaybeSendSync, Result, WebSocketConnection};
use crate::maybe::{single_threaded, single_threaded_send_sync};

/// A namespace of actors as a provider reaches it: id issuing and request delivery.
///
/// Application code uses it through [`ActorNamespace`] and [`ActorStub`]; unit tests can put
/// a `MockActorClient` (feature `mock`) behind a namespace instead of a provider.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait ActorClient: MaybeSendSync + 'static {
    /// The provider's short name, such as `"local"` or `"cloudflare"`.
    fn provider(&self) -> &'static str;

    /// The namespace's logical id.
    fn namespace(&self) -> &str;

    /// What the provider supports.
    fn capabilities(&self) -> Capabilities;

    /// The id of the actor called `name`: the same name always gives the same id.
    fn id_from_name(&self, name: &str) -> Result<ActorId>;

    /// A fresh id that no other actor has.
    fn new_unique_id(&self) -> Result<ActorId>;

    /// Reads back an id from the string it displayed as, checking that this namespace issued
    /// it ([`ActorError::MalformedId`], [`ActorError::UnknownId`]).
    fn id_from_string(&self, id: &str) -> Result<ActorId>;

    /// Delivers `req` to the actor `id` (building it first if needed) and returns its
    /// response.
    async fn fetch(&self, id: &ActorId, req: Request<ByteStream>) -> Result<Response<ByteStream>>;

    /// Opens a WebSocket to the actor `id`: delivers the handshake `req` and, when the actor
    /// accepts it, returns the caller's end.
    async fn connect(&self, id: &ActorId, req: Request<ByteStream>) -> Result<WebSocketConnection> {
        let _ = (id, req);
        Err(ActorError::NotSupported {
            capability: "websockets",
            provider: self.provider(),
        })
    }
}

/// The actors of one namespace, as a service reaches them: bind an
/// [`Actors`](super::Actors) declaration to get one.
///
/// `A` is the actor type, so that a namespace of rooms cannot be mistaken for a namespace of
/// counters. A namespace is a cheap handle: clones share the same client.
///
/// ```
/// # async fn example(rooms: alchemy::actor::ActorNamespace<()>) -> alchemy::actor::Result<()> {
/// use alchemy::actor::ByteStream;
///
/// let lobby = rooms.get(&rooms.id_from_name("lobby")?);
/// let response = lobby
///     .fetch(http::Request::get("/members").body(ByteStream::empty())?)
///     .await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
pub struct ActorNamespace<A> {
    client: Arc<dyn ActorClient>,
    _actor: PhantomData<fn() -> A>,
}

impl<A> Clone for ActorNamespace<A> {
    fn clone(&self) -> Self {
        ActorNamespace {
            client: self.client.clone(),
            _actor: PhantomData,
        }
    }
}

// SAFETY: without the `atomics` target feature a wasm32 module has one thread (see
// `alchemy::maybe::SingleThreaded`).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A> Send for ActorNamespace<A> {}
// SAFETY: as for `Send`.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<A> Sync for ActorNamespace<A> {}

impl<A> fmt::Debug for ActorNamespace<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorNamespace")
            .field("namespace", &self.client.namespace())
            .field("provider", &self.client.provider())
            .finish()
    }
}

impl<A> ActorNamespace<A> {
    /// A namespace over a provider's `client`.
    pub fn new(client: impl ActorClient) -> Self {
        Self::from_client(Arc::new(client))
    }

    /// A namespace over a shared provider client.
    pub fn from_client(client: Arc<dyn ActorClient>) -> Self {
        ActorNamespace {
            client,
            _actor: PhantomData,
        }
    }

    /// The provider client underneath.
    pub fn client(&self) -> &Arc<dyn ActorClient> {
        &self.client
    }

    /// The namespace's logical id.
    pub fn name(&self) -> &str {
        self.client.namespace()
    }

    /// What the provider supports.
    pub fn capabilities(&self) -> Capabilities {
        self.client.capabilities()
    }

    /// The id of the actor called `name`: the same name always gives the same actor.
    pub fn id_from_name(&self, name: &str) -> Result<ActorId> {
        self.client.id_from_name(name)
    }

    /// A fresh id that no other actor has.
    pub fn new_unique_id(&self) -> Result<ActorId> {
        self.client.new_unique_id()
    }

    /// Reads back an id from the string it displayed as; fails with
    /// [`ActorError::MalformedId`] for a string that is no id and [`ActorError::UnknownId`]
    /// for an id of another namespace.
    pub fn id_from_string(&self, id: &str) -> Result<ActorId> {
        self.client.id_from_string(id)
    }

    /// A stub that sends to the actor `id`. The actor is built on its first event.
    pub fn get(&self, id: &ActorId) -> ActorStub {
        ActorStub {
            client: self.client.clone(),
            id: id.clone(),
        }
    }

    /// A stub for the actor called `name`.
    pub fn get_by_name(&self, name: &str) -> Result<ActorStub> {
        Ok(self.get(&self.id_from_name(name)?))
    }
}

/// A handle on one actor instance: what it receives goes to that instance only.
#[derive(Clone)]
pub struct ActorStub {
    client: Arc<dyn ActorClient>,
    id: ActorId,
}

single_threaded_send_sync!(ActorStub);

impl fmt::Debug for ActorStub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorStub")
            .field("namespace", &self.client.namespace())
            .field("id", &self.id)
            .finish()
    }
}

impl ActorStub {
    /// The actor's id.
    pub fn id(&self) -> &ActorId {
        &self.id
    }

    /// Sends `req` to the actor's [`fetch`](super::Actor::fetch) and returns its response.
    ///
    /// An error returned by the handler arrives as [`ActorError::HandlerFailed`].
    pub async fn fetch(&self, req: Request<ByteStream>) -> Result<Response<ByteStream>> {
        single_threaded(self.client.fetch(&self.id, req)).await
    }

    /// Opens a WebSocket to the actor: `req` (its path and headers; the handshake headers are
    /// added) reaches the actor's `fetch`, which accepts it with
    /// [`ActorContext::accept_websocket`](super::ActorContext::accept_websocket).
    ///
    /// Fails with [`ActorError::NotSupported`] where [`Capabilities::websockets`] is unset,
    /// and with [`ActorError::NotWebSocketUpgrade`] when the actor answers without accepting.
    pub async fn connect(&self, req: Request<ByteStream>) -> Result<WebSocketConnection> {
        if !self.client.capabilities().websockets {
            return Err(ActorError::NotSupported {
                capability: "websockets",
                provider: self.client.provider(),
            });
        }
        single_threaded(self.client.connect(&self.id, req)).await
    }
}
