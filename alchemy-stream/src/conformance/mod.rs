//! The conformance suite for byte streams (feature `conformance`).
//!
//! Every implementation that produces or carries [`ByteStream`](crate::ByteStream)s (this
//! crate's own constructors and adapters, the HTTP adapters, the S3 and R2 body adapters) runs
//! the same tests, so they all behave alike: the same bytes, honest lengths, limits that hold,
//! errors that come through, and memory that stays bounded.
//!
//! The functions are `async` and panic with a message naming the case when the implementation
//! fails; call them from a test with any executor. They need no runtime of their own, so they
//! run on `wasm32` too. Each is generic over how the stream is produced or consumed:
//!
//! - A **source** produces a stream of given content: `make: impl AsyncFn(Bytes) -> ByteStream`.
//!   Run [`roundtrip`] and [`limits`] on every source, [`exact_length`] on sources that know
//!   their length.
//! - A **pipe** takes a stream in and gives one out:
//!   `pipe: impl AsyncFn(ByteStream) -> Result<ByteStream, StreamError>`. An HTTP adapter is
//!   a pipe (request body in, the body the handler reads out); so is a bucket (put, then get).
//!   A sink becomes a pipe by reading back what it received. Run [`pipe_roundtrip`],
//!   [`pipe_propagates_errors`] and [`pipe_bounded_memory`] on every pipe,
//!   [`pipe_exact_length`] on pipes that carry the length, and [`pipe_preserves_errors`] on
//!   in-process pipes.
//! - An **`AsyncRead` to `AsyncWrite` copy** (feature `tokio` too): [`copy_bounded_memory`]
//!   moves any amount of data from a [`PatternReader`] to a [`PatternWriter`] and checks the
//!   bytes held at once.
//!
//! The building blocks are public for an implementation's own tests: [`Pattern`] (test data
//! whose every byte can be checked by position), [`payload`] and [`InFlight`] (counts the bytes
//! an implementation holds).
//!
//! # Example
//!
//! An adapter crate adds `alchemy-stream = { ..., features = ["conformance"] }` to its
//! dev-dependencies and writes, for instance:
//!
//! ```
//! use alchemy_stream::conformance;
//! use alchemy_stream::{ByteStream, StreamError};
//!
//! /// The implementation under test: here, a trip through `http_body::Body`.
//! async fn through_body(input: ByteStream) -> Result<ByteStream, StreamError> {
//!     let body = http_body_util::BodyExt::map_err(input, |error| error);
//!     Ok(ByteStream::from_body(body))
//! }
//!
//! # futures::executor::block_on(async {
//! // In a `#[test]`, with any executor:
//! conformance::roundtrip(async |data| through_body(ByteStream::from(data)).await.unwrap()).await;
//! conformance::pipe_roundtrip(through_body).await;
//! conformance::pipe_preserves_errors(through_body).await;
//! conformance::pipe_bounded_memory(through_body, 8 << 20, 4 * 16 * 1024).await;
//! # });
//! ```

mod alloc;
mod check;
mod in_flight;
mod pattern;
mod pipe;
mod source;

#[cfg(feature = "tokio")]
mod io;

pub use alloc::CountingAllocator;
pub use in_flight::InFlight;
pub use pattern::{payload, Pattern};
pub use pipe::{
    pipe_bounded_memory, pipe_exact_length, pipe_preserves_errors, pipe_propagates_errors,
    pipe_roundtrip, BOUNDED_MEMORY_CHUNK,
};
pub use source::{exact_length, limits, roundtrip, PAYLOAD_SIZES};

#[cfg(feature = "tokio")]
pub use io::{copy_bounded_memory, PatternReader, PatternWriter};
