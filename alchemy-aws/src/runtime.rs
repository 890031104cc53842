//! [`AwsRuntime`]: how a service running on AWS gets its bound resources as live clients.

use std::collections::BTreeMap;

use alchemy::bind::{Phase, Runtime};
use alchemy::bucket::BucketClient;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::s3::S3Bucket;

/// The [`Runtime`] of a service on AWS: a bound bucket is the S3 bucket named by the
/// environment variable `ALCHEMY_BUCKET_<ID>` (the logical id upper-cased, `-` as `_`, as on
/// every platform), which deploying sets on the function.
///
/// ```no_run
/// # async fn example() -> alchemy::Result<()> {
/// use alchemy::bind::Runtime;
/// use alchemy_aws::runtime::AwsRuntime;
///
/// // In a Lambda function deployed with a binding of the bucket `photos`:
/// let runtime = AwsRuntime::from_env().await;
/// let photos = runtime.bucket("photos")?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AwsRuntime {
    config: SdkConfig,
    buckets: BTreeMap<String, String>,
}

impl AwsRuntime {
    /// A runtime with credentials, region and endpoint from the standard AWS chain, as a
    /// Lambda function has them.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(aws_config::load_defaults(BehaviorVersion::latest()).await)
    }

    /// A runtime whose clients are made from `config`.
    pub fn from_sdk_config(config: SdkConfig) -> Self {
        AwsRuntime {
            config,
            buckets: BTreeMap::new(),
        }
    }

    /// Binds the logical id `id` to the S3 bucket `name`, ahead of the environment.
    pub fn with_bucket(mut self, id: impl Into<String>, name: impl Into<String>) -> Self {
        self.buckets.insert(id.into(), name.into());
        self
    }

    /// The environment variable that names the S3 bucket bound under `id`, such as
    /// `ALCHEMY_BUCKET_USER_PHOTOS` for `user-photos`.
    pub fn bucket_env(id: &str) -> String {
        format!(
            "ALCHEMY_BUCKET_{}",
            id.to_ascii_uppercase().replace('-', "_")
        )
    }
}

impl Runtime for AwsRuntime {
    fn phase(&self) -> Phase {
        Phase::Run
    }

    fn provider(&self) -> &str {
        "aws"
    }

    fn bucket(&self, id: &str) -> alchemy::Result<BucketClient> {
        let variable = Self::bucket_env(id);
        let name = match self.buckets.get(id) {
            Some(name) => name.clone(),
            None => std::env::var(&variable)
                .ok()
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    alchemy::Error::Config(format!(
                        "bucket `{id}` is not bound here: `{variable}` is not set. Bind the \
                        bucket in the service's init and deploy, or set `{variable}` to the \
                        S3 bucket's name"
                    ))
                })?,
        };
        Ok(BucketClient::new(S3Bucket::from_sdk_config(
            &self.config,
            name,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> AwsRuntime {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build();
        AwsRuntime::from_sdk_config(config)
    }

    #[test]
    fn a_bound_bucket_is_an_s3_client() {
        let runtime = runtime().with_bucket("photos", "my-photos-1234");
        let client = runtime.bucket("photos").expect("bound");
        assert_eq!(client.provider(), "s3");
        assert_eq!(runtime.phase(), Phase::Run);
    }

    #[test]
    fn an_unbound_bucket_names_the_variable_to_set() {
        let Err(error) = runtime().bucket("never-bound-anywhere") else {
            panic!("a bucket that was never bound has a client");
        };
        let message = error.to_string();
        assert!(
            message.contains("ALCHEMY_BUCKET_NEVER_BOUND_ANYWHERE"),
            "{message}"
        );
    }

    #[test]
    fn variables_follow_the_platform_convention() {
        assert_eq!(
            AwsRuntime::bucket_env("user-photos"),
            "ALCHEMY_BUCKET_USER_PHOTOS"
        );
    }
}
