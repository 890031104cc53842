//! Conversions between [`ByteStream`](crate::ByteStream) and tokio's `AsyncRead` /
//! `AsyncWrite` (the `tokio` feature; tokio's `io-util` only, no runtime).
//!
//! Everything here streams: memory stays at about one chunk however long the data is.

mod copy;
mod read;
mod reader;

pub use reader::ByteStreamReader;
