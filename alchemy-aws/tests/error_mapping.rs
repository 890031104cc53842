//! How S3's answers become neutral errors, for the answers the emulators never give
//! (`409 ConditionalRequestConflict`, throttling, 5xx): a loopback server replays S3's
//! documented error responses.

use std::sync::Arc;

use alchemy::bucket::{BucketError, BucketStore, ByteRange, GetOptions, PutMode};
use alchemy_aws::s3::S3Bucket;
use alchemy_stream::ByteStream;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A canned answer: status line, and an S3 error code for the XML body (or none).
type Answer = (&'static str, Option<&'static str>);

/// Serves `answer(method)` to every request on a loopback port; returns a bucket on it.
async fn replaying(answer: fn(&str) -> Answer) -> S3Bucket {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; len];
                let _ = socket.read_exact(&mut body).await;
                let method = head.split(' ').next().unwrap_or("");
                let (status, code) = answer(method);
                let xml = code
                    .map(|code| {
                        format!("<Error><Code>{code}</Code><Message>replayed</Message></Error>")
                    })
                    .unwrap_or_default();
                let extra = if method == "HEAD" {
                    "Content-Length: 10\r\nETag: \"e\"\r\n".to_owned()
                } else {
                    format!("Content-Type: application/xml\r\nContent-Length: {}\r\n", xml.len())
                };
                let response = format!("HTTP/1.1 {status}\r\n{extra}Connection: close\r\n\r\n");
                let _ = socket.write_all(response.as_bytes()).await;
                if method != "HEAD" {
                    let _ = socket.write_all(xml.as_bytes()).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "test",
        )))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    S3Bucket::from_sdk_config(&config, "replayed")
}

fn body() -> ByteStream {
    ByteStream::from("data")
}

#[tokio::test]
async fn a_conditional_request_conflict_is_a_lost_race() {
    let bucket = replaying(|_| ("409 Conflict", Some("ConditionalRequestConflict"))).await;
    let create = bucket.put("k", body(), PutMode::Create.into()).await;
    assert!(
        matches!(create, Err(BucketError::AlreadyExists { ref key }) if key == "k"),
        "{create:?}"
    );
    let update = bucket
        .put("k", body(), PutMode::Update("\"e\"".into()).into())
        .await;
    assert!(
        matches!(update, Err(BucketError::Precondition { .. })),
        "{update:?}"
    );
    let overwrite = bucket.put("k", body(), PutMode::Overwrite.into()).await;
    assert!(
        matches!(overwrite, Err(BucketError::Backend { .. })),
        "{overwrite:?}"
    );
}

#[tokio::test]
async fn a_failed_precondition_is_already_exists_or_precondition() {
    let bucket = replaying(|_| ("412 Precondition Failed", Some("PreconditionFailed"))).await;
    let create = bucket.put("k", body(), PutMode::Create.into()).await;
    assert!(matches!(create, Err(BucketError::AlreadyExists { .. })), "{create:?}");
    let update = bucket
        .put("k", body(), PutMode::Update("\"e\"".into()).into())
        .await;
    assert!(matches!(update, Err(BucketError::Precondition { .. })), "{update:?}");
    let copy = bucket.copy("a", "b", PutMode::Create).await;
    assert!(matches!(copy, Err(BucketError::AlreadyExists { .. })), "{copy:?}");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retryable() {
    for answer in [
        (|_: &str| ("503 Slow Down", Some("SlowDown"))) as fn(&str) -> Answer,
        |_| ("500 Internal Server Error", Some("InternalError")),
        |_| ("429 Too Many Requests", None),
    ] {
        let bucket = replaying(answer).await;
        let error = bucket
            .get("k", GetOptions::default())
            .await
            .expect_err("the server refuses");
        assert!(error.is_retryable(), "{error:?}");
        assert!(
            error.to_string().contains("retrying may succeed"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn client_errors_are_not_retryable() {
    let bucket = replaying(|_| ("403 Forbidden", Some("AccessDenied"))).await;
    let error = bucket
        .get("k", GetOptions::default())
        .await
        .expect_err("the server refuses");
    assert!(
        matches!(error, BucketError::Backend { retryable: false, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("AccessDenied"), "{error}");
}

#[tokio::test]
async fn an_unsatisfiable_range_reports_the_object_size() {
    let bucket = replaying(|method| match method {
        "HEAD" => ("200 OK", None),
        _ => ("416 Requested Range Not Satisfiable", Some("InvalidRange")),
    })
    .await;
    let options = GetOptions {
        range: Some(ByteRange::From(50)),
        ..GetOptions::default()
    };
    let error = bucket.get("k", options).await.expect_err("416");
    assert!(
        matches!(
            error,
            BucketError::InvalidRange { size: 10, ref range, .. } if range == "bytes=50-"
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn not_modified_and_missing_objects() {
    let bucket = replaying(|_| ("304 Not Modified", None)).await;
    let options = GetOptions {
        if_none_match: Some("\"e\"".into()),
        ..GetOptions::default()
    };
    let error = bucket.get("k", options).await.expect_err("304");
    assert!(matches!(error, BucketError::NotModified { .. }), "{error:?}");

    let bucket = Arc::new(replaying(|_| ("404 Not Found", Some("NoSuchKey"))).await);
    let error = bucket
        .get("k", GetOptions::default())
        .await
        .expect_err("404");
    assert!(matches!(error, BucketError::NotFound { ref key } if key == "k"), "{error:?}");
    bucket.delete("k").await.expect("deleting a missing key succeeds");
    let update = bucket
        .put("k", body(), PutMode::Update("\"e\"".into()).into())
        .await;
    assert!(matches!(update, Err(BucketError::Precondition { .. })), "{update:?}");
    let copy = bucket.copy("from", "to", PutMode::Overwrite).await;
    assert!(matches!(copy, Err(BucketError::NotFound { ref key }) if key == "from"), "{copy:?}");
}

#[tokio::test]
async fn unknown_uploads_are_no_such_upload() {
    let bucket = replaying(|_| ("404 Not Found", Some("NoSuchUpload"))).await;
    let part = bucket.put_part("k", "gone", 1, body()).await;
    assert!(matches!(part, Err(BucketError::NoSuchUpload { .. })), "{part:?}");
    bucket
        .abort_multipart("k", "gone")
        .await
        .expect("aborting an unknown upload succeeds");
}
