//! The AWS provider for Alchemy.
//!
//! - [`s3`]: S3 as a provider-neutral bucket. [`s3::S3Bucket`] implements
//!   [`BucketStore`](alchemy::bucket::BucketStore) over `aws-sdk-s3`: bodies stream both ways
//!   with bounded memory, `PutMode::Create` and `PutMode::Update` become `If-None-Match: *` and
//!   `If-Match`, and S3's answers become the neutral
//!   [`BucketError`](alchemy::bucket::BucketError) variants.
//! - [`actor`]: the neutral actor model on AWS. [`actor::DynamoActors`] runs each turn of an
//!   actor in the calling process (a Lambda invocation, or any other) and keeps it
//!   single-writer with a fenced lease in DynamoDB; with `deploy`, `ActorTableProps` is the
//!   namespace's table as a resource and `actor_permissions` the IAM statements it needs.
//! - [`runtime`]: [`runtime::AwsRuntime`], the [`Runtime`](alchemy::bind::Runtime) that hands
//!   a service on AWS its bound buckets as S3 clients.
//! - `control` (feature `deploy`): `S3BucketProps` and `S3BucketProvider`, the S3 bucket
//!   as a resource the engine deploys, and `bucket_permissions`, the least-privilege IAM
//!   statements for a service bound to a bucket; the IAM role, Lambda function and function
//!   URL of a service, the `bootstrap` package of its code, and `AwsPlatform`, the
//!   platform that hosts a whole app on AWS.
//! - `lambda` (feature `lambda`): the Lambda adapter, serving an `alchemy-http` handler for
//!   function URL and API Gateway HTTP API events, buffered or streaming.
//! - `Aws` (feature `deploy`): the AWS cloud an app registers with `.cloud(alchemy_aws::Aws)`.
//!   A stage with `provider = "aws"` in `alchemy.toml` then deploys to AWS, and the deployed
//!   function, which runs the same program, serves the app's service inside Lambda.
//! - `testing` (feature `testing`): AWS emulators (MiniStack and moto) on `127.0.0.1`,
//!   installed on first use into a Python virtual environment and stopped when dropped, for
//!   this crate's tests and for other crates' AWS tests.
//! - `faults` (feature `testing`): a fault-injecting proxy between an SDK client and an
//!   emulator: throttling in each service's protocol, 500s, dropped connections, latency.
//!
//! ```no_run
//! # async fn example() -> alchemy::bucket::Result<()> {
//! use alchemy::bucket::BucketClient;
//! use alchemy_aws::s3::S3Bucket;
//!
//! let photos = BucketClient::new(S3Bucket::from_env("my-photos").await);
//! let created = photos.put_if_absent("cat.txt", "meow").await?;
//! photos.put_if_match("cat.txt", "purr", &created.etag).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `deploy`: the `control` module, the actor table resource and `Aws` (adds the core's `deploy` feature and `lambda`).
//! - `lambda`: the `lambda` module alone, for a function that serves a handler without the
//!   control plane (adds `lambda_runtime`; no IAM or Lambda SDK, no CLI).
//! - `testing`: the `testing` module (adds tokio's process, net and time drivers and `libc`).
//!
//! The SDK is built with its Tokio runtime support and its default HTTPS client (hyper with
//! rustls), which also speaks plain HTTP to a loopback endpoint. `aws-config` is built without
//! its `sso` and `credentials-process` features: the standard chain reads environment
//! variables, profile files with static or assumed-role credentials, web identity tokens and
//! container and instance metadata, but not SSO sessions or `credential_process`; build a
//! client with those yourself and pass it to [`S3Bucket::new`](s3::S3Bucket::new).
//!
//! # Testing against emulators
//!
//! The crate's tests run the bucket conformance suite against S3 in MiniStack and in moto.
//! What each emulator does not honour is declared in its capabilities
//! (`Emulator::s3_capabilities`), so the suite skips exactly those tests and the rest must
//! pass. They need `python3` with its `venv` module; without it they fail, saying how to
//! install it.

pub mod actor;
#[cfg(feature = "deploy")]
mod cloud;
#[cfg(feature = "deploy")]
pub mod control;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod runtime;
pub mod s3;
#[cfg(feature = "deploy")]
mod state;

#[cfg(feature = "testing")]
pub mod faults;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "deploy")]
pub use control::{
    bucket_permissions, AwsPlatform, AwsPlatformOptions, CorsRule, LifecycleRule, S3BucketOutput,
    S3BucketProps, S3BucketProvider,
};

#[cfg(feature = "deploy")]
pub use cloud::Aws;
