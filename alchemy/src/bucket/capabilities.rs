//! [`Capabilities`]: what a bucket provider can do, so a caller learns "not supported" before
//! it starts.

/// What a bucket provider supports.
///
/// Every flag says whether an operation or option works at all; the limits say how far it goes.
/// A call that a provider does not support fails with
/// [`BucketError::NotSupported`](super::BucketError::NotSupported), but checking here first
/// lets a caller choose another path before it has read a body or written a part.
///
/// Providers start from [`Capabilities::default`] (nothing supported, no limits known) and set
/// what they offer; the struct is `#[non_exhaustive]` so that new flags can be added without
/// breaking them.
///
/// ```
/// use alchemy::bucket::Capabilities;
///
/// let mut capabilities = Capabilities::default();
/// capabilities.range = true;
/// capabilities.max_object_size = Some(5 << 40);
/// assert!(!capabilities.multipart);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`PutMode::Create`](super::PutMode::Create) on `put`.
    pub put_create: bool,
    /// [`PutMode::Update`](super::PutMode::Update) on `put`.
    pub put_update: bool,
    /// `if_match` and `if_none_match` on `get`.
    pub get_conditional: bool,
    /// Byte ranges on `get`.
    pub range: bool,
    /// Multipart uploads (`create_multipart`, `put_part`, `complete_multipart`,
    /// `abort_multipart`).
    pub multipart: bool,
    /// The [`PutMode`](super::PutMode) given to `create_multipart` is checked by
    /// `complete_multipart`.
    pub multipart_conditional: bool,
    /// Server-side `copy`.
    pub copy: bool,
    /// A [`PutMode`](super::PutMode) other than `Overwrite` on `copy`.
    pub copy_conditional: bool,
    /// A `delimiter` on `list`.
    pub list_delimiter: bool,
    /// `start_after` on `list`.
    pub list_start_after: bool,
    /// A content type is stored and returned.
    pub content_type: bool,
    /// User metadata is stored and returned.
    pub user_metadata: bool,
    /// The largest object, in bytes, or `None` when no limit is known.
    pub max_object_size: Option<u64>,
    /// The largest body of a single `put`, in bytes, or `None` when no limit is known; larger
    /// objects need a multipart upload.
    pub max_put_size: Option<u64>,
    /// The smallest size, in bytes, of every part of a multipart upload but the last.
    pub min_part_size: u64,
    /// The largest part of a multipart upload, in bytes, or `None` when no limit is known.
    pub max_part_size: Option<u64>,
    /// The most parts of one multipart upload, or `None` when no limit is known.
    pub max_parts: Option<u32>,
}
