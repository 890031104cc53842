//! Writes: [`PutMode`], [`PutOptions`] and [`PutResult`].

use std::collections::BTreeMap;

/// What a write does when the key already holds an object.
///
/// Conditional modes make read-modify-write safe without locks: read an object, change it, and
/// write it back with `Update(etag)`; if someone else wrote in between, the write fails with
/// [`BucketError::Precondition`](super::BucketError::Precondition) and nothing is lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum PutMode {
    /// Write whatever is there (the default).
    #[default]
    Overwrite,
    /// Write only if no object has the key; otherwise fail with
    /// [`BucketError::AlreadyExists`](super::BucketError::AlreadyExists).
    Create,
    /// Write only if the current object has this etag; otherwise (also when there is no object)
    /// fail with [`BucketError::Precondition`](super::BucketError::Precondition).
    Update(String),
}

/// Options of a write.
///
/// ```
/// use alchemy::bucket::{PutMode, PutOptions};
///
/// let options = PutOptions {
///     mode: PutMode::Create,
///     content_type: Some("image/png".into()),
///     ..PutOptions::default()
/// };
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// What to do when the key already holds an object.
    pub mode: PutMode,
    /// The media type to store with the object.
    pub content_type: Option<String>,
    /// User metadata to store with the object (see
    /// [`validate_metadata`](super::validate_metadata) for the rules).
    pub metadata: BTreeMap<String, String>,
}

impl From<PutMode> for PutOptions {
    fn from(mode: PutMode) -> Self {
        PutOptions {
            mode,
            ..PutOptions::default()
        }
    }
}

/// What a successful write created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// The new object's etag.
    pub etag: String,
    /// The new object's version id, on buckets that keep versions.
    pub version: Option<String>,
}
