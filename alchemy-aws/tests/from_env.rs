//! `S3Bucket::from_env` follows the standard AWS environment, `AWS_ENDPOINT_URL` included.
//!
//! The one test of this binary sets process-wide environment variables, so it lives alone.

use alchemy::bucket::BucketClient;
use alchemy_aws::s3::S3Bucket;
use alchemy_aws::testing::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_env_reaches_the_endpoint_in_aws_endpoint_url_with_path_style() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let made = emulator.create_bucket("from-env").await.expect("bucket");
    let missing = std::env::temp_dir().join("alchemy-no-such-aws-config");
    for (name, value) in [
        ("AWS_ENDPOINT_URL", emulator.endpoint().to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_CONFIG_FILE", missing.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", missing.display().to_string()),
    ] {
        std::env::set_var(name, value);
    }
    std::env::remove_var("AWS_PROFILE");

    // Virtual-hosted style would address `<bucket>.127.0.0.1`, which does not resolve: only
    // path style reaches the emulator.
    let bucket = BucketClient::new(S3Bucket::from_env(made.bucket()).await);
    bucket
        .put("hello.txt", "from the environment")
        .await
        .expect("put");
    assert_eq!(
        bucket.get_bytes("hello.txt", 64).await.expect("get"),
        "from the environment"
    );
    let through_the_harness = BucketClient::new(made);
    assert_eq!(
        through_the_harness
            .get_bytes("hello.txt", 64)
            .await
            .expect("the same bucket"),
        "from the environment"
    );
}
