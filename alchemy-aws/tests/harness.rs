//! The emulator harness itself: endpoints on loopback, resets, and stopping on drop.

use alchemy::bucket::BucketClient;
use alchemy_aws::testing::Emulator;

async fn reset_forgets_buckets(emulator: Emulator) {
    assert!(
        emulator.endpoint().starts_with("http://127.0.0.1:"),
        "{}",
        emulator.endpoint()
    );
    let bucket = emulator.create_bucket("reset").await.expect("bucket");
    let name = bucket.bucket().to_owned();
    BucketClient::new(bucket).put("k", "v").await.expect("put");
    let s3 = emulator.s3_client();
    s3.head_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("the bucket exists");
    emulator.reset().await.expect("reset");
    assert!(
        s3.head_bucket().bucket(&name).send().await.is_err(),
        "{}: the bucket outlived the reset",
        emulator.name()
    );

    let endpoint = emulator.endpoint().to_owned();
    drop(emulator);
    let address = endpoint.trim_start_matches("http://");
    // The server is gone once the drop returns: nothing accepts on its port any more.
    let refused = tokio::net::TcpStream::connect(address).await.is_err();
    assert!(
        refused,
        "{address} still accepts connections after the drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ministack_resets_and_stops() {
    reset_forgets_buckets(Emulator::ministack().await.expect("start MiniStack")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_resets_and_stops() {
    reset_forgets_buckets(Emulator::moto().await.expect("start moto")).await;
}
