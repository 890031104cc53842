//! The protocol end to end: a local bucket served by the local HTTP server on 127.0.0.1, used
//! through [`RemoteBucket`].

use alchemy_http::client::Client;
use alchemy_http::Server;
use alchemy_stream::ByteStream;
use http::Request;

use super::{handler, RemoteBucket};
use crate::bucket::{
    conformance, BucketClient, BucketError, BucketStore, Capabilities, GetOptions, GetResult,
    ListOptions, ListPage, ObjectMeta, PutMode, PutOptions, PutResult, Result,
};
use crate::local::bucket::LocalBucket;
use crate::state::BucketBackend;

const TOKEN: &str = "a-token-for-tests";

/// A local bucket in a fresh directory, served on a free port.
async fn serve_local() -> (tempfile::TempDir, BucketClient, Server) {
    let dir = tempfile::tempdir().unwrap();
    let local = BucketClient::new(LocalBucket::open(dir.path()).await.unwrap());
    let server = alchemy_http::serve("127.0.0.1:0", handler(local.clone(), TOKEN))
        .await
        .expect("start the bucket server");
    (dir, local, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_local_bucket_passes_the_conformance_suite() {
    let (_dir, local, server) = serve_local().await;
    let remote = RemoteBucket::client(&server.url(), TOKEN).await.unwrap();
    assert_eq!(remote.provider(), "local");
    assert_eq!(remote.capabilities(), local.capabilities());

    let report = conformance::run_all(&remote).await;
    assert!(report.skipped.is_empty(), "{report}");
    assert_eq!(report.ran.len(), 28, "{report}");
    // Every test cleaned up after itself, seen from both sides.
    for client in [&remote, &local] {
        let page = client.list(ListOptions::default()).await.unwrap();
        assert!(page.objects.is_empty(), "{:?}", page.objects);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_suites_at_once_share_a_served_bucket() {
    let (_dir, _local, server) = serve_local().await;
    let first = RemoteBucket::client(&server.url(), TOKEN).await.unwrap();
    let second = RemoteBucket::client(&server.url(), TOKEN).await.unwrap();
    let (a, b) = futures::join!(conformance::run_all(&first), conformance::run_all(&second));
    assert_eq!(a, b);
    assert_eq!(a.ran.len(), 28, "{a}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_backend_runs_on_a_served_bucket() {
    let (_dir, local, server) = serve_local().await;
    let url = server.url();
    // Each handle has a connection of its own, as two deploys on two machines would.
    let mut handles = Vec::new();
    for _ in 0..16 {
        handles.push(RemoteBucket::client(&url, TOKEN).await.unwrap());
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    crate::state::conformance::run_all("remote", |stage| {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        BucketBackend::new(handles[n % handles.len()].clone(), "app", stage)
    })
    .await;
    // The state is in the served bucket, under the app's prefix.
    let page = local.list(ListOptions::default()).await.unwrap();
    assert!(
        page.objects.iter().any(|meta| meta.key.contains("app")),
        "{:?}",
        page.objects
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_refused_with_the_fix() {
    let (_dir, _local, server) = serve_local().await;
    let url = server.url();

    let error = RemoteBucket::connect(&url, "not-the-token")
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            BucketError::Backend {
                provider: "remote",
                retryable: false,
                ..
            }
        ),
        "{error:?}"
    );
    for needle in [url.as_str(), "bearer token is wrong", "send the token"] {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }

    let http = Client::new(&url).unwrap();
    for authorization in [None, Some("Bearer nope"), Some("Basic a-token-for-tests")] {
        let mut request = Request::get("/o/a%2Fb").body(ByteStream::empty()).unwrap();
        if let Some(value) = authorization {
            request
                .headers_mut()
                .insert("authorization", value.parse().unwrap());
        }
        let response = http.send(request).await.unwrap();
        assert_eq!(response.status(), 401, "{authorization:?}");
        let body = response.into_body().collect(4096).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "unauthorized", "{json}");
        assert!(
            json["message"].as_str().unwrap().contains("token"),
            "{json}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_without_a_token_refuses_everything() {
    let dir = tempfile::tempdir().unwrap();
    let local = BucketClient::new(LocalBucket::open(dir.path()).await.unwrap());
    let server = alchemy_http::serve("127.0.0.1:0", handler(local, ""))
        .await
        .unwrap();
    let error = RemoteBucket::connect(&server.url(), "").await.unwrap_err();
    assert!(error.to_string().contains("no token configured"), "{error}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_gone_is_an_error_naming_its_url() {
    let (_dir, _local, server) = serve_local().await;
    let url = server.url();
    let remote = RemoteBucket::client(&url, TOKEN).await.unwrap();
    remote.put("kept", "x").await.unwrap();
    server.shutdown().await;

    for error in [
        remote.get("kept").await.unwrap_err(),
        remote.put("kept", "y").await.unwrap_err(),
        RemoteBucket::connect(&url, TOKEN).await.unwrap_err(),
    ] {
        assert!(
            matches!(
                error,
                BucketError::Backend {
                    provider: "remote",
                    retryable: true,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(&url), "{message:?} lacks {url}");
        assert!(message.contains("unreachable"), "{message:?}");
    }

    let error = RemoteBucket::connect("https://127.0.0.1:1", TOKEN)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("https://127.0.0.1:1"), "{error}");
    let error = RemoteBucket::connect("http://127.0.0.1:1/bucket", TOKEN)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("has a path"), "{error}");
}

/// A store whose every failure is chosen, to show that each crosses the wire as itself.
struct Failing;

#[async_trait::async_trait]
impl BucketStore for Failing {
    fn provider(&self) -> &'static str {
        "s3"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            range: true,
            max_parts: Some(7),
            ..Capabilities::default()
        }
    }
    async fn get(&self, key: &str, _: GetOptions) -> Result<GetResult> {
        Err(BucketError::InvalidRange {
            key: key.to_owned(),
            range: "bytes=9-".into(),
            size: 4,
        })
    }
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        Err(BucketError::Precondition {
            key: key.to_owned(),
            detail: "a detail".into(),
        })
    }
    async fn put(&self, _: &str, _: ByteStream, _: PutOptions) -> Result<PutResult> {
        Err(BucketError::Backend {
            provider: "s3",
            message: "503 Slow Down".into(),
            retryable: true,
        })
    }
    async fn delete(&self, _: &str) -> Result<()> {
        Err(BucketError::TooLarge { limit: 12 })
    }
    async fn list(&self, _: ListOptions) -> Result<ListPage> {
        Err(BucketError::NoSuchUpload {
            key: "k".into(),
            upload_id: "u-1".into(),
        })
    }
}

#[tokio::test]
async fn every_failure_comes_back_as_its_own_variant() {
    let served = BucketClient::new(Failing);
    let server = alchemy_http::serve("127.0.0.1:0", handler(served, TOKEN))
        .await
        .unwrap();
    let remote = RemoteBucket::client(&server.url(), TOKEN).await.unwrap();
    assert_eq!(remote.provider(), "s3");
    assert_eq!(remote.capabilities(), Failing.capabilities());

    match remote.get("a/b").await.unwrap_err() {
        BucketError::InvalidRange { key, range, size } => {
            assert_eq!((key.as_str(), range.as_str(), size), ("a/b", "bytes=9-", 4));
        }
        other => panic!("{other:?}"),
    }
    match remote.head("a/b").await.unwrap_err() {
        BucketError::Precondition { key, detail } => {
            assert_eq!((key.as_str(), detail.as_str()), ("a/b", "a detail"));
        }
        other => panic!("{other:?}"),
    }
    match remote.put("k", "v").await.unwrap_err() {
        BucketError::Backend {
            provider,
            message,
            retryable,
        } => assert_eq!(
            (provider, message.as_str(), retryable),
            ("s3", "503 Slow Down", true)
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        remote.delete("k").await.unwrap_err(),
        BucketError::TooLarge { limit: 12 }
    ));
    match remote.list(ListOptions::default()).await.unwrap_err() {
        BucketError::NoSuchUpload { key, upload_id } => {
            assert_eq!((key.as_str(), upload_id.as_str()), ("k", "u-1"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        remote
            .copy_with("a", "b", PutMode::Create)
            .await
            .unwrap_err(),
        BucketError::NotSupported {
            operation: "copy",
            provider: "s3"
        }
    ));
    assert!(matches!(
        remote
            .store()
            .create_multipart("k", PutOptions::default())
            .await
            .unwrap_err(),
        BucketError::NotSupported {
            operation: "multipart uploads",
            provider: "s3"
        }
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn requests_outside_the_protocol_say_what_is_served() {
    let (_dir, _local, server) = serve_local().await;
    let http = Client::new(&server.url()).unwrap();
    for (method, path, status) in [
        ("GET", "/nothing", 404),
        ("POST", "/list", 405),
        ("PATCH", "/o/k", 405),
        ("GET", "/o/%zz", 400),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(ByteStream::empty())
            .unwrap();
        let response = http.send(request).await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let body = response.into_body().collect(4096).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            json["message"].as_str().unwrap().contains("protocol")
                || json["message"]
                    .as_str()
                    .unwrap()
                    .contains("percent-encoded"),
            "{json}"
        );
    }
    server.shutdown().await;
}
