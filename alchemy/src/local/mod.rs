//! The local provider, the embedded default: everything on this machine.
//!
//! Buckets are directories; a service is recorded as a manifest of its bindings, which `dev`
//! serves.

pub mod actor;
mod platform;

pub use platform::{LocalBucketProps, LocalPlatform, LocalServiceProps};
