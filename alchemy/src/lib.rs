//! Alchemy: one Rust program that is both a cloud application and its own infrastructure.
//!
//! A service declares what it needs in an init phase (bind a bucket, bind an actor namespace)
//! and returns its implementation. At deploy time each binding becomes part of one plan that
//! spans every provider of the stage; at run time the same call hands back a typed client.
//!
//! Which provider hosts a stage is configuration, not code: `alchemy.toml` ([`config`]) maps
//! stages to `local` or to a provider package the app registers as a [`cloud::Cloud`]
//! (`.cloud(alchemy_aws::Aws)`), which also serves the app when its runtime starts the
//! program.

pub mod actor;
pub mod bind;
pub mod bucket;
pub mod error;
pub mod maybe;
pub mod resource;
pub mod secret;

#[cfg(feature = "deploy")]
pub mod app;
#[cfg(feature = "deploy")]
pub mod apply;
#[cfg(feature = "deploy")]
pub mod cli;
#[cfg(feature = "deploy")]
pub mod cloud;
#[cfg(feature = "deploy")]
pub mod config;
#[cfg(feature = "deploy")]
pub mod local;
#[cfg(feature = "deploy")]
pub mod placement;
#[cfg(feature = "deploy")]
pub mod plan;
#[cfg(feature = "deploy")]
pub mod platform;
#[cfg(feature = "deploy")]
pub mod provider;
#[cfg(feature = "deploy")]
pub mod stack;
#[cfg(feature = "deploy")]
pub mod state;

pub use bind::{Access, Bindable, Init, Service};
pub use error::{Error, Result};
pub use resource::{Handle, Input, RemovalPolicy, Resource, ResourceDef};
pub use secret::Secret;

/// HTTP handlers: the `alchemy-http` crate.
pub use alchemy_http as http;

#[cfg(feature = "deploy")]
pub use app::{app, App};
