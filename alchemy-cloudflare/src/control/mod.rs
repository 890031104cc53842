//! The control plane: Cloudflare resources as [`Provider`](alchemy::provider::Provider)s the
//! engine plans, creates, updates and deletes (feature `deploy`).
//!
//! - [`R2BucketProps`] / [`R2BucketProvider`]: an R2 bucket named from the physical name.
//! - [`WorkerProps`] / [`WorkerProvider`]: a Worker script uploaded as modules with its
//!   bindings, Durable Object migrations derived from its classes, and workers.dev.
//! - [`DurableObjectNamespaceProps`]: an actor namespace, hosted by a Worker.
//! - [`CloudflarePlatform`]: the app's neutral declarations on Cloudflare.
//!
//! ```no_run
//! # fn example() -> alchemy::Result<()> {
//! use alchemy_cloudflare::control::CloudflarePlatform;
//! use serde_json::json;
//!
//! let app = alchemy::app("photo-share").platform(|_stage, _dir| {
//!     let settings = json!({ "bundle": { "dir": "build/worker", "main_module": "shim.mjs", "modules": ["index_bg.wasm"] } });
//!     Ok(std::sync::Arc::new(CloudflarePlatform::from_env(&settings)?) as _)
//! });
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

mod actors;
mod bucket;
mod hash;
mod migration;
mod platform;
mod worker;

pub use actors::{
    DurableObjectNamespaceOutput, DurableObjectNamespaceProps, DurableObjectNamespaceProvider,
};
pub use bucket::{
    bucket_name, Location, R2BucketOutput, R2BucketProps, R2BucketProvider, StorageClass,
};
pub use migration::{Migration, Rename};
pub use platform::{
    BundleSource, CloudflarePlatform, CloudflarePlatformOptions, CrateSource,
    DEFAULT_COMPATIBILITY_DATE,
};
pub use worker::{
    script_name, DurableObjectClass, Module, WorkerBinding, WorkerBundle, WorkerOutput,
    WorkerProps, WorkerProvider,
};
