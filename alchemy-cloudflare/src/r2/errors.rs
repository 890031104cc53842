//! R2's errors, normalised to [`BucketError`].

use alchemy::bucket::BucketError;

use super::PROVIDER;

/// An etag without the quotes HTTP puts around it.
pub(super) fn unquote(etag: &str) -> &str {
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"')
}

/// The text of a `worker` error.
fn text(error: &worker::Error) -> String {
    match error {
        worker::Error::JsError(message) | worker::Error::RustError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// Whether R2's message carries one of `codes` (R2 appends its error code in parentheses).
fn has_code(message: &str, codes: &[&str]) -> bool {
    codes.iter().any(|code| message.contains(code))
}

/// An R2 failure of `operation` on `key`.
pub(super) fn r2_error(operation: &str, key: &str, error: worker::Error) -> BucketError {
    let message = text(&error);
    // 10001 is R2's internal error, 10043 its "service unavailable", 10058 throttling.
    let retryable = has_code(&message, &["(10001)", "(10043)", "(10058)"]);
    BucketError::Backend {
        provider: PROVIDER,
        message: if key.is_empty() {
            format!("{operation}: {message}")
        } else {
            format!("{operation} `{key}`: {message}")
        },
        retryable,
    }
}

/// An R2 failure of a multipart `operation`, with R2's multipart errors given their variants.
pub(super) fn multipart_error(
    operation: &str,
    key: &str,
    upload_id: &str,
    error: worker::Error,
) -> BucketError {
    let message = text(&error);
    if has_code(&message, &["(10024)", "NoSuchUpload", "no such upload"]) {
        BucketError::NoSuchUpload {
            key: key.to_string(),
            upload_id: upload_id.to_string(),
        }
    } else if has_code(
        &message,
        &["(10025)", "(10011)", "InvalidPart", "EntityTooSmall"],
    ) {
        BucketError::InvalidPart {
            key: key.to_string(),
            part_number: 0,
            reason: format!(
                "R2 refused the parts ({message}): pass each part's etag as put_part returned \
                 it, in ascending order, and make every part but the last at least 5 MiB"
            ),
        }
    } else {
        r2_error(operation, key, error)
    }
}
