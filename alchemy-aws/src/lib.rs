//! The AWS provider for Alchemy.
//!
//! - [`s3`]: S3 as a provider-neutral bucket ([`s3::S3Bucket`], a
//!   [`BucketStore`](alchemy::bucket::BucketStore)), streaming both ways, with conditional
//!   writes and multipart uploads.
//! - `testing` (feature `testing`): AWS emulators (MiniStack, moto) on loopback, installed and
//!   started on demand, for tests of this crate and of others.

pub mod s3;

#[cfg(feature = "testing")]
pub mod testing;
