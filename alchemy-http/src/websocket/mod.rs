//! WebSockets: [`Message`]s that are the same on every provider, and (feature `server`) the
//! upgrade of a request on the local server (`accept`), the `WebSocket` it gives, and a client
//! (`connect`).
//!
//! # Accepting a WebSocket in a handler
//!
//! ```no_run
//! # #[cfg(feature = "server")]
//! # mod example {
//! use alchemy_http::websocket::{self, Message};
//! use alchemy_stream::ByteStream;
//! use http::{Request, Response};
//!
//! async fn chat(request: Request<ByteStream>) -> Response<ByteStream> {
//!     let (response, upgrading) = match websocket::accept(request) {
//!         Ok(accepted) => accepted,
//!         Err(refused) => return refused.into_response(),
//!     };
//!     // The socket exists once the 101 response is sent: return it first, and talk to the
//!     // socket in a task of its own.
//!     tokio::spawn(async move {
//!         let Ok(mut socket) = upgrading.await else { return };
//!         while let Some(Ok(message)) = socket.recv().await {
//!             if let Message::Text(text) = message {
//!                 if socket.send(Message::text(format!("echo: {text}"))).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }
//!     });
//!     response
//! }
//! # }
//! ```

mod message;
mod request;

pub use message::{close_code, CloseFrame, Message};
pub use request::is_upgrade_request;

#[cfg(feature = "server")]
mod client;
#[cfg(feature = "server")]
mod config;
#[cfg(feature = "server")]
mod error;
#[cfg(feature = "server")]
mod socket;
#[cfg(feature = "server")]
mod upgrade;

#[cfg(feature = "server")]
pub use client::{connect, connect_with};
#[cfg(feature = "server")]
pub use config::WebSocketConfig;
#[cfg(feature = "server")]
pub use error::{UpgradeError, WebSocketError};
#[cfg(feature = "server")]
pub use socket::WebSocket;
#[cfg(feature = "server")]
pub use upgrade::{accept, accept_with, Upgrading};
