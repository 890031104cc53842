//! Figures for the file state backend: appends per second, and the cost of committing and
//! loading a large stage. Run with `cargo bench -p alchemy --bench file_state`.

use std::time::{Duration, Instant};

use alchemy::state::{
    FileBackend, JournalEntry, LeaseOwner, ResourceState, Snapshot, StateBackend, Status,
};
use alchemy::RemovalPolicy;
use serde_json::json;

/// A record of about 300 bytes.
fn record(n: usize) -> ResourceState {
    ResourceState {
        kind: "bucket".into(),
        provider: "local".into(),
        status: Status::Created,
        props: json!({ "name": format!("photos-bucket-{n:05}"), "public": false, "region": "auto" }),
        output: Some(
            json!({ "url": format!("https://example.invalid/buckets/photos-bucket-{n:05}"), "created": "2026-01-01T00:00:00Z" }),
        ),
        pending_props: None,
        deps: vec!["account".into(), "zone".into()],
        removal: RemovalPolicy::Destroy,
        generation: 0,
        retired: Vec::new(),
    }
}

fn report(what: &str, runs: &[Duration]) {
    let mut sorted = runs.to_vec();
    sorted.sort();
    println!(
        "{what:<40} median {:>9.2?}  min {:>9.2?}  max {:>9.2?}",
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1]
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> alchemy::Result<()> {
    let root =
        tempfile::tempdir().map_err(|e| alchemy::Error::io("creating a temporary directory", e))?;
    let owner = LeaseOwner::current();
    let ttl = Duration::from_secs(60);

    let mut appends = Vec::new();
    for run in 0..10 {
        let backend = FileBackend::new(root.path().join(format!("appends-{run}")), "bench", "dev");
        let lease = backend.lock(&owner, ttl).await?;
        let entries: Vec<JournalEntry> = (0..20_000)
            .map(|n| JournalEntry::Remove {
                id: format!("resource-{n}"),
            })
            .collect();
        let start = Instant::now();
        for entry in &entries {
            backend.append(&lease, entry).await?;
        }
        appends.push(start.elapsed());
    }
    report("20,000 appends (small entries)", &appends);

    let backend = FileBackend::new(root.path().join("large"), "bench", "dev");
    let lease = backend.lock(&owner, ttl).await?;
    let mut snapshot = Snapshot::new("bench", "dev");
    for n in 0..10_000 {
        snapshot
            .resources
            .insert(format!("resource-{n:05}"), record(n));
    }
    let (mut commits, mut loads) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let start = Instant::now();
        backend.commit(&lease, &snapshot).await?;
        commits.push(start.elapsed());
        let start = Instant::now();
        let loaded = backend.load().await?;
        loads.push(start.elapsed());
        assert_eq!(loaded.map(|s| s.resources.len()), Some(10_000));
    }
    let size = std::fs::metadata(root.path().join("large/state.json")).map_or(0, |m| m.len());
    report(
        &format!("commit of 10,000 resources ({} KiB)", size / 1024),
        &commits,
    );
    report("load of 10,000 resources", &loads);
    Ok(())
}
