//! Buckets: provider-neutral object storage.
//!
//! A service declares the buckets it needs as statics ([`Bucket`]); the stage decides whether
//! a bucket is R2, S3 or a directory on this machine. At run time the code works with a
//! [`BucketClient`], the same type on every provider, over a [`BucketStore`] that the provider
//! implements.
//!
//! - **Streams, not buffers.** Bodies are [`ByteStream`](alchemy_stream::ByteStream)s in both
//!   directions; [`BucketClient::upload`] sends objects of any size as multipart uploads with
//!   bounded memory.
//! - **Conditional writes.** [`PutMode::Create`] and [`PutMode::Update`] make
//!   create-if-absent and compare-and-swap safe without locks, on every provider.
//! - **Capabilities up front.** [`Capabilities`] says what a provider supports before a call
//!   is made, instead of an error halfway through.
//! - **Errors with meaning.** [`BucketError`] is the same on every provider: match on
//!   [`BucketError::NotFound`] or [`BucketError::Precondition`], not on strings.
//! - **Keys with rules.** [`validate_key`] states them; every provider enforces them.
//!
//! ```
//! # #[cfg(feature = "deploy")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use alchemy::bucket::{BucketClient, ByteRange};
//! use alchemy::local::bucket::LocalBucket;
//!
//! # let dir = tempfile::tempdir()?;
//! let bucket = BucketClient::new(LocalBucket::open(dir.path()).await?);
//! bucket.put("greeting.txt", "hello, world").await?;
//!
//! let head = bucket.get_range("greeting.txt", 0..5).await?;
//! assert_eq!(head.range, 0..5);
//! assert_eq!(head.bytes(1024).await?, "hello");
//! let tail = bucket.get_range("greeting.txt", ByteRange::Suffix(5)).await?;
//! assert_eq!(tail.bytes(1024).await?, "world");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "deploy"))]
//! # fn main() {}
//! ```
//!
//! # Testing
//!
//! With the `mock` feature, `MockBucketStore` stands in for a real store in unit tests. With
//! the `conformance` feature, `conformance` holds the test suite every implementation runs.

mod capabilities;
mod client;
mod error;
mod get;
mod key;
mod list;
mod meta;
mod multipart;
mod put;
pub mod remote;
mod store;
mod upload;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(all(feature = "mock", not(target_arch = "wasm32")))]
mod mock;

pub use capabilities::Capabilities;
pub use client::BucketClient;
pub use error::{BucketError, Result};
pub use get::{ByteRange, GetOptions, GetResult};
pub use key::{validate_key, validate_metadata, MAX_KEY_LEN, MAX_METADATA_LEN};
pub use list::{ListOptions, ListPage};
pub use meta::ObjectMeta;
#[cfg(all(feature = "mock", not(target_arch = "wasm32")))]
pub use mock::MockBucketStore;
pub use multipart::PartInfo;
pub use put::{PutMode, PutOptions, PutResult};
pub use store::{BucketStore, MaybeSendSync};
pub use upload::UploadOptions;

/// The environment variable that names the provider's bucket bound as `id`, on every platform:
/// `ALCHEMY_BUCKET_` and the id upper-cased, every character other than a letter or digit as
/// `_`.
///
/// ```
/// assert_eq!(alchemy::bucket::bucket_env("user-photos"), "ALCHEMY_BUCKET_USER_PHOTOS");
/// ```
pub fn bucket_env(id: &str) -> String {
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ALCHEMY_BUCKET_{name}")
}

/// A bucket that a service needs, declared once as a `static`.
///
/// The declaration is provider-neutral: it names the bucket, and the stage's configuration
/// decides which provider holds it. Binding it (at deploy time, a resource and a binding in the
/// plan; at run time, a [`BucketClient`]) happens where services are initialised.
///
/// ```
/// use alchemy::bucket::Bucket;
///
/// static PHOTOS: Bucket = Bucket::new("photos");
/// assert_eq!(PHOTOS.id(), "photos");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bucket {
    id: &'static str,
}

impl Bucket {
    /// Declares a bucket with the logical id `id`, unique within the app.
    pub const fn new(id: &'static str) -> Bucket {
        Bucket { id }
    }

    /// The bucket's logical id.
    pub fn id(&self) -> &'static str {
        self.id
    }
}
