//! What the SDK's types hold: metadata, etags and times. The protocol's own fields
//! (`Content-Range`, copy sources, listed keys) are read by `alchemy_s3::wire`.

use std::collections::{BTreeMap, HashMap};

use alchemy::bucket::{BucketError, Result};
use aws_sdk_s3::primitives::DateTime;

use super::PROVIDER;

/// User metadata as the SDK takes it.
pub(crate) fn sdk_metadata(metadata: BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!metadata.is_empty()).then(|| metadata.into_iter().collect())
}

/// An etag S3 must have sent.
pub(crate) fn required_etag(etag: Option<String>, key: &str) -> Result<String> {
    etag.ok_or_else(|| {
        BucketError::backend(
            PROVIDER,
            format!("writing `{key}`: the answer had no ETag; the endpoint is not S3-compatible"),
        )
    })
}

/// Milliseconds since the epoch, 0 for a time S3 did not send.
pub(crate) fn millis(time: Option<DateTime>) -> u64 {
    time.and_then(|time| time.to_millis().ok())
        .and_then(|millis| u64::try_from(millis).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_metadata_is_none_when_empty() {
        assert_eq!(sdk_metadata(BTreeMap::new()), None);
        let one = BTreeMap::from([("owner".to_string(), "ada".to_string())]);
        assert_eq!(sdk_metadata(one.clone()), Some(one.into_iter().collect()));
    }

    #[test]
    fn writes_without_an_etag_are_refused() {
        assert_eq!(required_etag(Some("\"e\"".into()), "k").unwrap(), "\"e\"");
        let error = required_etag(None, "k").unwrap_err().to_string();
        assert!(
            error.contains("writing `k`: the answer had no ETag"),
            "{error}"
        );
    }
}
