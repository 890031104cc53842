//! [`MockBucketStore`]: a `mockall` mock of [`BucketStore`] for unit tests.

use alchemy_stream::ByteStream;

use super::{
    BucketStore, Capabilities, GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PartInfo,
    PutMode, PutOptions, PutResult, Result,
};

mockall::mock! {
    /// A [`BucketStore`] whose every call is an expectation, for unit tests of code that takes
    /// a [`BucketClient`](super::BucketClient).
    ///
    /// Put it behind a client with [`BucketClient::new`](super::BucketClient::new); a call
    /// without a matching expectation panics, naming the method.
    ///
    /// ```
    /// use alchemy::bucket::{BucketClient, BucketError, MockBucketStore, ObjectMeta};
    ///
    /// /// The code under test: the size of an avatar, or 0 when there is none.
    /// async fn avatar_size(bucket: &BucketClient, user: &str) -> Result<u64, BucketError> {
    ///     match bucket.head(&format!("avatars/{user}.png")).await {
    ///         Ok(meta) => Ok(meta.size),
    ///         Err(BucketError::NotFound { .. }) => Ok(0),
    ///         Err(error) => Err(error),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut store = MockBucketStore::new();
    /// store
    ///     .expect_head()
    ///     .withf(|key| key == "avatars/ada.png")
    ///     .returning(|key| {
    ///         Ok(ObjectMeta {
    ///             key: key.to_owned(),
    ///             size: 2048,
    ///             etag: "\"e1\"".into(),
    ///             last_modified: 0,
    ///             content_type: Some("image/png".into()),
    ///             metadata: Default::default(),
    ///         })
    ///     });
    /// store
    ///     .expect_head()
    ///     .returning(|key| Err(BucketError::not_found(key)));
    /// let bucket = BucketClient::new(store);
    ///
    /// assert_eq!(avatar_size(&bucket, "ada").await.unwrap(), 2048);
    /// assert_eq!(avatar_size(&bucket, "bob").await.unwrap(), 0);
    /// # }
    /// ```
    pub BucketStore {}

    #[async_trait::async_trait]
    impl BucketStore for BucketStore {
        fn provider(&self) -> &'static str;
        fn capabilities(&self) -> Capabilities;
        async fn get(&self, key: &str, options: GetOptions) -> Result<GetResult>;
        async fn head(&self, key: &str) -> Result<ObjectMeta>;
        async fn put(&self, key: &str, body: ByteStream, options: PutOptions) -> Result<PutResult>;
        async fn delete(&self, key: &str) -> Result<()>;
        async fn list(&self, options: ListOptions) -> Result<ListPage>;
        async fn copy(&self, from: &str, to: &str, mode: PutMode) -> Result<PutResult>;
        async fn create_multipart(&self, key: &str, options: PutOptions) -> Result<String>;
        async fn put_part(
            &self,
            key: &str,
            upload_id: &str,
            part_number: u32,
            body: ByteStream,
        ) -> Result<PartInfo>;
        async fn complete_multipart(
            &self,
            key: &str,
            upload_id: &str,
            parts: Vec<PartInfo>,
        ) -> Result<PutResult>;
        async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()>;
    }
}
