//! Tests of the local bucket: the conformance suite and what only a local store can show.

use crate::bucket::{conformance, BucketClient};

use super::LocalBucket;

async fn client(dir: &tempfile::TempDir) -> BucketClient {
    BucketClient::new(LocalBucket::open(dir.path()).await.expect("open"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let report = conformance::run_all(&client(&dir).await).await;
    assert!(report.skipped.is_empty(), "{report}");
    assert!(report.ran.len() >= 28, "{report}");
}
