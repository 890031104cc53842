//! The control plane: AWS resources as [`Provider`](alchemy::provider::Provider)s the engine
//! plans, creates, updates and deletes (feature `deploy`).
//!
//! - [`S3BucketProps`] / [`S3BucketProvider`]: an S3 bucket with versioning, the public
//!   access block, lifecycle rules and CORS, named from the resource's physical name.
//! - [`bucket_permissions`]: the least-privilege IAM statements a service bound to a bucket
//!   needs.
//! - [`IamRoleProps`] / [`IamRoleProvider`]: the role a function runs as, its inline policy
//!   [`policy_document`] of its bindings' permissions.
//! - [`IamUserProps`] / [`IamUserProvider`] and [`IamAccessKeyProps`] /
//!   [`IamAccessKeyProvider`]: the user and access key a service outside AWS (a Cloudflare
//!   Worker) signs its requests with, the user's inline policy that of its bindings.
//! - [`LambdaFunctionProps`] / [`LambdaFunctionProvider`]: a function on `provided.al2023`
//!   whose code is a [`bootstrap`] package of the app's own executable.
//! - [`FunctionUrlProps`] / [`FunctionUrlProvider`]: a function's public HTTPS endpoint.
//! - [`AwsPlatform`]: the [`Platform`](alchemy::platform::Platform) that hosts an app on AWS
//!   with all of the above, configured by [`AwsPlatformOptions`].
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

pub mod bootstrap;
mod bucket;
mod function;
mod name;
mod permissions;
mod platform;
mod role;
mod sdk;
mod url;
mod user;

pub use bucket::{CorsRule, LifecycleRule, S3BucketOutput, S3BucketProps, S3BucketProvider};
pub use function::{LambdaFunctionOutput, LambdaFunctionProps, LambdaFunctionProvider};
pub use name::{bucket_name, function_name, role_name, user_name};
pub use permissions::bucket_permissions;
pub use platform::{AwsPlatform, AwsPlatformOptions};
pub use role::{
    decode_policy_document, lambda_trust_policy, policy_document, IamRoleOutput, IamRoleProps,
    IamRoleProvider, RolePermission, BASIC_EXECUTION_POLICY, INLINE_POLICY_NAME,
};
pub use url::{FunctionUrlOutput, FunctionUrlProps, FunctionUrlProvider, UrlAuth};
pub use user::{
    IamAccessKeyOutput, IamAccessKeyProps, IamAccessKeyProvider, IamUserOutput, IamUserProps,
    IamUserProvider,
};
