//! The actor table provider driven through the real planner and apply engine against
//! MiniStack and moto, checked through the SDK directly rather than through the project's
//! state.

use alchemy::actor::conformance::ConformanceActor;
use alchemy::actor::{Actors, ByteStream};
use alchemy::plan::{Action, Plan};
use alchemy::provider::Providers;
use alchemy::stack::Stack;
use alchemy::state::{MemoryBackend, StateBackend};
use alchemy_aws::actor::{ActorTableOutput, ActorTableProps, ActorTableProvider, DynamoActors};
use alchemy_aws::testing::Emulator;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};

mod support;
use support::run;

const APP: &str = "tables";
const STAGE: &str = "test";

static COUNTERS: Actors<ConformanceActor> = Actors::new("counters");

fn providers(emulator: &Emulator) -> Providers {
    let mut providers = Providers::new();
    providers.register::<ActorTableProps>(
        "aws",
        ActorTableProvider::from_sdk_config(&emulator.sdk_config()),
    );
    providers
}

fn stack_of(id: &str, props: ActorTableProps) -> Stack {
    let mut stack = Stack::new(APP, STAGE);
    stack.add(id, props).expect("add the table");
    stack
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.id.clone(), c.action))
        .collect()
}

async fn output(backend: &MemoryBackend, id: &str) -> ActorTableOutput {
    let state = backend.load().await.unwrap().unwrap();
    serde_json::from_value(state.resources[id].output.clone().unwrap()).unwrap()
}

/// Whether the table `name` exists (and is not being deleted).
async fn exists(dynamodb: &aws_sdk_dynamodb::Client, name: &str) -> bool {
    match dynamodb.describe_table().table_name(name).send().await {
        Ok(out) => out.table().and_then(|t| t.table_status()) != Some(&TableStatus::Deleting),
        Err(_) => false,
    }
}

async fn create_destroy_and_a_noop_in_between(emulator: Emulator) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&emulator.sdk_config());
    let providers = providers(&emulator);
    let backend = MemoryBackend::new();
    let stack = stack_of("counters", ActorTableProps::default());

    let (plan, report) = run(&stack, &providers, &backend, false).await;
    assert_eq!(actions(&plan), [("counters".to_string(), Action::Create)]);
    assert!(report.succeeded(), "{report:?}");
    let table = output(&backend, "counters").await;
    assert_eq!(table.name, "tables-test-counters");
    assert!(
        table.arn.ends_with(":table/tables-test-counters"),
        "{}",
        table.arn
    );
    assert_eq!(table.region, alchemy_aws::testing::REGION);

    let described = dynamodb
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .expect("the table exists");
    let described = described.table().expect("a description");
    assert_eq!(described.table_status(), Some(&TableStatus::Active));
    let mut keys: Vec<(&str, &KeyType)> = described
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    keys.sort_by_key(|(name, _)| *name);
    assert_eq!(keys, [("pk", &KeyType::Hash), ("sk", &KeyType::Range)]);
    assert_eq!(
        described
            .billing_mode_summary()
            .and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );

    // The deployed table holds actors.
    let name = table.name.clone();
    let actors = DynamoActors::new(&emulator.sdk_config(), move |_| name.clone());
    let stub = actors
        .namespace(&COUNTERS)
        .await
        .unwrap()
        .get_by_name("deployed")
        .unwrap();
    let response = stub
        .fetch(
            http::Request::post("/counter")
                .body(ByteStream::empty())
                .unwrap(),
        )
        .await
        .expect("an increment");
    assert_eq!(response.into_body().collect(64).await.unwrap(), "1");

    let (plan, _) = run(&stack, &providers, &backend, false).await;
    assert!(!plan.has_changes(), "{:?}", actions(&plan));

    let (plan, report) = run(&stack, &providers, &backend, true).await;
    assert_eq!(actions(&plan), [("counters".to_string(), Action::Delete)]);
    assert!(report.succeeded(), "{report:?}");
    assert!(
        !exists(&dynamodb, &table.name).await,
        "the table outlived the destroy"
    );
}

async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
    partition: &str,
    sort: Option<&str>,
) {
    let key = |attribute: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    let string = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let mut create = dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(partition, KeyType::Hash))
        .attribute_definitions(string(partition));
    if let Some(sort) = sort {
        create = create
            .key_schema(key(sort, KeyType::Range))
            .attribute_definitions(string(sort));
    }
    create.send().await.expect("create a table by hand");
}

async fn an_existing_table_is_adopted_and_a_foreign_one_refused(emulator: Emulator) {
    let dynamodb = aws_sdk_dynamodb::Client::new(&emulator.sdk_config());
    let providers = providers(&emulator);

    create_table(&dynamodb, "existing-actors", "pk", Some("sk")).await;
    let backend = MemoryBackend::new();
    let stack = stack_of(
        "adopted",
        ActorTableProps {
            table_name: Some("existing-actors".into()),
        },
    );
    let (planned, report) = run(&stack, &providers, &backend, false).await;
    assert_eq!(actions(&planned), [("adopted".to_string(), Action::Create)]);
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(output(&backend, "adopted").await.name, "existing-actors");
    let tables = dynamodb.list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), ["existing-actors"]);

    create_table(&dynamodb, "orders", "order_id", None).await;
    let backend = MemoryBackend::new();
    let stack = stack_of(
        "foreign",
        ActorTableProps {
            table_name: Some("orders".into()),
        },
    );
    let (planned, report) = run(&stack, &providers, &backend, false).await;
    assert_eq!(actions(&planned), [("foreign".to_string(), Action::Create)]);
    assert!(!report.succeeded(), "a table with other keys was adopted");
    let error = format!("{report:?}");
    assert!(error.contains("`orders`"), "{error}");
    assert!(error.contains("actor layout"), "{error}");
}

macro_rules! on_both {
    ($($check:ident),* $(,)?) => {
        mod ministack {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let emulator = alchemy_aws::testing::Emulator::ministack().await.expect("start MiniStack");
                    super::$check(emulator).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let emulator = alchemy_aws::testing::Emulator::moto().await.expect("start moto");
                    super::$check(emulator).await;
                }
            )*
        }
    };
}

on_both![
    create_destroy_and_a_noop_in_between,
    an_existing_table_is_adopted_and_a_foreign_one_refused,
];
