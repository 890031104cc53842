//! Binding a bucket: the declaration becomes a resource at plan time and a client at run time.

use alchemy_stream::ByteStream;

use super::{Bindable, Declaration, Runtime};
use crate::bucket::{
    Bucket, BucketClient, BucketError, BucketStore, Capabilities, GetOptions, GetResult,
    ListOptions, ListPage, ObjectMeta, PutOptions, PutResult,
};
use crate::error::Result;

impl Bindable for Bucket {
    type Client = BucketClient;

    fn declaration(&self) -> Declaration {
        Declaration {
            id: self.id().to_string(),
            kind: "bucket".into(),
            config: serde_json::Value::Null,
        }
    }

    fn plan_client(&self) -> BucketClient {
        BucketClient::new(Planned { id: self.id() })
    }

    fn client(&self, runtime: &dyn Runtime) -> Result<BucketClient> {
        runtime.bucket(self.id())
    }
}

/// The client of a bucket at plan time: every call says so.
struct Planned {
    id: &'static str,
}

impl Planned {
    fn refuse<T>(&self) -> Result<T, BucketError> {
        Err(BucketError::Backend {
            provider: "plan",
            message: crate::Error::NotAtPlanTime(self.id.to_string()).to_string(),
            retryable: false,
        })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl BucketStore for Planned {
    fn provider(&self) -> &'static str {
        "plan"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    async fn get(&self, _: &str, _: GetOptions) -> Result<GetResult, BucketError> {
        self.refuse()
    }

    async fn head(&self, _: &str) -> Result<ObjectMeta, BucketError> {
        self.refuse()
    }

    async fn put(&self, _: &str, _: ByteStream, _: PutOptions) -> Result<PutResult, BucketError> {
        self.refuse()
    }

    async fn delete(&self, _: &str) -> Result<(), BucketError> {
        self.refuse()
    }

    async fn list(&self, _: ListOptions) -> Result<ListPage, BucketError> {
        self.refuse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::{Init, Planning};

    #[tokio::test]
    async fn a_bucket_bound_at_plan_time_refuses_to_work() {
        static PHOTOS: Bucket = Bucket::new("photos");
        let mut init = Init::new("api", &Planning);
        let client = init.bind_read_only(&PHOTOS).await.unwrap();
        let err = client.head("a.jpg").await.unwrap_err();
        assert!(
            err.to_string().contains("`photos` was used while planning"),
            "{err}"
        );
        assert_eq!(init.requests()[0].declaration.kind, "bucket");
    }
}
