//! [`BucketClient`]: the handle application code uses, with the conveniences.

use std::fmt;
use std::sync::Arc;

use alchemy_stream::{ByteStream, Bytes, MaybeSend};
use futures::stream::{self, Stream, TryStreamExt};

use super::upload::{self, UploadOptions};
use super::{
    validate_key, BucketError, BucketStore, ByteRange, Capabilities, GetOptions, GetResult,
    ListOptions, ListPage, ObjectMeta, PutMode, PutOptions, PutResult, Result,
};
use crate::maybe::{single_threaded, single_threaded_send_sync};

/// A bucket to read and write: a cheap, cloneable handle on a shared [`BucketStore`].
///
/// Cloning shares the store (one `Arc`), so hand a clone to every task or router that needs it.
/// Every method checks its keys with [`validate_key`] before the store sees them, so invalid
/// keys fail alike on every provider.
///
/// ```
/// # #[cfg(feature = "deploy")]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use alchemy::bucket::{BucketClient, BucketError};
/// use alchemy::local::bucket::LocalBucket;
///
/// # let dir = tempfile::tempdir()?;
/// let photos = BucketClient::new(LocalBucket::open(dir.path()).await?);
///
/// let created = photos.put_if_absent("cat.txt", "meow").await?;
/// assert!(matches!(
///     photos.put_if_absent("cat.txt", "purr").await,
///     Err(BucketError::AlreadyExists { .. })
/// ));
/// photos.put_if_match("cat.txt", "purr", &created.etag).await?;
/// assert_eq!(photos.get_bytes("cat.txt", 1024).await?, "purr");
/// # Ok(())
/// # }
/// # #[cfg(not(feature = "deploy"))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct BucketClient {
    store: Arc<dyn BucketStore>,
}

impl BucketClient {
    /// A client over `store`.
    pub fn new(store: impl BucketStore) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// A client over a store that is already shared.
    pub fn from_arc(store: Arc<dyn BucketStore>) -> Self {
        BucketClient { store }
    }

    /// The store behind this client, for the operations without a convenience (multipart
    /// uploads step by step, say).
    pub fn store(&self) -> &Arc<dyn BucketStore> {
        &self.store
    }

    /// The provider's short name, such as `"local"`.
    pub fn provider(&self) -> &'static str {
        self.store.provider()
    }

    /// What the store supports.
    pub fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }

    /// Reads a whole object as a stream.
    pub async fn get(&self, key: &str) -> Result<GetResult> {
        self.get_with(key, GetOptions::default()).await
    }

    /// Reads an object (or a range of it) with options.
    pub async fn get_with(&self, key: &str, options: GetOptions) -> Result<GetResult> {
        validate_key(key)?;
        single_threaded(self.store.get(key, options)).await
    }

    /// Reads a range of an object, such as `0..1024`, `1024..` or
    /// [`ByteRange::Suffix(100)`](ByteRange::Suffix).
    pub async fn get_range(&self, key: &str, range: impl Into<ByteRange>) -> Result<GetResult> {
        let options = GetOptions {
            range: Some(range.into()),
            ..GetOptions::default()
        };
        self.get_with(key, options).await
    }

    /// Reads a whole object into memory, failing with [`BucketError::TooLarge`] (before
    /// reading the body) when it has more than `limit` bytes.
    pub async fn get_bytes(&self, key: &str, limit: usize) -> Result<Bytes> {
        self.get(key).await?.bytes(limit).await
    }

    /// Reads an object's metadata.
    pub async fn head(&self, key: &str) -> Result<ObjectMeta> {
        validate_key(key)?;
        single_threaded(self.store.head(key)).await
    }

    /// Whether an object has this key.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(BucketError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Writes an object, replacing any object with the same key.
    pub async fn put(&self, key: &str, body: impl Into<ByteStream>) -> Result<PutResult> {
        self.put_with(key, body, PutOptions::default()).await
    }

    /// Writes an object with options (a [`PutMode`], a content type, metadata).
    pub async fn put_with(
        &self,
        key: &str,
        body: impl Into<ByteStream>,
        options: PutOptions,
    ) -> Result<PutResult> {
        let body = body.into();
        validate_key(key)?;
        super::validate_metadata(&options.metadata)?;
        single_threaded(self.store.put(key, body, options)).await
    }

    /// Writes an object only if no object has the key yet; otherwise fails with
    /// [`BucketError::AlreadyExists`]. Of many concurrent calls for one key, exactly one wins.
    pub async fn put_if_absent(&self, key: &str, body: impl Into<ByteStream>) -> Result<PutResult> {
        self.put_with(key, body, PutMode::Create.into()).await
    }

    /// Writes an object only if its current etag is `etag`; otherwise fails with
    /// [`BucketError::Precondition`].
    pub async fn put_if_match(
        &self,
        key: &str,
        body: impl Into<ByteStream>,
        etag: impl Into<String>,
    ) -> Result<PutResult> {
        self.put_with(key, body, PutMode::Update(etag.into()).into())
            .await
    }

    /// Deletes an object; deleting a missing key succeeds.
    pub async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        single_threaded(self.store.delete(key)).await
    }

    /// Copies an object within the bucket, replacing any object at `to`.
    pub async fn copy(&self, from: &str, to: &str) -> Result<PutResult> {
        self.copy_with(from, to, PutMode::Overwrite).await
    }

    /// Copies an object within the bucket, writing `to` as `mode` allows.
    pub async fn copy_with(&self, from: &str, to: &str, mode: PutMode) -> Result<PutResult> {
        validate_key(from)?;
        validate_key(to)?;
        single_threaded(self.store.copy(from, to, mode)).await
    }

    /// Lists one page.
    pub async fn list(&self, options: ListOptions) -> Result<ListPage> {
        single_threaded(self.store.list(options)).await
    }

    /// Every object whose key starts with `prefix` (all of them for `""`), in key order,
    /// fetched page by page as the stream is read.
    ///
    /// ```
    /// # #[cfg(feature = "deploy")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use alchemy::bucket::BucketClient;
    /// use alchemy::local::bucket::LocalBucket;
    /// use futures::TryStreamExt;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let bucket = BucketClient::new(LocalBucket::open(dir.path()).await?);
    /// for name in ["logs/1", "logs/2", "other"] {
    ///     bucket.put(name, "x").await?;
    /// }
    /// let logs: Vec<_> = bucket.list_all("logs/").map_ok(|meta| meta.key).try_collect().await?;
    /// assert_eq!(logs, ["logs/1", "logs/2"]);
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "deploy"))]
    /// # fn main() {}
    /// ```
    pub fn list_all(
        &self,
        prefix: impl Into<String>,
    ) -> impl Stream<Item = Result<ObjectMeta>> + MaybeSend + 'static {
        let prefix = prefix.into();
        let first = ListOptions {
            prefix: (!prefix.is_empty()).then_some(prefix),
            ..ListOptions::default()
        };
        let store = Arc::clone(&self.store);
        single_threaded(
            stream::try_unfold(Some(first), move |options| {
                let store = Arc::clone(&store);
                async move {
                    let Some(options) = options else {
                        return Ok(None);
                    };
                    let page = store.list(options.clone()).await?;
                    let next = page.next.map(|token| ListOptions {
                        continuation: Some(token),
                        ..options
                    });
                    let objects = stream::iter(page.objects.into_iter().map(Ok));
                    Ok::<_, BucketError>(Some((objects, next)))
                }
            })
            .try_flatten(),
        )
    }

    /// Uploads a stream of any size with bounded memory: in one `put` when it fits in one
    /// part, otherwise as a multipart upload of `part_size`-byte parts, two in flight at a time.
    ///
    /// See [`upload_with`](Self::upload_with) for the memory bound and the other options.
    pub async fn upload(
        &self,
        key: &str,
        body: impl Into<ByteStream>,
        part_size: usize,
    ) -> Result<PutResult> {
        let options = UploadOptions {
            part_size,
            ..UploadOptions::default()
        };
        self.upload_with(key, body, options).await
    }

    /// Uploads a stream of any size with bounded memory, as [`UploadOptions`] say.
    ///
    /// At most `part_size × (concurrency + 1)` bytes of the body are held at once: the parts
    /// being written and the one being read. On a store without multipart uploads the body is
    /// streamed in one `put`. A failed upload is aborted, so no parts are left behind.
    pub async fn upload_with(
        &self,
        key: &str,
        body: impl Into<ByteStream>,
        options: UploadOptions,
    ) -> Result<PutResult> {
        let body = body.into();
        validate_key(key)?;
        super::validate_metadata(&options.put.metadata)?;
        single_threaded(upload::upload(self.store.as_ref(), key, body, options)).await
    }
}

single_threaded_send_sync!(BucketClient);

impl fmt::Debug for BucketClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketClient").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn is_send_sync<T: Send + Sync>(_: &T) {}
    fn is_send<T: Send>(_: &T) {}

    /// The client and its futures cross threads, as axum handlers and spawned tasks need.
    #[test]
    fn clients_and_their_futures_are_send() {
        struct Never;
        #[async_trait::async_trait]
        impl BucketStore for Never {
            fn provider(&self) -> &'static str {
                "never"
            }
            fn capabilities(&self) -> Capabilities {
                Capabilities::default()
            }
            async fn get(&self, key: &str, _: GetOptions) -> Result<GetResult> {
                Err(BucketError::not_found(key))
            }
            async fn head(&self, key: &str) -> Result<ObjectMeta> {
                Err(BucketError::not_found(key))
            }
            async fn put(&self, key: &str, _: ByteStream, _: PutOptions) -> Result<PutResult> {
                Err(BucketError::not_found(key))
            }
            async fn delete(&self, _: &str) -> Result<()> {
                Ok(())
            }
            async fn list(&self, _: ListOptions) -> Result<ListPage> {
                Ok(ListPage::default())
            }
        }

        let client = BucketClient::new(Never);
        is_send_sync(&client);
        is_send(&client.get("k"));
        is_send(&client.put("k", "v"));
        is_send(&client.upload("k", ByteStream::empty(), 1));
        is_send(&client.list_all(""));
        let copy = futures::executor::block_on(client.copy("a", "b"));
        assert!(
            matches!(
                copy,
                Err(BucketError::NotSupported {
                    operation: "copy",
                    provider: "never"
                })
            ),
            "the default copy says it is not supported: {copy:?}"
        );
        let upload = futures::executor::block_on(
            client.store().create_multipart("k", PutOptions::default()),
        );
        assert!(matches!(upload, Err(BucketError::NotSupported { .. })));
    }
}
