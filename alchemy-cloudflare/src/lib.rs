//! The Cloudflare provider for Alchemy: R2, Workers and Durable Objects.
//!
//! This crate is still empty: nothing here deploys to Cloudflare yet.
