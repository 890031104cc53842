//! The Cloudflare provider for Alchemy: R2, Workers and Durable Objects.
//!
//! - [`binding_name`] and [`names`]: the names the control plane writes into a Worker's
//!   metadata and the runtime reads from its `env`.
//! - `api` (feature `deploy`): a client of the v4 API.
//! - `control` (feature `deploy`): R2 buckets, Worker scripts with Durable Object migrations
//!   and workers.dev as deployable resources, and the `CloudflarePlatform`.
//! - `testing` (feature `testing`): a local v4 API server that checks every request against
//!   Cloudflare's OpenAPI documents.

mod bindings;
pub mod names;

pub use bindings::binding_name;

#[cfg(feature = "deploy")]
pub mod api;
#[cfg(feature = "deploy")]
pub mod control;
#[cfg(feature = "testing")]
pub mod testing;
