//! HTTP handlers for Alchemy: tower `Service`s over `http` 1.x types, so that an axum
//! `Router` deploys unchanged, with a local hyper server and WebSocket upgrades.
//!
//! # Handlers
//!
//! An HTTP handler is any tower [`Service`](tower_service::Service) from
//! `Request<`[`ByteStream`]`>` to `Response<B>`, where `B` is any
//! [`http_body::Body`] of [`Bytes`](bytes::Bytes): see [`HttpHandler`]. An axum `Router` is
//! one as it is, so are tower middleware stacks, and so is a plain async function through
//! [`handler_fn`]. [`BoxHandler`] erases any of them to
//! `Request<ByteStream> -> Response<ByteStream>`, and [`respond`] runs one request through a
//! handler the way every adapter does (errors and panics become `500`s).
//!
//! Adapters carry handlers to a platform: the local server of this crate (`serve`, feature
//! `server`), and the Lambda and Workers adapters of the provider crates. The conformance
//! suite (module `conformance`, feature `conformance`) checks that they all behave alike.
//!
//! # WebSockets
//!
//! [`Message`] and [`CloseFrame`] are the WebSocket messages of every provider. With the
//! `server` feature, a handler accepts an upgrade with `websocket::accept` and gets a
//! `websocket::WebSocket`; `websocket::connect` is the matching client.
//!
//! # Features
//!
//! - `server` (on by default): `serve`, `Server` and `ServerBuilder` (the local server on
//!   hyper 1.x and tokio, HTTP/1.1 and h2c), the WebSocket upgrade and client, and an HTTP
//!   `client::Client` for tests and tools. Native targets only.
//! - `conformance`: the `conformance` suite for HTTP adapters.
//!
//! With `default-features = false` the crate is the handler types only: it needs no runtime
//! and builds for `wasm32-unknown-unknown`, where the `Send` and `Sync` bounds on handlers
//! disappear (see [`MaybeSend`](alchemy_stream::MaybeSend) and [`MaybeSync`]). Crates of
//! this workspace take it that way (the workspace dependency turns default features off) and
//! ask for `server` where they run the local server.

mod handler;
mod maybe_sync;
pub mod websocket;

#[cfg(feature = "server")]
pub mod client;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod wire;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use alchemy_stream::{BoxError, ByteStream};
pub use handler::{
    handler_fn, respond, BoxHandler, BoxHandlerFuture, HandlerFn, HandlerFnFuture, HandlerOutput,
    HttpHandler, Respond, ResponseBody,
};
pub use maybe_sync::MaybeSync;
pub use websocket::{close_code, CloseFrame, Message};

#[cfg(feature = "server")]
pub use server::{serve, Bind, ServeError, Server, ServerBuilder, Stopped};
