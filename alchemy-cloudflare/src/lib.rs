//! The Cloudflare provider for Alchemy: R2 buckets and Durable Objects as the neutral bucket
//! and actor traits, an `alchemy-http` service as a Worker's fetch handler, the build of an app
//! crate into a Worker bundle, and workerd on this machine for tests.
//!
//! - [`binding_name`] and [`names`]: the names the control plane writes into a Worker's
//!   metadata and the runtime reads from its `env`.
//!
//! # In a Worker (`wasm32-unknown-unknown`)
//!
//! These modules exist on `wasm32` only (the `worker` crate is wasm-only), so native docs do
//! not list them:
//!
//! - `r2::R2Bucket`: an R2 binding as a [`BucketStore`](alchemy::bucket::BucketStore).
//! - `durable`: Durable Objects as actors. [`durable_object!`] defines the class that hosts a
//!   namespace's actors; `durable::DurableObjects` reaches them as an
//!   [`ActorClient`](alchemy::actor::ActorClient).
//! - `serve()` and [`serve!`]: a service as the Worker's fetch handler, with a
//!   `CloudflareRuntime` that binds R2 buckets and Durable Object namespaces by name
//!   ([`binding_name`]).
//!
//! ```text
//! // src/lib.rs of an app crate, built with `alchemy_cloudflare::build::build_worker`:
//! alchemy_cloudflare::serve!(Api, "api");
//! alchemy_cloudflare::durable_object!(RoomObject, ROOMS);
//! ```
//!
//! # On this machine
//!
//! - `build` (feature `build`): compiles an app crate to wasm32, runs wasm-bindgen, writes the
//!   JS entry, and reports the sizes.
//! - `api` (feature `deploy`): a client of the v4 API.
//! - `control` (feature `deploy`): R2 buckets, Worker scripts with Durable Object migrations
//!   and workers.dev as deployable resources, and the `CloudflarePlatform`.
//! - `Cloudflare` (feature `deploy`): the provider as a cloud an app registers
//!   (`.cloud(alchemy_cloudflare::Cloudflare)`), for stages with `provider = "cloudflare"`.
//! - `testing` (feature `testing`): a local v4 API server that checks every request against
//!   Cloudflare's OpenAPI documents, and a built Worker run in workerd on a loopback port.

mod bindings;
mod macros;
pub mod names;

pub use bindings::binding_name;

#[cfg(feature = "deploy")]
pub mod api;
#[cfg(feature = "deploy")]
mod cloud;
#[cfg(feature = "deploy")]
pub use cloud::Cloudflare;
#[cfg(feature = "build")]
pub mod build;
#[cfg(feature = "deploy")]
pub mod control;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(target_arch = "wasm32")]
pub mod durable;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
pub mod r2;
#[cfg(target_arch = "wasm32")]
mod serve;

#[cfg(target_arch = "wasm32")]
pub use serve::{serve, CloudflareRuntime};

/// What the macros refer to. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use alchemy;
    #[cfg(target_arch = "wasm32")]
    pub use {js_sys, wasm_bindgen, wasm_bindgen_futures, web_sys, worker};
}
