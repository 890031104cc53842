//! One actor, 16 operating-system processes, 50 increments each: exactly 800.
//!
//! Each process has its own SDK client and its own `DynamoActors`, configured from the
//! standard environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, static credentials), so nothing
//! in one process serialises the turns: only the lease in DynamoDB does. The test binary is
//! its own worker: started with `ALCHEMY_ACTOR_WORKER` set, it increments and reports the
//! counts it saw on standard output.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alchemy::actor::conformance::ConformanceActor;
use alchemy::actor::{Actors, ByteStream};
use alchemy::provider::{Context, Provider};
use alchemy_aws::actor::{ActorTableProps, ActorTableProvider, DynamoActors, DynamoActorsOptions};
use alchemy_aws::testing::{Emulator, REGION};
use http::Request;

static COUNTERS: Actors<ConformanceActor> = Actors::new("counters");

const PROCESSES: usize = 16;
const INCREMENTS: usize = 50;
const ACTOR: &str = "shared-counter";
/// Set in a worker's environment to the table name.
const WORKER: &str = "ALCHEMY_ACTOR_WORKER";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match std::env::var(WORKER) {
        Ok(table) => runtime.block_on(worker(table)),
        Err(_) => {
            println!("test sixteen_processes_increment_one_actor_exactly_800_times ...");
            runtime.block_on(sixteen_processes_increment_one_actor_exactly_800_times());
            println!("test sixteen_processes_increment_one_actor_exactly_800_times ... ok");
        }
    }
}

/// Patient options: the bound on waiting for the lease is generous, as 16 processes contend.
fn options() -> DynamoActorsOptions {
    DynamoActorsOptions::default().busy_timeout(Duration::from_secs(600))
}

async fn increment(actors: &DynamoActors) -> u64 {
    let counters = actors.namespace(&COUNTERS).await.expect("namespace");
    let stub = counters.get_by_name(ACTOR).expect("id");
    let response = stub
        .fetch(
            Request::post("/counter")
                .body(ByteStream::empty())
                .expect("request"),
        )
        .await
        .unwrap_or_else(|e| panic!("increment failed: {e}"));
    let body = response.into_body().collect(64).await.expect("body");
    std::str::from_utf8(&body)
        .expect("utf-8")
        .parse()
        .expect("a count")
}

/// A worker process: 50 increments, each seeing a larger count than the one before.
async fn worker(table: String) {
    let actors = DynamoActors::from_env(move |_| table.clone())
        .await
        .with_options(options());
    let mut seen = Vec::with_capacity(INCREMENTS);
    for _ in 0..INCREMENTS {
        let count = increment(&actors).await;
        if let Some(&last) = seen.last() {
            assert!(count > last, "the counter went from {last} to {count}");
        }
        seen.push(count);
    }
    println!("{}", serde_json::to_string(&seen).expect("json"));
}

async fn sixteen_processes_increment_one_actor_exactly_800_times() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let ctx = Context {
        app: "actors".into(),
        stage: "test".into(),
        id: COUNTERS.id().into(),
        generation: 0,
    };
    let table = ActorTableProvider::from_sdk_config(&emulator.sdk_config())
        .create(&ctx, &ActorTableProps::default())
        .await
        .expect("create the table");

    let exe = std::env::current_exe().expect("the test binary's path");
    let started = Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .env(WORKER, &table.name)
                .env("AWS_ENDPOINT_URL", emulator.endpoint())
                .env("AWS_REGION", REGION)
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env_remove("AWS_PROFILE")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a worker process")
        })
        .collect();
    let mut counts = Vec::with_capacity(PROCESSES * INCREMENTS);
    for child in children {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("wait for a worker");
        assert!(
            output.status.success(),
            "a worker failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().last().expect("a worker's report");
        let seen: Vec<u64> = serde_json::from_str(line).expect("a list of counts");
        assert_eq!(seen.len(), INCREMENTS);
        counts.extend(seen);
    }
    let elapsed = started.elapsed();

    // Every increment saw a count of its own: none was lost, none counted twice.
    counts.sort_unstable();
    let expected: Vec<u64> = (1..=(PROCESSES * INCREMENTS) as u64).collect();
    assert_eq!(counts, expected, "increments overlapped or were lost");

    let actors = DynamoActors::new(&emulator.sdk_config(), move |_| table.name.clone());
    let counters = actors.namespace(&COUNTERS).await.expect("namespace");
    let stub = counters.get_by_name(ACTOR).expect("id");
    let response = stub
        .fetch(Request::get("/counter").body(ByteStream::empty()).unwrap())
        .await
        .expect("read the counter");
    let total = response.into_body().collect(64).await.expect("body");
    assert_eq!(total.as_ref(), b"800");
    println!(
        "{PROCESSES} processes x {INCREMENTS} increments: {} turns in {elapsed:.1?} ({:.0} turns/s)",
        PROCESSES * INCREMENTS,
        (PROCESSES * INCREMENTS) as f64 / elapsed.as_secs_f64()
    );
}
