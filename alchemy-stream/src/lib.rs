//! Byte streams for Alchemy: [`Bytes`] chunks over [`futures::Stream`], with a size hint that
//! is kept, and conversions that stream with bounded memory.
//!
//! [`ByteStream`] is the one body type that buckets, HTTP handlers and actors exchange. It
//! converts to and from:
//!
//! - in-memory data: [`Bytes`], `Vec<u8>`, `String`, static slices (no copy);
//! - any [`Stream`](futures::Stream) of chunks: [`ByteStream::from_stream`];
//! - [`http_body::Body`] 1.x: `ByteStream` is a `Body`, and [`ByteStream::from_body`] takes any
//!   `Body`, keeping the exact size hint both ways;
//! - tokio's `AsyncRead` / `AsyncWrite` (feature `tokio`): `ByteStream::into_async_read`,
//!   `ByteStream::from_async_read` and `ByteStream::copy_to`.
//!
//! Collecting is bounded: [`ByteStream::collect`] fails with [`StreamError::TooLarge`] as soon
//! as its limit is passed, and [`ByteStream::limit`] caps a stream that is passed on.
//!
//! # Features
//!
//! - `tokio`: the `AsyncRead` / `AsyncWrite` conversions (tokio's `io-util` only; no runtime).
//! - `conformance`: the `conformance` module, the test suite that every stream source and
//!   adapter runs.
//!
//! The crate builds for `wasm32-unknown-unknown`: it needs no threads, no runtime and no file
//! system. Sources must be `Send` on native targets only (see [`MaybeSend`]).

mod adapters;
mod body;
mod byte_stream;
mod collect;
mod error;
mod maybe_send;

#[cfg(feature = "tokio")]
mod io;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use byte_stream::ByteStream;
pub use bytes::Bytes;
pub use error::{BoxError, StreamError};
pub use http_body::SizeHint;
pub use maybe_send::MaybeSend;

#[cfg(feature = "tokio")]
pub use io::ByteStreamReader;
