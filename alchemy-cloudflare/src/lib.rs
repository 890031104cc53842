//! The Cloudflare provider for Alchemy: R2, Workers and Durable Objects.

pub mod names;

#[cfg(feature = "deploy")]
pub mod api;
#[cfg(feature = "deploy")]
pub mod control;
#[cfg(feature = "testing")]
pub mod testing;
