//! Turning an SDK failure into `alchemy_s3`'s [`Failure`]: the status, the error code and
//! whether retrying may help, read once from the SDK's error. What each failure becomes is
//! `alchemy_s3`'s classification, the same for both clients.

use alchemy::bucket::{BucketError, PartInfo, PutMode};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

pub(crate) use alchemy_s3::errors::Failure;

/// Reads the status, code and retryability out of an SDK error: a timeout or a failed
/// connection is retryable, an answer as S3's classification says, and an answer that cannot
/// be read is not (the endpoint speaks another dialect).
pub(crate) fn sdk_failure<E>(error: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error.raw_response().map(|raw| raw.status().as_u16());
    let code = error.code().map(str::to_owned);
    let retryable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(_) => Failure::transient(status.unwrap_or(0), code.as_deref()),
        _ => false,
    };
    Failure {
        status,
        code,
        message: DisplayErrorContext(&error).to_string(),
        retryable,
    }
}

/// A failed write of `key` under `mode`, as the neutral error.
pub(crate) fn write_error(failure: Failure, key: &str, mode: &PutMode) -> BucketError {
    alchemy_s3::errors::write_error(failure, &format!("writing `{key}`"), key, mode)
}

/// A failed `CompleteMultipartUpload` of `key`, as the neutral error.
pub(crate) fn complete_error(
    failure: Failure,
    key: &str,
    upload_id: &str,
    parts: &[PartInfo],
    mode: &PutMode,
) -> BucketError {
    let doing = format!("writing `{key}`");
    alchemy_s3::errors::complete_error(failure, &doing, key, upload_id, parts, mode)
}
