//! Byte streams for Alchemy: `Bytes` chunks over `futures::Stream` with a size hint.
//!
//! This crate is still empty: the stream type arrives with the provider-neutral runtime.
