//! Stage state in S3: the bucket behind `[stages.NAME.state] provider = "aws"`.

use alchemy::bucket::BucketClient;
use aws_config::{BehaviorVersion, Region};
use serde::Deserialize;
use serde_json::Value;

use crate::s3::S3Bucket;

/// The keys of a `[stages.NAME.state]` table on AWS (besides `provider` and `prefix`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateSettings {
    /// The bucket, which must exist (make it once, with versioning, and share it).
    bucket: String,
    /// Its region; default: the standard chain's.
    #[serde(default)]
    region: Option<String>,
    /// An endpoint override (an emulator); default: `AWS_ENDPOINT_URL` or AWS itself.
    #[serde(default)]
    endpoint_url: Option<String>,
}

/// The S3 bucket that `settings` name, as a neutral bucket for the state backend.
pub(crate) async fn state_bucket(settings: &Value) -> alchemy::Result<BucketClient> {
    let settings: StateSettings = serde_json::from_value(settings.clone()).map_err(|e| {
        alchemy::Error::Config(format!(
            "invalid `[stages.NAME.state]` for provider `aws`: {e}; it takes `bucket` (required), `region`, `endpoint_url` and `prefix`"
        ))
    })?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = settings.region {
        loader = loader.region(Region::new(region));
    }
    if let Some(endpoint) = settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    Ok(BucketClient::new(S3Bucket::from_sdk_config(
        &config,
        settings.bucket,
    )))
}
