//! The bucket backend on the local bucket (real files, real conditional writes).

use super::*;
use crate::local::bucket::LocalBucket;

async fn bucket(dir: &tempfile::TempDir) -> BucketClient {
    BucketClient::new(
        LocalBucket::open(dir.path())
            .await
            .expect("open the bucket"),
    )
}

#[tokio::test]
async fn passes_the_state_backend_suite_on_a_local_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket(&dir).await;
    crate::state::conformance::run_all("local", |stage| {
        BucketBackend::new(bucket.clone(), "app", stage)
    })
    .await;
}

#[tokio::test]
async fn keeps_each_stage_under_its_prefix_and_cleans_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket(&dir).await;
    let backend = BucketBackend::new(bucket.clone(), "photos", "prod").with_prefix("team/state");
    assert_eq!(backend.describe(), "local://team/state/");
    let lease = backend
        .lock(&LeaseOwner::current(), Duration::from_secs(60))
        .await
        .unwrap();
    let entry = JournalEntry::Remove { id: "x".into() };
    backend.append(&lease, &entry).await.unwrap();
    backend.append(&lease, &entry).await.unwrap();
    let keys = |bucket: BucketClient| async move {
        bucket
            .list_all("")
            .map_ok(|m| m.key)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    };
    assert_eq!(
        keys(bucket.clone()).await,
        [
            format!("team/state/journal/{:020}-{:010}.json", lease.token, 0),
            format!("team/state/journal/{:020}-{:010}.json", lease.token, 1),
            "team/state/lock.json".to_string(),
        ]
    );
    backend
        .commit(&lease, &Snapshot::new("photos", "prod"))
        .await
        .unwrap();
    backend
        .commit(&lease, &Snapshot::new("photos", "prod"))
        .await
        .unwrap();
    assert_eq!(
        keys(bucket.clone()).await,
        [
            "team/state/lock.json",
            "team/state/state.json",
            "team/state/state.json.bak"
        ]
    );
}

#[tokio::test]
async fn unreadable_or_newer_state_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket(&dir).await;
    let backend = BucketBackend::new(bucket.clone(), "photos", "dev");
    bucket
        .put("photos/dev/state.json", "{ not json")
        .await
        .unwrap();
    match backend.load().await {
        Err(Error::CorruptState { path, backup, .. }) => {
            assert_eq!(path.to_str(), Some("local://photos/dev/state.json"));
            assert_eq!(backup.to_str(), Some("local://photos/dev/state.json.bak"));
        }
        other => panic!("a corrupt state is refused: {other:?}"),
    }
    let newer = serde_json::json!({
        "folded": { "token": 1, "seq": 0 },
        "snapshot": { "version": FORMAT_VERSION + 1, "app": "photos", "stage": "dev", "serial": 1, "resources": {} }
    });
    bucket
        .put("photos/dev/state.json", newer.to_string())
        .await
        .unwrap();
    assert!(matches!(
        backend.load().await,
        Err(Error::StateTooNew { found, .. }) if found == FORMAT_VERSION + 1
    ));
    let kept = bucket
        .get_bytes("photos/dev/state.json", 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        kept,
        newer.to_string().as_bytes(),
        "the state was left as it was"
    );
}
