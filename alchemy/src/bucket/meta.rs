//! [`ObjectMeta`]: what a bucket knows about one object.

use std::collections::BTreeMap;

/// What a bucket knows about one object, without its contents.
///
/// [`head`](super::BucketStore::head) and [`get`](super::BucketStore::get) fill every field.
/// In a [`ListPage`](super::ListPage) the key, size, etag and modification time are always
/// set, but `content_type` and `metadata` may be missing (S3 and R2 do not list them): call
/// `head` when they are needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// The entity tag of this version of the object: an opaque string that changes when the
    /// contents change. Pass it back as given to [`PutMode::Update`](super::PutMode::Update) or
    /// to `if_match` / `if_none_match`; do not parse it.
    pub etag: String,
    /// When it was last written, in milliseconds since the Unix epoch.
    pub last_modified: u64,
    /// Its media type, when one was given at write time.
    pub content_type: Option<String>,
    /// User metadata given at write time (see [`validate_metadata`](super::validate_metadata)).
    pub metadata: BTreeMap<String, String>,
}
