//! The local provider, the embedded default: everything on this machine.
//!
//! Buckets are directories of ordinary files under the stage's state directory; a service is
//! recorded as a manifest of its bindings, which `dev` serves. No cloud account and no running
//! service is needed.

pub mod actor;
pub mod bucket;
mod platform;
mod runtime;

pub use platform::{LocalActorsProps, LocalBucketProps, LocalPlatform, LocalServiceProps};
pub use runtime::LocalRuntime;
