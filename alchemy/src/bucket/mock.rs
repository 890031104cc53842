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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use alchemy_stream::{Bytes, StreamError};
    use futures::executor::block_on;
    use futures::TryStreamExt;
    use mockall::predicate::eq;

    use super::*;
    use crate::bucket::{BucketClient, BucketError, UploadOptions};

    fn meta(key: &str, size: u64) -> ObjectMeta {
        ObjectMeta {
            key: key.to_owned(),
            size,
            etag: format!("\"etag-of-{key}\""),
            last_modified: 1_700_000_000_000,
            content_type: None,
            metadata: Default::default(),
        }
    }

    fn multipart_capabilities(min_part_size: u64) -> Capabilities {
        Capabilities {
            multipart: true,
            min_part_size,
            ..Capabilities::default()
        }
    }

    /// The bytes of a body handed to the mock.
    fn collected(body: ByteStream) -> Bytes {
        block_on(body.collect(usize::MAX)).expect("an in-memory body")
    }

    #[tokio::test]
    async fn exists_maps_not_found_to_false_and_passes_other_errors_on() {
        let mut store = MockBucketStore::new();
        store
            .expect_head()
            .with(eq("here"))
            .returning(|key| Ok(meta(key, 1)));
        store
            .expect_head()
            .with(eq("gone"))
            .returning(|key| Err(BucketError::not_found(key)));
        store.expect_head().with(eq("broken")).returning(|_| {
            Err(BucketError::Backend {
                provider: "mock",
                message: "503".into(),
                retryable: true,
            })
        });
        let client = BucketClient::new(store);
        assert!(client.exists("here").await.unwrap());
        assert!(!client.exists("gone").await.unwrap());
        assert!(client.exists("broken").await.unwrap_err().is_retryable());
    }

    #[tokio::test]
    async fn conditional_conveniences_ask_for_the_right_mode() {
        let mut store = MockBucketStore::new();
        store
            .expect_put()
            .withf(|key, _, options| key == "a" && options.mode == PutMode::Create)
            .times(1)
            .returning(|_, _, _| {
                Ok(PutResult {
                    etag: "\"1\"".into(),
                    version: None,
                })
            });
        store
            .expect_put()
            .withf(|key, _, options| key == "a" && options.mode == PutMode::Update("\"1\"".into()))
            .times(1)
            .returning(|key, _, _| {
                Err(BucketError::Precondition {
                    key: key.to_owned(),
                    detail: "stale".into(),
                })
            });
        let client = BucketClient::new(store);
        let created = client.put_if_absent("a", "x").await.unwrap();
        let error = client
            .put_if_match("a", "y", created.etag)
            .await
            .unwrap_err();
        assert!(matches!(error, BucketError::Precondition { .. }));
    }

    #[tokio::test]
    async fn invalid_keys_and_metadata_never_reach_the_store() {
        // No expectations: any call would panic.
        let client = BucketClient::new(MockBucketStore::new());
        for key in ["", "/a", "a/../b", "a\0"] {
            assert!(matches!(
                client.get(key).await,
                Err(BucketError::InvalidKey { .. })
            ));
            assert!(matches!(
                client.put(key, "x").await,
                Err(BucketError::InvalidKey { .. })
            ));
            assert!(matches!(
                client.delete(key).await,
                Err(BucketError::InvalidKey { .. })
            ));
            assert!(matches!(
                client.copy("ok", key).await,
                Err(BucketError::InvalidKey { .. })
            ));
        }
        let options = PutOptions {
            metadata: [("Bad Name".to_string(), "v".to_string())].into(),
            ..PutOptions::default()
        };
        let refused = client.put_with("ok", "x", options).await;
        assert!(matches!(refused, Err(BucketError::InvalidMetadata { .. })));
    }

    #[tokio::test]
    async fn get_bytes_refuses_a_large_object_without_reading_it() {
        let mut store = MockBucketStore::new();
        store.expect_get().returning(|key, _| {
            Ok(GetResult {
                meta: meta(key, 100),
                range: 0..100,
                body: ByteStream::from_error(StreamError::from(std::io::Error::other(
                    "the body was read",
                ))),
            })
        });
        let client = BucketClient::new(store);
        let error = client.get_bytes("big", 99).await.unwrap_err();
        assert!(
            matches!(error, BucketError::TooLarge { limit: 99 }),
            "{error}"
        );
    }

    #[tokio::test]
    async fn list_all_follows_continuation_tokens_to_the_end() {
        let mut store = MockBucketStore::new();
        store
            .expect_list()
            .withf(|options| {
                options.continuation.is_none() && options.prefix.as_deref() == Some("p/")
            })
            .returning(|_| {
                Ok(ListPage {
                    objects: vec![meta("p/1", 1), meta("p/2", 2)],
                    common_prefixes: vec![],
                    next: Some("after-2".into()),
                })
            });
        store
            .expect_list()
            .withf(|options| options.continuation.as_deref() == Some("after-2"))
            .returning(|_| {
                Ok(ListPage {
                    objects: vec![],
                    common_prefixes: vec![],
                    next: Some("after-2-again".into()),
                })
            });
        store
            .expect_list()
            .withf(|options| options.continuation.as_deref() == Some("after-2-again"))
            .returning(|_| {
                Ok(ListPage {
                    objects: vec![meta("p/3", 3)],
                    common_prefixes: vec![],
                    next: None,
                })
            });
        let client = BucketClient::new(store);
        let keys: Vec<String> = client
            .list_all("p/")
            .map_ok(|meta| meta.key)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(keys, ["p/1", "p/2", "p/3"]);
    }

    #[tokio::test]
    async fn upload_sends_equal_parts_in_order_and_completes() {
        let received: Arc<Mutex<Vec<(u32, Bytes)>>> = Arc::default();
        let mut store = MockBucketStore::new();
        store.expect_provider().return_const("mock");
        store
            .expect_capabilities()
            .return_const(multipart_capabilities(4));
        store
            .expect_create_multipart()
            .withf(|key, options| key == "big" && options.content_type.as_deref() == Some("a/b"))
            .times(1)
            .returning(|_, _| Ok("upload-1".into()));
        let parts = Arc::clone(&received);
        store
            .expect_put_part()
            .withf(|key, id, _, _| key == "big" && id == "upload-1")
            .times(3)
            .returning(move |_, _, number, body| {
                let bytes = collected(body);
                let info = PartInfo {
                    part_number: number,
                    etag: format!("\"part-{number}\""),
                    size: bytes.len() as u64,
                };
                parts.lock().unwrap().push((number, bytes));
                Ok(info)
            });
        store
            .expect_complete_multipart()
            .withf(|_, _, parts| {
                let numbers: Vec<u32> = parts.iter().map(|part| part.part_number).collect();
                let sizes: Vec<u64> = parts.iter().map(|part| part.size).collect();
                numbers == [1, 2, 3] && sizes == [4, 4, 2]
            })
            .times(1)
            .returning(|_, _, _| {
                Ok(PutResult {
                    etag: "\"joined-3\"".into(),
                    version: None,
                })
            });
        let client = BucketClient::new(store);
        let body = ByteStream::from_stream(futures::stream::iter(
            ["abc", "defgh", "ij"].map(Ok::<_, StreamError>),
        ));
        let options = UploadOptions {
            part_size: 4,
            put: PutOptions {
                content_type: Some("a/b".into()),
                ..PutOptions::default()
            },
            ..UploadOptions::default()
        };
        let put = client.upload_with("big", body, options).await.unwrap();
        assert_eq!(put.etag, "\"joined-3\"");
        let mut received = received.lock().unwrap().clone();
        received.sort_by_key(|(number, _)| *number);
        let joined: Vec<u8> = received
            .iter()
            .flat_map(|(_, bytes)| bytes.to_vec())
            .collect();
        assert_eq!(joined, b"abcdefghij");
    }

    #[tokio::test]
    async fn a_failed_upload_is_aborted() {
        let mut store = MockBucketStore::new();
        store.expect_provider().return_const("mock");
        store
            .expect_capabilities()
            .return_const(multipart_capabilities(1));
        store
            .expect_create_multipart()
            .returning(|_, _| Ok("upload-2".into()));
        store.expect_put_part().returning(|key, _, number, body| {
            let size = collected(body).len() as u64;
            if number == 2 {
                return Err(BucketError::backend(
                    "mock",
                    format!("part {number} of {key} lost"),
                ));
            }
            Ok(PartInfo {
                part_number: number,
                etag: "\"p\"".into(),
                size,
            })
        });
        store.expect_complete_multipart().never();
        store
            .expect_abort_multipart()
            .with(eq("k"), eq("upload-2"))
            .times(1)
            .returning(|_, _| Ok(()));
        let client = BucketClient::new(store);
        let error = client.upload("k", vec![7u8; 10], 3).await.unwrap_err();
        assert!(error.to_string().contains("part 2 of k lost"), "{error}");
    }

    #[tokio::test]
    async fn an_upload_that_fits_one_part_is_a_single_put() {
        let mut store = MockBucketStore::new();
        store
            .expect_capabilities()
            .return_const(multipart_capabilities(1));
        store.expect_create_multipart().never();
        store
            .expect_put()
            .withf(|key, _, _| key == "small")
            .times(2)
            .returning(|_, body, _| {
                let etag = format!("\"{}\"", collected(body).len());
                Ok(PutResult {
                    etag,
                    version: None,
                })
            });
        let client = BucketClient::new(store);
        // Known length: decided up front.
        assert_eq!(
            client.upload("small", vec![1u8; 8], 8).await.unwrap().etag,
            "\"8\""
        );
        // Unknown length: decided after reading the first part.
        let body = ByteStream::from_stream(futures::stream::iter(
            ["ab", "cd"].map(Ok::<_, StreamError>),
        ));
        assert_eq!(client.upload("small", body, 8).await.unwrap().etag, "\"4\"");
    }

    #[tokio::test]
    async fn an_upload_checks_the_part_size_before_sending_anything() {
        let mut store = MockBucketStore::new();
        store.expect_provider().return_const("mock");
        store
            .expect_capabilities()
            .return_const(multipart_capabilities(5 * 1024 * 1024));
        let client = BucketClient::new(store);
        let error = client.upload("k", vec![0u8; 100], 1024).await.unwrap_err();
        assert!(matches!(error, BucketError::InvalidPart { .. }), "{error}");
        assert!(error.to_string().contains("raise `part_size`"), "{error}");
    }

    #[tokio::test]
    async fn a_store_without_multipart_gets_one_streamed_put() {
        let mut store = MockBucketStore::new();
        store
            .expect_capabilities()
            .return_const(Capabilities::default());
        store.expect_put().times(1).returning(|_, body, _| {
            assert_eq!(
                body.len(),
                None,
                "the body was buffered to learn its length"
            );
            Ok(PutResult {
                etag: format!("\"{}\"", collected(body).len()),
                version: None,
            })
        });
        let client = BucketClient::new(store);
        let body = ByteStream::from_stream(futures::stream::iter(
            (0..100).map(|_| Ok::<_, StreamError>(vec![0u8; 1000])),
        ));
        assert_eq!(
            client.upload("k", body, 10).await.unwrap().etag,
            "\"100000\""
        );
    }
}
