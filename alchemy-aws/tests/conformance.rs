//! The bucket conformance suite against S3 in MiniStack and in moto.

use alchemy::bucket::conformance::{self, Report, Skipped};
use alchemy::bucket::BucketClient;
use alchemy_aws::testing::Emulator;

/// Every test of the suite, in the order `run_all` runs them.
const ALL_TESTS: &[&str] = &[
    "put_get_roundtrip",
    "streamed_put",
    "empty_object",
    "overwrite",
    "head_and_exists",
    "missing_object",
    "delete_object",
    "content_type_and_metadata",
    "failed_body_keeps_old_object",
    "invalid_keys",
    "invalid_metadata",
    "unusual_keys",
    "range_reads",
    "conditional_get",
    "conditional_put_create",
    "conditional_put_update",
    "concurrent_put_if_absent",
    "list_basics",
    "list_pagination",
    "list_delimiter",
    "list_start_after",
    "copy_object",
    "copy_conditional",
    "multipart_three_parts",
    "multipart_abort",
    "multipart_invalid_parts",
    "multipart_conditional",
    "upload_helper",
];

/// The suite's tests but `skipped`, in order.
fn all_but(skipped: &[&str]) -> Vec<&'static str> {
    ALL_TESTS
        .iter()
        .copied()
        .filter(|test| !skipped.contains(test))
        .collect()
}

async fn run_all(emulator: &Emulator) -> Report {
    let bucket = emulator
        .create_bucket("conformance")
        .await
        .expect("create the test bucket");
    conformance::run_all(&BucketClient::new(bucket)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_in_ministack_passes_the_suite() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let report = run_all(&emulator).await;
    assert_eq!(report.provider, "s3");
    assert_eq!(report.ran, all_but(&["copy_conditional"]), "{report}");
    assert_eq!(
        report.skipped,
        [Skipped {
            test: "copy_conditional",
            missing: "copy_conditional"
        }],
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_in_moto_passes_the_suite() {
    let emulator = Emulator::moto().await.expect("start moto");
    let report = run_all(&emulator).await;
    assert_eq!(report.provider, "s3");
    let skipped = [
        ("copy_conditional", "copy_conditional"),
        ("multipart_three_parts", "multipart"),
        ("multipart_abort", "multipart"),
        ("multipart_invalid_parts", "multipart"),
        ("multipart_conditional", "multipart"),
    ];
    let tests: Vec<&str> = skipped.iter().map(|(test, _)| *test).collect();
    assert_eq!(report.ran, all_but(&tests), "{report}");
    let expected: Vec<Skipped> = skipped
        .iter()
        .map(|&(test, missing)| Skipped { test, missing })
        .collect();
    assert_eq!(report.skipped, expected, "{report}");
}

/// moto's multipart uploads behave as S3's but for upload ids it no longer knows (it fails
/// with a 500 where S3 says `NoSuchUpload`): the multipart tests that do not use such ids
/// pass against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_in_moto_passes_the_multipart_tests_it_can() {
    let emulator = Emulator::moto().await.expect("start moto");
    let mut capabilities = emulator.s3_capabilities();
    capabilities.multipart = true;
    capabilities.multipart_conditional = true;
    let bucket = emulator
        .create_bucket("multipart")
        .await
        .expect("create the test bucket")
        .with_capabilities(capabilities);
    let client = BucketClient::new(bucket);
    conformance::multipart_invalid_parts(&client).await;
    conformance::multipart_conditional(&client).await;
    conformance::upload_helper(&client).await;
}
