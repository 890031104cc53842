//! Shared state in S3: the state backend suite on a bucket in MiniStack and in moto.

use alchemy::bucket::BucketClient;
use alchemy::state::{conformance, BucketBackend};
use alchemy_aws::testing::Emulator;

async fn suite(emulator: Emulator) {
    let bucket = BucketClient::new(emulator.create_bucket("state").await.expect("bucket"));
    conformance::run_all(emulator.name(), |stage| {
        BucketBackend::new(bucket.clone(), "app", stage).with_prefix(&format!("alchemy/{stage}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_in_s3_on_ministack() {
    suite(Emulator::ministack().await.expect("MiniStack")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_in_s3_on_moto() {
    suite(Emulator::moto().await.expect("moto")).await;
}
