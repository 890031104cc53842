//! Assertions with messages that say which case failed and how.

use bytes::Bytes;

/// Panics unless `actual` equals `expected`, naming the case and the first differing byte
/// instead of printing both buffers.
#[track_caller]
pub(crate) fn same_bytes(case: &str, actual: &[u8], expected: &[u8]) {
    if actual == expected {
        return;
    }
    let first_difference = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    panic!(
        "{case}: got {} bytes, expected {}; first difference at byte {first_difference}",
        actual.len(),
        expected.len(),
    );
}

/// A short description of a payload for failure messages.
pub(crate) fn describe(data: &Bytes) -> String {
    format!("{} byte payload", data.len())
}
