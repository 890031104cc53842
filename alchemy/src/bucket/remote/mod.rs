//! A bucket served over HTTP: [`answer`] serves any [`BucketClient`](super::BucketClient) to
//! other processes, and `RemoteBucket` (feature `deploy`) is the [`BucketStore`](super::BucketStore)
//! that talks to it.
//!
//! This is how a process outside a cloud reaches a bucket that only code inside it can open:
//! an R2 bucket, say, served by a small Worker. The server side needs no runtime of its own and
//! builds for `wasm32-unknown-unknown`; the client side runs on the local HTTP client.
//!
//! # The protocol
//!
//! Every request carries `Authorization: Bearer <token>`; the server compares it in constant
//! time and answers `401` when it is missing or wrong. Keys and query values are
//! percent-encoded (every byte but ASCII letters, digits, `-`, `_` and `~`, so `/` travels as
//! `%2F` and no proxy can normalise a path).
//!
//! | Request | Operation | Answer |
//! |---|---|---|
//! | `GET /capabilities` | provider and [`Capabilities`](super::Capabilities) | JSON |
//! | `GET /list?prefix=&delimiter=&start_after=&continuation=&max_keys=` | `list` | JSON page |
//! | `GET /o/{key}` with `Range`, `If-Match`, `If-None-Match` | `get` | `200`/`206`, the body |
//! | `HEAD /o/{key}` | `head` | the metadata headers |
//! | `PUT /o/{key}` with `If-None-Match: *` (create) or `If-Match` (update) | `put` | JSON etag |
//! | `DELETE /o/{key}` | `delete` | `204` |
//! | `POST /o/{key}?copy_from={key}` with the conditions of `PUT` | `copy` | JSON etag |
//! | `POST /o/{key}?uploads` with the conditions of `PUT` | `create_multipart` | JSON upload id |
//! | `PUT /o/{key}?upload_id=&part_number=` | `put_part` | JSON part |
//! | `POST /o/{key}?upload_id=` with the JSON parts | `complete_multipart` | JSON etag |
//! | `DELETE /o/{key}?upload_id=` | `abort_multipart` | `204` |
//!
//! An object's metadata travels as headers: `ETag` (quoted), `Content-Type`,
//! `x-alchemy-size` (the whole object's size), `x-alchemy-last-modified` (milliseconds since
//! the Unix epoch) and one `x-alchemy-meta-{name}` per user metadata entry; a ranged read adds
//! `Content-Range`. Bodies stream both ways.
//!
//! A failure is a JSON body `{ "error": kind, "message": ..., ... }` with the status that fits
//! (`404`, `412`, `416`, `400`, `501`, `502`, ...) and the fields of its
//! [`BucketError`](super::BucketError) variant, so the client gives back the very variant the
//! server's store returned. The same JSON, percent-encoded, is in the `x-alchemy-error` header,
//! for the answers that have no body (`HEAD`, `304`).

mod server;
mod wire;

#[cfg(feature = "deploy")]
mod client;
#[cfg(all(test, feature = "deploy"))]
mod tests;

#[cfg(feature = "deploy")]
pub use client::RemoteBucket;
pub use server::{answer, handler};
