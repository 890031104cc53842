//! Actors: provider-neutral, single-writer objects with their own storage, alarms and
//! WebSockets.
//!
//! An actor type implements [`Actor`]; an app declares a namespace of them as a static
//! ([`Actors`]); a service binds the declaration and gets an [`ActorNamespace`], whose
//! [`ActorStub`]s send requests to one instance each. The stage decides what runs them:
//! Durable Objects on Cloudflare, Lambda-backed actors on AWS, or in-process actors on this
//! machine (`alchemy::local::actor`, with the `deploy` feature).
//!
//! - **Single writer.** The events of one actor (requests, WebSocket messages and closes,
//!   alarms) run one turn at a time, in order; different actors run concurrently.
//! - **State.** [`ActorContext::storage`] is a key-value store of bytes or serde values with
//!   atomic [`Batch`]es and [`Transaction`]s; [`ActorContext::sql`] is SQL over the same
//!   database, where the provider has one.
//! - **Alarms.** [`ActorContext::set_alarm`] schedules [`Actor::alarm`], durably and at least
//!   once.
//! - **WebSockets with hibernation.** [`ActorContext::accept_websocket`] takes a socket with
//!   tags; a per-socket attachment holds connection state. An idle instance may be evicted
//!   while its sockets stay open: the next event rebuilds it with [`Actor::init`], sockets,
//!   tags, attachments and storage intact.
//! - **Capabilities up front.** [`Capabilities`] says what a provider supports before a call
//!   is made.
//!
//! ```
//! # #[cfg(feature = "deploy")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use alchemy::actor::{Actor, ActorContext, Actors, ByteStream, Result};
//! use alchemy::local::actor::{LocalActors, LocalActorsOptions};
//! use http::{Request, Response};
//!
//! struct Counter {
//!     ctx: ActorContext,
//! }
//!
//! impl Actor for Counter {
//!     async fn init(ctx: ActorContext) -> Result<Self> {
//!         Ok(Counter { ctx })
//!     }
//!
//!     async fn fetch(&self, _req: Request<ByteStream>) -> Result<Response<ByteStream>> {
//!         let storage = self.ctx.storage();
//!         let count = storage.get::<u64>("count").await?.unwrap_or(0) + 1;
//!         storage.put("count", &count).await?;
//!         Ok(Response::new(ByteStream::from(count.to_string())))
//!     }
//! }
//!
//! static COUNTERS: Actors<Counter> = Actors::new("counters");
//!
//! # let dir = tempfile::tempdir()?;
//! let local = LocalActors::open(dir.path(), LocalActorsOptions::default())?;
//! let counters = local.namespace(&COUNTERS).await?;
//! let stub = counters.get_by_name("visits")?;
//! for expected in ["1", "2"] {
//!     let response = stub.fetch(Request::post("/").body(ByteStream::empty())?).await?;
//!     assert_eq!(response.into_body().collect(64).await?, expected);
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "deploy"))]
//! # fn main() {}
//! ```
//!
//! # Providers
//!
//! A provider implements [`ActorClient`] (the caller's side) and [`ContextBackend`] with
//! [`StorageBackend`], [`SqlBackend`] and [`WebSocketBackend`] (the actor's side), and drives
//! actors through [`ActorClass`] and [`DynActor`], which erase the actor type.
//!
//! # Testing
//!
//! With the `mock` feature, `MockActorClient` stands in for a provider in unit tests of code
//! that calls actors. With the `conformance` feature, `alchemy::actor::conformance` holds the
//! test suite that every provider runs.

mod capabilities;
mod client;
mod context;
mod declare;
mod error;
mod handler;
mod id;
#[cfg(feature = "actor-ids")]
mod ids;
mod sql;
mod storage;
mod websocket;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(all(feature = "mock", not(target_arch = "wasm32")))]
mod mock;

pub use crate::maybe::{BoxFuture, MaybeSend, MaybeSendSync};
pub use alchemy_stream::ByteStream;
pub use capabilities::{Capabilities, Capability};
pub use client::{ActorClient, ActorNamespace, ActorStub};
pub use context::{validate_tags, ActorContext, ContextBackend};
pub use declare::Actors;
#[cfg(feature = "deploy")]
pub(crate) use error::shorten as shorten_text;
pub use error::{ActorError, Result};
pub use handler::{Actor, ActorClass, DynActor, InitFuture};
pub use id::ActorId;
#[cfg(feature = "actor-ids")]
pub use ids::ActorIds;
#[cfg(all(feature = "mock", not(target_arch = "wasm32")))]
pub use mock::MockActorClient;
pub use sql::{Rows, Sql, SqlBackend, SqlValue};
pub use storage::{Batch, ListOptions, Storage, StorageBackend, Transaction, WriteOp};
pub use websocket::{
    add_upgrade_headers, close_code, is_websocket_upgrade, validate_close, validate_upgrade,
    CloseFrame, Frame, Message, WebSocket, WebSocketBackend, WebSocketConnection,
    MAX_CLOSE_REASON_BYTES,
};
