//! photo-share: a bucket of photos behind an HTTP service, deployable to every provider.
//!
//! The service binds the `photos` bucket in its init phase; the same code plans the bucket and
//! its binding at deploy time and gets a live client when it runs. Unit tests put a
//! `MockBucketStore` (feature `mock` of `alchemy`) behind the client (see `tests`).
//!
//! The library is also a Cloudflare Worker: built for `wasm32-unknown-unknown`, it exports the
//! API as the fetch handler and the Durable Object classes `RoomObject` (for [`actors::ROOMS`])
//! and `CounterObject` (for [`actors::COUNTERS`]).

pub mod actors;
pub mod http;

use alchemy::bucket::{
    Bucket, BucketClient, BucketError, ByteRange, GetOptions, GetResult, PutResult,
};
#[cfg(not(target_arch = "wasm32"))]
use alchemy::App;
use alchemy::{Init, Service};
use alchemy_stream::ByteStream;
use futures::TryStreamExt;

/// Every photo, by name.
pub static PHOTOS: Bucket = Bucket::new("photos");

// The Worker (built for wasm32 with `alchemy_cloudflare::build::build_worker`): the API as its
// fetch handler, and a Durable Object class per actor namespace. On the host these only check
// their arguments.
alchemy_cloudflare::serve!(Api, "api");
alchemy_cloudflare::durable_object!(RoomObject, actors::ROOMS);
alchemy_cloudflare::durable_object!(CounterObject, actors::COUNTERS);

/// The app: its services and what they bind (on the host, where it is planned and deployed).
#[cfg(not(target_arch = "wasm32"))]
pub fn app() -> App {
    alchemy::app("photo-share")
        .service::<Api>("api")
        .actors(&actors::ROOMS)
        .actors(&actors::COUNTERS)
}

/// The largest photo accepted unless the service's variable `PHOTO_SHARE_MAX_PHOTO_BYTES`
/// says otherwise ([`Init::var_or`]: the environment under `dev`, the AWS settings'
/// `environment`, the Cloudflare settings' `vars`): 4 GiB.
pub const DEFAULT_MAX_PHOTO_BYTES: u64 = 4 << 30;

/// The API service.
pub struct Api;

impl Service for Api {
    type Handler = axum::Router;

    async fn init(ctx: &mut Init<'_>) -> alchemy::Result<axum::Router> {
        let max = ctx.var_or("PHOTO_SHARE_MAX_PHOTO_BYTES", DEFAULT_MAX_PHOTO_BYTES)?;
        let photos = Photos::new(ctx.bind(&PHOTOS).await?).with_max_bytes(max);
        let rooms = ctx.bind(&actors::ROOMS).await?;
        let counters = ctx.bind(&actors::COUNTERS).await?;
        Ok(http::router(http::AppState {
            photos,
            rooms,
            counters,
        }))
    }
}

/// An error of the photo API.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// A photo name that is not allowed.
    #[error("invalid photo name `{0}`: use 1 to 128 letters, digits, `.`, `-` or `_`, not starting with `.`")]
    InvalidName(String),
    /// The bucket said no.
    #[error(transparent)]
    Bucket(#[from] BucketError),
}

/// The photos, in a bucket.
#[derive(Debug, Clone)]
pub struct Photos {
    bucket: BucketClient,
    max_bytes: u64,
}

pub(crate) fn key(name: &str) -> Result<String, PhotoError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if valid {
        Ok(format!("photos/{name}"))
    } else {
        Err(PhotoError::InvalidName(name.to_string()))
    }
}

impl Photos {
    /// Photos in `bucket`.
    pub fn new(bucket: BucketClient) -> Self {
        Photos {
            bucket,
            max_bytes: DEFAULT_MAX_PHOTO_BYTES,
        }
    }

    /// Refuses photos larger than `max` bytes (with `413 Payload Too Large` over HTTP).
    pub fn with_max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = max;
        self
    }

    /// Stores a photo, streaming its body; an existing photo of that name is replaced.
    pub async fn upload(&self, name: &str, body: ByteStream) -> Result<PutResult, PhotoError> {
        Ok(self
            .bucket
            .put(&key(name)?, body.limit(self.max_bytes))
            .await?)
    }

    /// Stores a photo only if there is none of that name yet (else `AlreadyExists`).
    pub async fn upload_if_absent(
        &self,
        name: &str,
        body: ByteStream,
    ) -> Result<PutResult, PhotoError> {
        Ok(self
            .bucket
            .put_if_absent(&key(name)?, body.limit(self.max_bytes))
            .await?)
    }

    /// A photo, streaming.
    pub async fn download(&self, name: &str) -> Result<GetResult, PhotoError> {
        self.download_range(name, None).await
    }

    /// Part of a photo (or all of it), streaming.
    pub async fn download_range(
        &self,
        name: &str,
        range: Option<ByteRange>,
    ) -> Result<GetResult, PhotoError> {
        let options = GetOptions {
            range,
            ..Default::default()
        };
        Ok(self.bucket.get_with(&key(name)?, options).await?)
    }

    /// The names of every photo, in order.
    pub async fn list(&self) -> Result<Vec<String>, PhotoError> {
        let objects: Vec<_> = self.bucket.list_all("photos/").try_collect().await?;
        Ok(objects
            .into_iter()
            .filter_map(|o| o.key.strip_prefix("photos/").map(str::to_string))
            .collect())
    }

    /// Deletes a photo (deleting a missing one is fine).
    pub async fn remove(&self, name: &str) -> Result<(), PhotoError> {
        Ok(self.bucket.delete(&key(name)?).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alchemy::bucket::{ListPage, MockBucketStore, ObjectMeta};
    use mockall::predicate::eq;

    fn meta(key: &str) -> ObjectMeta {
        ObjectMeta {
            key: key.to_string(),
            size: 3,
            etag: "\"e\"".into(),
            last_modified: 0,
            content_type: None,
            metadata: Default::default(),
        }
    }

    #[tokio::test]
    async fn list_names_photos_without_their_prefix() {
        let mut store = MockBucketStore::new();
        store.expect_provider().return_const("mock");
        store
            .expect_list()
            .withf(|o| o.prefix.as_deref() == Some("photos/"))
            .returning(|_| {
                Ok(ListPage {
                    objects: vec![meta("photos/a.jpg"), meta("photos/b.png")],
                    common_prefixes: vec![],
                    next: None,
                })
            });
        let photos = Photos::new(BucketClient::new(store));
        assert_eq!(photos.list().await.unwrap(), ["a.jpg", "b.png"]);
    }

    #[tokio::test]
    async fn invalid_names_never_reach_the_bucket() {
        let photos = Photos::new(BucketClient::new(MockBucketStore::new()));
        for bad in ["", "../etc/passwd", ".hidden", "a/b", "sp ace"] {
            let err = photos.remove(bad).await.unwrap_err();
            assert!(matches!(err, PhotoError::InvalidName(_)), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn remove_deletes_the_photos_key() {
        let mut store = MockBucketStore::new();
        store
            .expect_delete()
            .with(eq("photos/cat.jpg"))
            .times(1)
            .returning(|_| Ok(()));
        Photos::new(BucketClient::new(store))
            .remove("cat.jpg")
            .await
            .unwrap();
    }
}
