//! The Cloudflare provider for Alchemy: R2 buckets and Durable Objects as the neutral bucket
//! and actor traits, an `alchemy-http` service as a Worker's fetch handler, the build of an app
//! crate into a Worker bundle, and workerd on this machine for tests.
//!
//! - [`binding_name`] and [`names`]: the names the control plane writes into a Worker's
//!   metadata and the runtime reads from its `env`.
//! - [`s3`]: S3 as a [`BucketStore`](alchemy::bucket::BucketStore) over SigV4-signed HTTP
//!   ([`alchemy_s3`], re-exported), on both targets: over `fetch` in a Worker
//!   (`s3::FetchTransport`), over reqwest natively (feature `s3-native`). A Worker whose bucket
//!   a stage places in S3 gets it from `CloudflareRuntime::bucket`.
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
//!   `CloudflareRuntime` that binds buckets (the R2 binding named [`binding_name`] of the id,
//!   else the S3 bucket that `ALCHEMY_BUCKET_<ID>` names, see [`s3`]) and Durable Object
//!   namespaces by name.
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
//!   Cloudflare's OpenAPI documents, a built Worker run in workerd on a loopback port, and
//!   `LocalCloudflare`, the two joined into a Cloudflare account on this machine.
//!
//! # A Cloudflare stage on this machine
//!
//! A stage with `provider = "cloudflare"` deploys with no Cloudflare account to
//! `LocalCloudflare` (feature `testing`): the same API calls as against api.cloudflare.com,
//! each checked against Cloudflare's OpenAPI documents, and every uploaded Worker script run
//! in workerd, with its R2 buckets, SQLite-backed Durable Objects and variables made from the
//! uploaded metadata. Storage persists in the target's directory across redeploys and
//! restarts.
//!
//! 1. Install the wasm toolchain, Node and wrangler (once): `bash scripts/wasm-toolchain.sh`.
//! 2. Register the cloud in the app (`.cloud(alchemy_cloudflare::Cloudflare)`, with this
//!    crate's `deploy` and `build` features in the app's native dependencies) and give the
//!    stage its Worker crate in `alchemy.toml`; `crate` is relative to the directory the
//!    deploy runs in, and the crate is built to wasm whenever the stage is planned (unchanged
//!    sources build the same bytes, so a redeploy with no change uploads nothing):
//!
//!    ```toml
//!    [stages.edge]
//!    provider = "cloudflare"
//!
//!    [stages.edge.settings]
//!    bundle = { crate = "." }
//!    ```
//!
//! 3. Start the account and leave it running (Enter stops it and its Workers):
//!
//!    ```text
//!    cargo run -p alchemy-cloudflare --features testing --example local-cloudflare -- target/local-cloudflare
//!    ```
//!
//!    It prints the three variables to deploy with:
//!
//!    ```text
//!    export CLOUDFLARE_API_BASE_URL=http://127.0.0.1:45709/client/v4
//!    export CLOUDFLARE_ACCOUNT_ID=023e105f4ecef8ad9ca31a8372d0c353
//!    export CLOUDFLARE_API_TOKEN=test-api-token
//!    ```
//!
//! 4. In another shell, set them and deploy: `cargo run -- deploy --stage edge --yes`. The
//!    deploy ends with the Worker's workers.dev URL among the outputs
//!    (`api.url = https://photo-share-edge-api.alchemy-test.workers.dev`), and the account
//!    prints where that URL answers on this machine
//!    (`photo-share-edge-api: https://photo-share-edge-api.alchemy-test.workers.dev -> http://127.0.0.1:38491`):
//!    `curl http://127.0.0.1:38491/`. Each script keeps its port across redeploys.
//!    `destroy --stage edge --yes` deletes the script and stops its workerd.
//!
//! The test Worker of this crate deploys the same way, with its app program
//! `alchemy-cloudflare-test-app` (`tests/test_app`), from a directory whose `alchemy.toml` has
//! `bundle = { crate = "<checkout>/alchemy-cloudflare/tests/worker-app" }` and
//! `actor_classes = { suite = "SuiteObject", rooms = "RoomObject" }`:
//! `cargo run -p alchemy-cloudflare --features testing --bin alchemy-cloudflare-test-app -- deploy --stage edge --yes`.
//!
//! In tests, `LocalCloudflare::start(dir)` does the same in-process: `client()` or `env()`
//! point a deploy at it, `url(script)` and `resolve(workers_dev_url)` tell where a script
//! answers, `starts(script)` how often workerd was started for it, and `api().violations()`
//! lists every request the documents do not describe (`tests/local_target.rs`).

mod bindings;
mod capabilities;
mod macros;
pub mod names;
pub mod s3;

pub use bindings::binding_name;
pub use capabilities::{actor_capabilities, MAX_ATTACHMENT_BYTES};

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
