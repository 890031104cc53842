//! HTTP handlers for Alchemy: tower `Service`s over `http` 1.x types.
//!
//! This crate is still empty: the handler adapters arrive with the provider-neutral runtime.
