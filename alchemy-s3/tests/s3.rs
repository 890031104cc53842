//! The S3 client of `alchemy_s3` (SigV4 over plain HTTP, the one Workers use)
//! against S3 in MiniStack, over the native transport: the bucket conformance suite, and what
//! the suite does not cover (bodies of unknown length, errors naming bucket and key).

use alchemy::bucket::conformance::{self, Skipped};
use alchemy::bucket::{BucketClient, BucketError, BucketStore, PutMode};
use alchemy_aws::testing::{Emulator, REGION};
use alchemy_s3::{Credentials, ReqwestTransport, S3Bucket, S3Config};
use alchemy_stream::{ByteStream, Bytes, StreamError};

/// A fresh bucket in `emulator`, reached by the S3 client over reqwest, declaring what the
/// emulator honours.
async fn bucket(emulator: &Emulator, prefix: &str) -> S3Bucket<ReqwestTransport> {
    let created = emulator
        .create_bucket(prefix)
        .await
        .expect("create the test bucket");
    let config = S3Config::new(created.bucket(), REGION, Credentials::new("test", "test"))
        .with_endpoint(emulator.endpoint());
    S3Bucket::new(ReqwestTransport::new(), config).with_capabilities(emulator.s3_capabilities())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_client_passes_the_suite_in_ministack() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let store = bucket(&emulator, "conformance").await;
    assert!(!store.capabilities().copy_conditional);
    let report = conformance::run_all(&BucketClient::new(store)).await;
    println!("{report}");
    assert_eq!(report.provider, "s3");
    // MiniStack copies regardless of `If-Match` / `If-None-Match`: the emulator's declared
    // capabilities leave conditional copies out, and the suite skips them for that reason.
    assert_eq!(
        report.skipped,
        [Skipped {
            test: "copy_conditional",
            missing: "copy_conditional"
        }],
        "{report}"
    );
    assert_eq!(report.ran.len(), 27, "{report}");
}

/// A body of unknown length, in chunks of 1 MiB.
fn unsized_body(len: usize) -> (ByteStream, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<Result<Bytes, StreamError>> = data
        .chunks(1 << 20)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    (ByteStream::from_stream(futures::stream::iter(chunks)), data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_of_unknown_length_go_up_in_parts_or_in_one_piece() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let store = bucket(&emulator, "unsized").await.with_part_size(5 << 20);
    let client = BucketClient::new(store);
    for (key, len) in [
        ("small", 1000),
        ("one-part", 5 << 20),
        ("three-parts", 12 << 20),
    ] {
        let (body, data) = unsized_body(len);
        assert_eq!(body.len(), None);
        client.put(key, body).await.expect("put");
        let read = client.get_bytes(key, 16 << 20).await.expect("get");
        assert_eq!(read.len(), data.len(), "{key}");
        assert!(read[..] == data[..], "{key} came back changed");
    }
    // A multipart object's etag says how many parts it has.
    let head = client.head("three-parts").await.expect("head");
    assert!(head.etag.ends_with("-3\""), "{}", head.etag);
    assert!(client.head("one-part").await.expect("head").etag.len() == 34);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_the_bucket_and_the_key() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let store = bucket(&emulator, "errors").await;
    let name = store.config().bucket.clone();
    // A bucket that does not exist: the answer is a backend error naming both.
    let mut config = store.config().clone();
    config.bucket = format!("{name}-missing");
    let missing = S3Bucket::new(ReqwestTransport::new(), config);
    let error = missing
        .put("a/b.txt", ByteStream::from("x"), PutMode::Overwrite.into())
        .await
        .expect_err("no such bucket");
    let message = error.to_string();
    assert!(matches!(error, BucketError::Backend { .. }), "{message}");
    assert!(
        message.contains("`a/b.txt`") && message.contains(&format!("`{name}-missing`")),
        "{message}"
    );
    assert!(message.contains("NoSuchBucket"), "{message}");
    // A port nothing listens on: retryable, naming the URL.
    let mut config = store.config().clone();
    config.endpoint = Some("http://127.0.0.1:9".into());
    let unreachable = S3Bucket::new(ReqwestTransport::new(), config);
    let error = unreachable.head("k").await.expect_err("no server");
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("127.0.0.1:9"), "{error}");
}

#[tokio::test]
async fn undeclared_options_are_refused_before_any_request() {
    let config = S3Config::new("b", REGION, Credentials::new("test", "test"))
        .with_endpoint("http://127.0.0.1:9");
    let mut capabilities = S3Bucket::<ReqwestTransport>::s3_capabilities();
    capabilities.copy_conditional = false;
    capabilities.put_update = false;
    capabilities.range = false;
    let store = S3Bucket::new(ReqwestTransport::new(), config).with_capabilities(capabilities);
    fn refused<T: std::fmt::Debug>(result: alchemy::bucket::Result<T>) {
        assert!(
            matches!(
                result,
                Err(BucketError::NotSupported { provider: "s3", .. })
            ),
            "{result:?}"
        );
    }
    refused(store.copy("a", "b", PutMode::Create).await);
    refused(
        store
            .put(
                "a",
                ByteStream::from("x"),
                PutMode::Update("\"e\"".into()).into(),
            )
            .await,
    );
    let ranged = alchemy::bucket::GetOptions {
        range: Some((0..1).into()),
        ..Default::default()
    };
    refused(store.get("a", ranged).await);
    assert!(matches!(
        store.head("../up").await,
        Err(BucketError::InvalidKey { .. })
    ));
    assert!(matches!(
        store
            .put_part("k", "id", 10_001, ByteStream::from("x"))
            .await,
        Err(BucketError::InvalidPart {
            part_number: 10_001,
            ..
        })
    ));
}
