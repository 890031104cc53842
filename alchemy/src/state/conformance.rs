//! The conformance suite of state backends: what every [`StateBackend`] must do so that
//! deploys sharing a stage never both proceed and never lose a checkpoint.
//!
//! [`run_all`] takes a function that opens the backend of a stage: called twice with the same
//! stage, it must give two independent handles onto the same state, as two processes on two
//! machines would have. Each case uses a stage of its own (`<prefix>-<case>`), so the suite can
//! share a bucket with other data. A failing case panics, naming what was expected.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use alchemy::bucket::BucketClient;
//! use alchemy::local::bucket::LocalBucket;
//! use alchemy::state::{conformance, BucketBackend};
//!
//! # let dir = tempfile::tempdir()?;
//! let bucket = BucketClient::new(LocalBucket::open(dir.path()).await?);
//! conformance::run_all("docs", |stage| BucketBackend::new(bucket.clone(), "app", stage)).await;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use serde_json::json;

use super::{JournalEntry, LeaseOwner, ResourceState, Snapshot, StateBackend, Status};
use crate::error::Error;
use crate::resource::RemovalPolicy;

const TTL: Duration = Duration::from_secs(60);

fn owner(user: &str) -> LeaseOwner {
    LeaseOwner {
        user: user.into(),
        ..LeaseOwner::current()
    }
}

fn record(n: u64) -> ResourceState {
    ResourceState {
        kind: "test.thing".into(),
        provider: "test".into(),
        status: Status::Created,
        props: json!({ "n": n }),
        output: Some(json!({ "name": format!("thing-{n}") })),
        pending_props: None,
        deps: Vec::new(),
        removal: RemovalPolicy::Destroy,
        generation: 0,
        retired: Vec::new(),
    }
}

fn put(id: &str, n: u64) -> JournalEntry {
    JournalEntry::Put {
        id: id.into(),
        record: record(n),
    }
}

fn ids(snapshot: &Snapshot) -> Vec<&str> {
    snapshot.resources.keys().map(String::as_str).collect()
}

/// Runs every case; `open(stage)` opens the backend of `stage`.
pub async fn run_all<B, F>(prefix: &str, open: F)
where
    B: StateBackend,
    F: Fn(&str) -> B,
{
    let stage = |case: &str| format!("{prefix}-{case}");
    a_stage_never_deployed_loads_as_none(&open(&stage("empty"))).await;
    the_lease_is_exclusive(&open, &stage("exclusive")).await;
    of_racing_deploys_exactly_one_proceeds(&open, &stage("race")).await;
    checkpoints_survive_and_commits_fold_them(&open, &stage("journal")).await;
    a_lease_taken_over_writes_nothing(&open, &stage("takeover")).await;
    renewing_keeps_the_lease(&open, &stage("renew")).await;
    force_unlock_frees_the_stage(&open, &stage("force")).await;
}

/// A stage with no state loads as `None`.
pub async fn a_stage_never_deployed_loads_as_none(backend: &impl StateBackend) {
    let loaded = backend.load().await.expect("load an empty stage");
    assert!(loaded.is_none(), "{}: {loaded:?}", backend.describe());
}

/// A second deploy fails fast with `Locked`, naming the holder, until the first gives the
/// lease back; tokens grow with every acquisition.
pub async fn the_lease_is_exclusive<B: StateBackend>(open: impl Fn(&str) -> B, stage: &str) {
    let (a, b) = (open(stage), open(stage));
    let first = a.lock(&owner("alice"), TTL).await.expect("first lock");
    match b.lock(&owner("bob"), TTL).await {
        Err(Error::Locked { owner, token, .. }) => {
            assert!(owner.contains("alice"), "the holder is named: {owner}");
            assert_eq!(token, first.token);
        }
        other => panic!(
            "{}: a second lock must fail with Locked: {other:?}",
            a.describe()
        ),
    }
    a.unlock(&first).await.expect("unlock");
    let second = b.lock(&owner("bob"), TTL).await.expect("lock after unlock");
    assert!(
        second.token > first.token,
        "tokens grow: {} after {}",
        second.token,
        first.token
    );
    b.unlock(&second).await.expect("unlock");
}

/// Eight deploys racing for a free lease: exactly one gets it.
pub async fn of_racing_deploys_exactly_one_proceeds<B: StateBackend>(
    open: impl Fn(&str) -> B,
    stage: &str,
) {
    let backends: Vec<B> = (0..8).map(|_| open(stage)).collect();
    let attempts = backends
        .iter()
        .enumerate()
        .map(|(i, backend)| async move { backend.lock(&owner(&format!("racer{i}")), TTL).await });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        winners, 1,
        "exactly one of 8 racing locks wins: {results:?}"
    );
    for result in &results {
        if let Err(e) = result {
            assert!(
                matches!(e, Error::Locked { .. }),
                "a losing racer is told the stage is locked: {e}"
            );
        }
    }
}

/// Checkpoints are readable by another handle as soon as `append` returns; a commit folds
/// them into the snapshot, and checkpoints after a commit are replayed onto it.
pub async fn checkpoints_survive_and_commits_fold_them<B: StateBackend>(
    open: impl Fn(&str) -> B,
    stage: &str,
) {
    let writer = open(stage);
    let lease = writer.lock(&owner("alice"), TTL).await.expect("lock");
    writer.append(&lease, &put("a", 1)).await.expect("append a");
    writer.append(&lease, &put("b", 2)).await.expect("append b");
    writer
        .append(&lease, &JournalEntry::Remove { id: "a".into() })
        .await
        .expect("remove a");
    let seen = open(stage).load().await.expect("load").expect("some state");
    assert_eq!(ids(&seen), ["b"], "the journal is replayed in order");

    writer.commit(&lease, &seen).await.expect("commit");
    writer.append(&lease, &put("c", 3)).await.expect("append c");
    writer.append(&lease, &put("b", 4)).await.expect("update b");
    let seen = open(stage).load().await.expect("load").expect("some state");
    assert_eq!(ids(&seen), ["b", "c"]);
    assert_eq!(
        seen.resources["b"].props,
        json!({ "n": 4 }),
        "the later write wins"
    );
    writer.unlock(&lease).await.expect("unlock");

    // A later holder sees the same, and its commit folds everything.
    let later = open(stage);
    let lease = later.lock(&owner("bob"), TTL).await.expect("lock again");
    let state = later.load().await.expect("load").expect("some state");
    assert_eq!(ids(&state), ["b", "c"]);
    later.commit(&lease, &state).await.expect("commit");
    let seen = open(stage).load().await.expect("load").expect("some state");
    assert_eq!(seen.resources, state.resources);
    later.unlock(&lease).await.expect("unlock");
}

/// Once an expired lease is taken over, the old holder's writes fail with `LeaseLost` and
/// leave no trace.
pub async fn a_lease_taken_over_writes_nothing<B: StateBackend>(
    open: impl Fn(&str) -> B,
    stage: &str,
) {
    let (old, new) = (open(stage), open(stage));
    let stale = old
        .lock(&owner("alice"), Duration::from_millis(50))
        .await
        .expect("lock");
    old.append(&stale, &put("before", 1)).await.expect("append");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let fresh = new
        .lock(&owner("bob"), TTL)
        .await
        .expect("an expired lease is taken over");
    assert!(fresh.token > stale.token);

    let lost = |r: Result<(), Error>, what: &str| match r {
        Err(Error::LeaseLost { ours, current, .. }) => {
            assert_eq!((ours, current), (stale.token, fresh.token), "{what}");
        }
        other => panic!("{what} with a stale lease must fail with LeaseLost: {other:?}"),
    };
    lost(old.append(&stale, &put("after", 2)).await, "append");
    lost(
        old.commit(&stale, &Snapshot::new("app", stage)).await,
        "commit",
    );
    lost(old.renew(&stale, TTL).await.map(drop), "renew");
    old.unlock(&stale)
        .await
        .expect("a stale unlock is harmless");

    let state = new.load().await.expect("load").expect("some state");
    assert_eq!(
        ids(&state),
        ["before"],
        "nothing the old holder wrote after the takeover counts"
    );
    match open(stage).lock(&owner("carol"), TTL).await {
        Err(Error::Locked { token, .. }) => assert_eq!(token, fresh.token),
        other => panic!("the new holder keeps the lease after a stale unlock: {other:?}"),
    }
    new.unlock(&fresh).await.expect("unlock");
}

/// A renewed lease outlives its first expiry.
pub async fn renewing_keeps_the_lease<B: StateBackend>(open: impl Fn(&str) -> B, stage: &str) {
    let holder = open(stage);
    let lease = holder
        .lock(&owner("alice"), Duration::from_millis(100))
        .await
        .expect("lock");
    let renewed = holder.renew(&lease, TTL).await.expect("renew");
    assert_eq!(renewed.token, lease.token, "renewing keeps the token");
    assert!(renewed.expires_at_ms > lease.expires_at_ms);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        matches!(
            open(stage).lock(&owner("bob"), TTL).await,
            Err(Error::Locked { .. })
        ),
        "a renewed lease is still held after its first expiry"
    );
    holder.append(&renewed, &put("x", 1)).await.expect("append");
    holder.unlock(&renewed).await.expect("unlock");
}

/// `state unlock` frees a stage whose holder is gone; the old holder can write no more.
pub async fn force_unlock_frees_the_stage<B: StateBackend>(open: impl Fn(&str) -> B, stage: &str) {
    let (gone, admin) = (open(stage), open(stage));
    let lease = gone.lock(&owner("alice"), TTL).await.expect("lock");
    admin.force_unlock().await.expect("force unlock");
    let next = admin
        .lock(&owner("bob"), TTL)
        .await
        .expect("lock after force unlock");
    assert!(next.token > lease.token);
    assert!(
        matches!(
            gone.append(&lease, &put("late", 1)).await,
            Err(Error::LeaseLost { .. })
        ),
        "the old holder cannot write after a forced unlock"
    );
    admin.unlock(&next).await.expect("unlock");
}
