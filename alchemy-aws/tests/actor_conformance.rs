//! The actor conformance suite against DynamoDB-backed actors in MiniStack and in moto.

use alchemy::actor::conformance::{self, ConformanceActor, Report, Skipped, Target};
use alchemy::actor::Actors;
use alchemy::provider::{Context, Provider};
use alchemy_aws::actor::{ActorTableProps, ActorTableProvider, DynamoActors};
use alchemy_aws::testing::Emulator;

static SUITE: Actors<ConformanceActor> = Actors::new("conformance");

/// The tests a provider without SQL, alarms and WebSockets skips, with what it lacks.
const SKIPPED: [(&str, &str); 9] = [
    ("sql", "sql"),
    ("alarm_fires", "alarms"),
    ("alarm_replace_and_delete", "alarms"),
    ("alarm_retried_after_failure", "alarms"),
    ("websocket_echo", "websockets"),
    ("websocket_broadcast", "websockets"),
    ("websocket_attachments", "websockets"),
    ("websocket_close", "websockets"),
    ("websocket_refused", "websockets"),
];

/// Deploys the suite's table in `emulator` and runs the whole suite against it.
async fn run_all(emulator: &Emulator) -> Report {
    let ctx = Context {
        app: "actors".into(),
        stage: "test".into(),
        id: SUITE.id().into(),
        generation: 0,
    };
    let table = ActorTableProvider::from_sdk_config(&emulator.sdk_config())
        .create(&ctx, &ActorTableProps::default())
        .await
        .expect("create the suite's table");
    let actors = DynamoActors::new(&emulator.sdk_config(), move |_| table.name.clone());
    let namespace = actors
        .namespace(&SUITE)
        .await
        .expect("register the namespace");
    conformance::run_all(&Target::new(namespace, tokio::time::sleep)).await
}

fn check(report: &Report) {
    assert_eq!(report.provider, "aws");
    let skipped: Vec<Skipped> = SKIPPED
        .iter()
        .map(|&(test, missing)| Skipped { test, missing })
        .collect();
    assert_eq!(report.skipped, skipped, "{report}");
    assert_eq!(
        report.ran,
        [
            "counter",
            "concurrent_increments",
            "distinct_actors",
            "ids_round_trip",
            "malformed_and_unknown_ids",
            "handler_errors",
            "storage_bytes_and_json",
            "storage_list",
            "batch_is_atomic",
            "transactions",
        ],
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_in_ministack_passes_the_suite() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    check(&run_all(&emulator).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_in_moto_passes_the_suite() {
    let emulator = Emulator::moto().await.expect("start moto");
    check(&run_all(&emulator).await);
}
