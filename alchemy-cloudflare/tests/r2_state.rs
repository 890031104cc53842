//! The state backend on R2, from outside Cloudflare: the state Worker (`tests/state-worker`)
//! serves its R2 bucket with `alchemy::bucket::remote`; it is built to wasm and run in workerd,
//! and this process keeps stages' state in it through `RemoteBucket`, as a deploy on a laptop
//! or in CI would.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use alchemy::bucket::remote::RemoteBucket;
use alchemy::bucket::{conformance, BucketClient, BucketError};
use alchemy::state::{BucketBackend, LeaseOwner, StateBackend};
use alchemy_cloudflare::build::{build_worker, BuildOptions, WorkerBundle};
use alchemy_cloudflare::testing::{WorkerConfig, Workerd};

const TOKEN: &str = "r2-state-test-token";

/// The state Worker, built once per test run.
fn bundle() -> WorkerBundle {
    static BUNDLE: Mutex<Option<WorkerBundle>> = Mutex::new(None);
    let mut slot = BUNDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(bundle) = slot.as_ref() {
        return bundle.clone();
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/state-worker");
    let bundle = build_worker(&crate_dir, &BuildOptions::default())
        .unwrap_or_else(|error| panic!("building the state Worker failed: {error}"));
    *slot = Some(bundle.clone());
    bundle
}

/// The state Worker, built and running in workerd with `STATE_TOKEN` set to `token`,
/// persisting under `dir`.
fn start(dir: &Path, token: &str) -> Workerd {
    let persist = dir.join("state");
    let config = WorkerConfig::new("alchemy-state")
        .bucket("state")
        .secret("STATE_TOKEN", token);
    Workerd::start(&bundle(), &config, &persist)
        .unwrap_or_else(|error| panic!("starting workerd failed: {error}"))
}

/// Connected clients of the Worker, one per simulated process.
async fn clients(workerd: &Workerd, count: usize) -> Vec<BucketClient> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let client = RemoteBucket::client(&workerd.url(), TOKEN)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "connecting failed: {error}\nworkerd said:\n{}",
                    workerd.output()
                )
            });
        clients.push(client);
    }
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_backend_runs_on_r2_through_the_worker() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let workerd = start(dir.path(), TOKEN);
    let clients = clients(&workerd, 16).await;
    assert_eq!(clients[0].provider(), "r2");

    // The bucket protocol over R2: the bucket suite, through HTTP, against the Worker's R2.
    let report = conformance::run_all(&clients[0]).await;
    println!("r2 through the bucket protocol: {report}");
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.test).collect();
    // R2 cannot make a multipart upload conditional; everything else runs.
    assert_eq!(skipped, ["multipart_conditional"], "{report}");
    assert_eq!(report.ran.len(), 27, "{report}");

    // The state backend suite, every handle on a connection of its own.
    let next = AtomicUsize::new(0);
    alchemy::state::conformance::run_all("r2", |stage| {
        let n = next.fetch_add(1, Ordering::Relaxed);
        BucketBackend::new(clients[n % clients.len()].clone(), "app", stage)
    })
    .await;

    // Two deploys of one stage from two processes, again and again: exactly one takes the lease.
    let first = BucketBackend::new(clients[1].clone(), "app", "race");
    let second = BucketBackend::new(clients[2].clone(), "app", "race");
    let owner = |user: &str| LeaseOwner {
        user: user.into(),
        ..LeaseOwner::current()
    };
    let (first_owner, second_owner) = (owner("first"), owner("second"));
    let ttl = Duration::from_secs(60);
    for round in 0..5 {
        let (a, b) = futures::join!(
            first.lock(&first_owner, ttl),
            second.lock(&second_owner, ttl)
        );
        let (lease, winner, loser) = match (a, b) {
            (Ok(lease), Err(loss)) => (lease, &first, loss),
            (Err(loss), Ok(lease)) => (lease, &second, loss),
            other => panic!("round {round}: exactly one deploy must take the lease: {other:?}"),
        };
        assert!(
            matches!(loser, alchemy::Error::Locked { .. }),
            "round {round}: the loser is told the stage is locked: {loser}"
        );
        winner.unlock(&lease).await.expect("unlock");
    }

    // The same bucket as a stage configures it: `[stages.NAME.state] provider = "cloudflare"`.
    std::env::set_var("R2_STATE_TEST_TOKEN", TOKEN);
    let configured = alchemy::cloud::Cloud::state_bucket(
        &alchemy_cloudflare::Cloudflare,
        &serde_json::json!({ "url": workerd.url(), "token_env": "R2_STATE_TEST_TOKEN" }),
    )
    .await
    .expect("the configured state bucket connects");
    assert_eq!(configured.provider(), "r2");
    let backend = BucketBackend::new(configured, "app", "configured");
    let lease = backend
        .lock(&owner("configured"), ttl)
        .await
        .expect("a lease");
    assert!(matches!(
        first_stage_lock(&clients[3]).await,
        Err(alchemy::Error::Locked { .. })
    ));
    backend.unlock(&lease).await.expect("unlock");
    workerd.stop();
}

/// Tries to lock stage `configured` of `app` through `client`.
async fn first_stage_lock(client: &BucketClient) -> alchemy::Result<alchemy::state::Lease> {
    BucketBackend::new(client.clone(), "app", "configured")
        .lock(&LeaseOwner::current(), Duration::from_secs(60))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_refuses_a_wrong_token() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let workerd = start(dir.path(), TOKEN);
    let error = RemoteBucket::connect(&workerd.url(), "not-the-token")
        .await
        .expect_err("a wrong token is refused");
    assert!(
        matches!(
            error,
            BucketError::Backend {
                provider: "remote",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("bearer token is wrong"), "{message}");
    assert!(message.contains(&workerd.url()), "{message}");
    workerd.stop();
}
