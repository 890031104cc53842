//! Multipart uploads: [`PartInfo`].

/// A part of a multipart upload, as [`put_part`](super::BucketStore::put_part) stored it.
///
/// Hand every part back, in ascending `part_number` order, to
/// [`complete_multipart`](super::BucketStore::complete_multipart).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartInfo {
    /// The part's number, from 1 up.
    pub part_number: u32,
    /// The part's etag.
    pub etag: String,
    /// The part's size in bytes.
    pub size: u64,
}
