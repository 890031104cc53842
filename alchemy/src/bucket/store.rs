//! [`BucketStore`], the provider-neutral trait every bucket implementation provides.

use alchemy_stream::ByteStream;

use super::{
    BucketError, Capabilities, GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PartInfo,
    PutMode, PutOptions, PutResult, Result,
};

pub use crate::maybe::MaybeSendSync;

/// An object store: the operations every bucket provider (local files, S3, R2) implements.
///
/// The trait is object-safe and kept small; application code uses it through a
/// [`BucketClient`](super::BucketClient), which adds the conveniences (`put_if_absent`,
/// `get_bytes`, `list_all`, `upload`, …). The futures are `Send` on native targets and not on
/// `wasm32`, where the trait is implemented with `#[async_trait(?Send)]`.
///
/// # Contract for implementations
///
/// Every implementation passes the shared conformance suite (`alchemy::bucket::conformance`). In short:
///
/// - Keys that fail [`validate_key`](super::validate_key) are refused with
///   [`BucketError::InvalidKey`] before any I/O; metadata that fails
///   [`validate_metadata`](super::validate_metadata) with [`BucketError::InvalidMetadata`].
/// - Errors are normalised to their variant: a missing object is [`BucketError::NotFound`], a
///   failed condition [`BucketError::Precondition`] (or [`BucketError::AlreadyExists`] for
///   [`PutMode::Create`], [`BucketError::NotModified`] for `if_none_match`), whatever the wire
///   said.
/// - Bodies stream: neither `put` nor `get` holds a whole object in memory.
/// - A write is atomic: readers see the old object or the new one, never a mix, and a failed
///   write (including a body stream that fails midway) leaves the old object in place.
/// - Options the provider cannot honour fail with [`BucketError::NotSupported`] and are never
///   silently ignored; [`capabilities`](Self::capabilities) says which those are.
///
/// Copy and the multipart operations have default implementations that answer
/// [`BucketError::NotSupported`], for providers without them.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait BucketStore: MaybeSendSync + 'static {
    /// The provider's short name, such as `"local"`, `"s3"` or `"r2"`, for error messages.
    fn provider(&self) -> &'static str;

    /// What this store supports.
    fn capabilities(&self) -> Capabilities;

    /// Reads an object, or the part of it that `options.range` selects.
    ///
    /// Fails with [`BucketError::NotFound`] when there is no object,
    /// [`BucketError::InvalidRange`] when the range starts at or past its end,
    /// [`BucketError::Precondition`] when `if_match` does not match and
    /// [`BucketError::NotModified`] when `if_none_match` does.
    async fn get(&self, key: &str, options: GetOptions) -> Result<GetResult>;

    /// Reads an object's metadata, or fails with [`BucketError::NotFound`].
    async fn head(&self, key: &str) -> Result<ObjectMeta>;

    /// Writes an object from a stream, replacing any object with the same key as
    /// `options.mode` allows.
    async fn put(&self, key: &str, body: ByteStream, options: PutOptions) -> Result<PutResult>;

    /// Deletes an object. Deleting a key that holds no object succeeds.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Lists one page of objects (and common prefixes), in key order.
    async fn list(&self, options: ListOptions) -> Result<ListPage>;

    /// Copies an object within the bucket, with its content type and metadata, writing `to` as
    /// `mode` allows. A missing source is [`BucketError::NotFound`] naming `from`.
    async fn copy(&self, from: &str, to: &str, mode: PutMode) -> Result<PutResult> {
        let _ = (from, to, mode);
        Err(BucketError::NotSupported {
            operation: "copy",
            provider: self.provider(),
        })
    }

    /// Starts a multipart upload of `key` and returns its upload id.
    ///
    /// `options.mode` is checked when the upload completes (where
    /// [`Capabilities::multipart_conditional`] says so).
    async fn create_multipart(&self, key: &str, options: PutOptions) -> Result<String> {
        let _ = (key, options);
        Err(BucketError::NotSupported {
            operation: "multipart uploads",
            provider: self.provider(),
        })
    }

    /// Stores part `part_number` (1 up to [`Capabilities::max_parts`]) of an upload.
    /// Storing the same number again replaces the part.
    async fn put_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: ByteStream,
    ) -> Result<PartInfo> {
        let _ = (key, upload_id, part_number, body);
        Err(BucketError::NotSupported {
            operation: "multipart uploads",
            provider: self.provider(),
        })
    }

    /// Joins the given parts, in ascending part number order, into the object.
    ///
    /// Every part but the last must hold at least [`Capabilities::min_part_size`] bytes.
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<PartInfo>,
    ) -> Result<PutResult> {
        let _ = (key, upload_id, parts);
        Err(BucketError::NotSupported {
            operation: "multipart uploads",
            provider: self.provider(),
        })
    }

    /// Abandons an upload and frees its parts. Aborting an unknown or finished upload succeeds.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        let _ = (key, upload_id);
        Err(BucketError::NotSupported {
            operation: "multipart uploads",
            provider: self.provider(),
        })
    }
}
