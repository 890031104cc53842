//! The control plane: AWS resources as [`Provider`](alchemy::provider::Provider)s the engine
//! plans, creates, updates and deletes (feature `deploy`).
//!
//! - [`S3BucketProps`] / [`S3BucketProvider`]: an S3 bucket with versioning, the public
//!   access block, lifecycle rules and CORS, named from the resource's physical name.
//! - [`bucket_permissions`]: the least-privilege IAM statements a service bound to a bucket
//!   needs.
//!
//! ```no_run
//! # async fn example() -> alchemy::Result<()> {
//! use alchemy::provider::Providers;
//! use alchemy::stack::Stack;
//! use alchemy::{Access, Input};
//! use alchemy_aws::{bucket_permissions, S3BucketProps, S3BucketProvider};
//!
//! let mut providers = Providers::new();
//! providers.register::<S3BucketProps>("aws", S3BucketProvider::from_env().await);
//!
//! let mut stack = Stack::new("photo-share", "prod");
//! let photos = stack.add(
//!     "photos",
//!     S3BucketProps {
//!         versioning: true,
//!         ..S3BucketProps::default()
//!     },
//! )?;
//! // The statements a read-write binding needs, referring to the bucket's outputs.
//! let arn: Input<String> = photos.output("arn");
//! let permissions = bucket_permissions(&serde_json::to_value(&arn)?, Access::ReadWrite);
//! assert_eq!(permissions.len(), 2);
//! # Ok(())
//! # }
//! ```

mod bucket;
mod name;
mod permissions;

pub use bucket::{CorsRule, LifecycleRule, S3BucketOutput, S3BucketProps, S3BucketProvider};
pub use name::bucket_name;
pub use permissions::bucket_permissions;
