//! S3's failures, normalised to [`BucketError`]: an answer's status and `<Error>` code, or a
//! request that got none. `alchemy-aws` builds the same [`Failure`] from the SDK's errors.

use alchemy::bucket::{BucketError, PartInfo, PutMode};

use crate::PROVIDER;

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

/// An S3 request that failed: its status and S3's `<Error>` code and message, or a request
/// that got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// S3's error code (`NoSuchKey`, `PreconditionFailed`, …), when the answer had one.
    pub code: Option<String>,
    /// What went wrong, for messages.
    pub message: String,
    /// Whether the same request may succeed later: throttling, a 5xx, no answer at all.
    pub retryable: bool,
}

impl Failure {
    /// An answer with status `status` and the body `body` (an `<Error>` document, or nothing
    /// for `HEAD` and some 304s and 412s).
    pub fn answer(status: u16, body: &str) -> Failure {
        let (code, message) = match crate::xml::error(body) {
            Some((code, message)) => (Some(code).filter(|code| !code.is_empty()), message),
            None => (None, String::new()),
        };
        let message = match (&code, message.is_empty()) {
            (Some(code), false) => format!("{status} {code}: {message}"),
            (Some(code), true) => format!("{status} {code}"),
            (None, _) => format!("{status} (no error document)"),
        };
        Failure {
            retryable: Self::transient(status, code.as_deref()),
            status: Some(status),
            code,
            message,
        }
    }

    /// A request that got no answer: retryable.
    pub fn unanswered(message: String) -> Failure {
        Failure {
            status: None,
            code: None,
            message,
            retryable: true,
        }
    }

    /// Whether an answer with `status` and the error code `code` may go away when the same
    /// request is sent again: throttling, a 5xx, S3's codes for "slow down" and "try again".
    pub fn transient(status: u16, code: Option<&str>) -> bool {
        status == 429 || status >= 500 || code.is_some_and(|code| TRANSIENT_CODES.contains(&code))
    }

    /// Whether the answer had this status or one of these codes.
    pub fn is(&self, status: u16, codes: &[&str]) -> bool {
        self.status == Some(status)
            || self
                .code
                .as_deref()
                .is_some_and(|code| codes.contains(&code))
    }

    /// Whether the object was not found.
    pub fn is_not_found(&self) -> bool {
        self.is(404, &["NoSuchKey", "NotFound"])
    }

    /// Whether a condition failed, or a concurrent conditional write won.
    pub fn is_precondition(&self) -> bool {
        self.is(412, &["PreconditionFailed", "ConditionalRequestConflict"])
    }

    /// Whether the multipart upload id is unknown, completed or aborted.
    pub fn is_no_such_upload(&self) -> bool {
        self.code.as_deref() == Some("NoSuchUpload")
    }

    /// The failure as [`BucketError::Backend`], saying what was being done (which names the
    /// bucket and the key).
    pub fn backend(self, doing: impl std::fmt::Display) -> BucketError {
        let hint = match self.status {
            Some(403) => {
                ": check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), \
                 AWS_REGION, and that the key's policy allows this on the bucket"
            }
            _ => "",
        };
        BucketError::Backend {
            provider: PROVIDER,
            message: format!("{doing}: {}{hint}", self.message),
            retryable: self.retryable,
        }
    }
}

/// A failed write of `key` under `mode`, as the neutral error: a failed condition becomes
/// `AlreadyExists` or `Precondition`, anything else a backend error saying what was being
/// done (`doing`).
pub fn write_error(failure: Failure, doing: &str, key: &str, mode: &PutMode) -> BucketError {
    match mode {
        PutMode::Create if failure.is_precondition() => BucketError::AlreadyExists {
            key: key.to_owned(),
        },
        PutMode::Update(etag) if failure.is_precondition() => BucketError::Precondition {
            key: key.to_owned(),
            detail: format!("the etag {etag} is no longer current"),
        },
        PutMode::Update(etag) if failure.is(404, &["NoSuchKey"]) => BucketError::Precondition {
            key: key.to_owned(),
            detail: format!("no object has the key, so the etag {etag} cannot match"),
        },
        _ => failure.backend(doing),
    }
}

/// A failed `CompleteMultipartUpload` of `key`, as the neutral error: an unknown upload is
/// `NoSuchUpload`, parts S3 refused are `InvalidPart`, anything else as [`write_error`] says.
pub fn complete_error(
    failure: Failure,
    doing: &str,
    key: &str,
    upload_id: &str,
    parts: &[PartInfo],
    mode: &PutMode,
) -> BucketError {
    if failure.is_no_such_upload() {
        BucketError::NoSuchUpload {
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
        }
    } else if failure.code.is_some()
        && failure.is(400, &["InvalidPart", "InvalidPartOrder", "EntityTooSmall"])
    {
        BucketError::InvalidPart {
            key: key.to_owned(),
            part_number: parts.first().map_or(0, |part| part.part_number),
            reason: format!(
                "S3 refused the parts ({}): pass each part's etag as put_part returned it",
                failure.code.as_deref().unwrap_or("InvalidPart")
            ),
        }
    } else {
        write_error(failure, doing, key, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_status_code_and_message() {
        let failure = Failure::answer(
            404,
            "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>",
        );
        assert!(failure.is_not_found());
        assert!(!failure.retryable);
        assert_eq!(failure.message, "404 NoSuchKey: gone");
        assert!(Failure::answer(503, "").retryable);
        assert!(Failure::answer(400, "<Error><Code>SlowDown</Code></Error>").retryable);
        assert!(Failure::unanswered("refused".into()).retryable);
    }

    #[test]
    fn failed_conditions_become_their_variants() {
        let failed = || Failure::answer(412, "");
        assert!(matches!(
            write_error(failed(), "writing", "k", &PutMode::Create),
            BucketError::AlreadyExists { .. }
        ));
        assert!(matches!(
            write_error(failed(), "writing", "k", &PutMode::Update("\"e\"".into())),
            BucketError::Precondition { .. }
        ));
        let denied = write_error(
            Failure::answer(403, "<Error><Code>AccessDenied</Code></Error>"),
            "writing `k` to `b`",
            "k",
            &PutMode::Overwrite,
        );
        let message = denied.to_string();
        assert!(
            message.contains("writing `k` to `b`: 403 AccessDenied"),
            "{message}"
        );
        assert!(message.contains("AWS_SECRET_ACCESS_KEY"), "{message}");
    }
}
