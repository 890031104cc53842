//! The control plane: AWS resources as [`Provider`](alchemy::provider::Provider)s the engine
//! plans, creates, updates and deletes (feature `deploy`).
//!
//! - [`S3BucketProps`] / [`S3BucketProvider`]: an S3 bucket with versioning, the public
//!   access block, lifecycle rules and CORS, named from the resource's physical name.
//! - [`bucket_permissions`]: the least-privilege IAM statements a service bound to a bucket
//!   needs.

mod bucket;
mod name;
mod permissions;

pub use bucket::{CorsRule, LifecycleRule, S3BucketOutput, S3BucketProps, S3BucketProvider};
pub use name::bucket_name;
pub use permissions::bucket_permissions;
