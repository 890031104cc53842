//! Turning an S3 failure into a [`BucketError`]: the status, the error code and whether
//! retrying may help, read once from the SDK's error.

use alchemy::bucket::BucketError;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::PROVIDER;

/// An S3 call that failed, reduced to what the error mapping needs.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The HTTP status of the answer, when there was one.
    pub(crate) status: Option<u16>,
    /// S3's error code (`NoSuchKey`, `PreconditionFailed`, …), when the answer had one.
    pub(crate) code: Option<String>,
    /// The whole error chain, for messages.
    pub(crate) message: String,
    /// Whether the same call may succeed later: throttling, a 5xx, a timeout, a broken
    /// connection.
    pub(crate) retryable: bool,
}

/// S3 error codes that mean "slow down" or "try again".
const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "OperationAborted",
];

impl Failure {
    /// Reads the status, code and retryability out of an SDK error.
    pub(crate) fn new<E>(error: SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = error.raw_response().map(|raw| raw.status().as_u16());
        let code = error.code().map(str::to_owned);
        let retryable = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
            SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => {
                matches!(status, Some(429 | 500..=599))
                    || code
                        .as_deref()
                        .is_some_and(|code| TRANSIENT_CODES.contains(&code))
            }
            _ => false,
        };
        Failure {
            status,
            code,
            message: DisplayErrorContext(&error).to_string(),
            retryable,
        }
    }

    /// Whether the answer had this status or one of these codes.
    pub(crate) fn is(&self, status: u16, codes: &[&str]) -> bool {
        self.status == Some(status)
            || self
                .code
                .as_deref()
                .is_some_and(|code| codes.contains(&code))
    }

    /// Whether the object (or the bucket) was not found.
    pub(crate) fn is_not_found(&self) -> bool {
        self.is(404, &["NoSuchKey", "NotFound"])
    }

    /// Whether a condition (`If-Match`, `If-None-Match`) failed, or a concurrent conditional
    /// write won.
    pub(crate) fn is_precondition(&self) -> bool {
        self.is(412, &["PreconditionFailed", "ConditionalRequestConflict"])
    }

    /// Whether the multipart upload id is unknown, completed or aborted.
    pub(crate) fn is_no_such_upload(&self) -> bool {
        self.code.as_deref() == Some("NoSuchUpload")
    }

    /// The failure as [`BucketError::Backend`], saying what was being done.
    pub(crate) fn backend(self, doing: impl std::fmt::Display) -> BucketError {
        BucketError::Backend {
            provider: PROVIDER,
            message: format!("{doing}: {}", self.message),
            retryable: self.retryable,
        }
    }
}
