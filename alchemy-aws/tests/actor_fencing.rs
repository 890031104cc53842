//! Fencing: a turn whose lease was taken over, by expiry or by force, cannot commit, and
//! none of its writes become visible; a slow turn that renews its lease keeps it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alchemy::actor::{
    Actor, ActorContext, ActorError, ActorNamespace, Actors, ByteStream, Result as ActorResult,
};
use alchemy::provider::{Context, Provider};
use alchemy_aws::actor::{ActorTableProps, ActorTableProvider, DynamoActors, DynamoActorsOptions};
use alchemy_aws::testing::Emulator;
use aws_sdk_dynamodb::types::AttributeValue;
use http::{Request, Response, StatusCode};
use tokio::sync::Notify;

/// A handler that stops half-way, after a write, until the test lets it go on.
struct Gate {
    entered: Notify,
    open: Notify,
}

impl Gate {
    const fn new() -> Self {
        Gate {
            entered: Notify::const_new(),
            open: Notify::const_new(),
        }
    }
}

/// One gate per test, as tests run concurrently.
static GATES: [Gate; 6] = [
    Gate::new(),
    Gate::new(),
    Gate::new(),
    Gate::new(),
    Gate::new(),
    Gate::new(),
];

struct Holder {
    ctx: ActorContext,
}

fn param(req: &Request<ByteStream>, name: &str) -> String {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
        .unwrap_or_default()
}

impl Actor for Holder {
    async fn init(ctx: ActorContext) -> ActorResult<Self> {
        Ok(Holder { ctx })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> ActorResult<Response<ByteStream>> {
        let storage = self.ctx.storage();
        let key = param(&req, "key");
        match req.uri().path() {
            "/hold" => {
                let gate = &GATES[param(&req, "gate").parse::<usize>().expect("a gate")];
                storage.put_bytes(&key, "from the old holder").await?;
                gate.entered.notify_one();
                gate.open.notified().await;
                Ok(Response::new(ByteStream::from("held")))
            }
            "/put" => {
                storage.put_bytes(&key, "from the new holder").await?;
                Ok(Response::new(ByteStream::from("stored")))
            }
            _ => match storage.get_bytes(&key).await? {
                Some(value) => Ok(Response::new(ByteStream::from(value))),
                None => Ok(Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(ByteStream::empty())?),
            },
        }
    }
}

static HOLDERS: Actors<Holder> = Actors::new("holders");

async fn table(emulator: &Emulator) -> String {
    let ctx = Context {
        app: "actors".into(),
        stage: "test".into(),
        id: HOLDERS.id().into(),
        generation: 0,
    };
    ActorTableProvider::from_sdk_config(&emulator.sdk_config())
        .create(&ctx, &ActorTableProps::default())
        .await
        .expect("create the table")
        .name
}

/// A runtime of its own: its own client, and no in-process queue shared with another.
async fn runtime(
    emulator: &Emulator,
    table: &str,
    options: DynamoActorsOptions,
) -> ActorNamespace<Holder> {
    let table = table.to_string();
    DynamoActors::new(&emulator.sdk_config(), move |_| table.clone())
        .with_options(options)
        .namespace(&HOLDERS)
        .await
        .expect("namespace")
}

async fn call(namespace: &ActorNamespace<Holder>, name: &str, uri: &str) -> ActorResult<String> {
    let stub = namespace.get_by_name(name)?;
    let method = if uri.starts_with("/get") {
        "GET"
    } else {
        "POST"
    };
    let response = stub
        .fetch(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(ByteStream::empty())?,
        )
        .await?;
    let status = response.status();
    let body = response.into_body().collect(1024).await?;
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(if status == StatusCode::NOT_FOUND {
        "<missing>".to_string()
    } else {
        body
    })
}

fn assert_lease_lost(result: ActorResult<String>) {
    match result {
        Err(ActorError::Backend { message, .. }) => {
            assert!(message.contains("lost its lease"), "{message}");
            assert!(message.contains("holders/"), "{message}");
        }
        other => panic!("the old holder's turn gave {other:?}, not a lost lease"),
    }
}

async fn a_holder_whose_lease_expired_and_was_taken_over_cannot_commit(
    emulator: Emulator,
    gate: usize,
) {
    let table = table(&emulator).await;
    let lease = Duration::from_millis(300);
    // A holder that stops renewing, as a frozen or dead process does.
    let frozen = DynamoActorsOptions::default().lease(lease).renew(false);
    let old = Arc::new(runtime(&emulator, &table, frozen).await);
    let new = runtime(&emulator, &table, DynamoActorsOptions::default()).await;

    let holding = tokio::spawn({
        let old = old.clone();
        async move { call(&old, "expiry", &format!("/hold?gate={gate}&key=old")).await }
    });
    GATES[gate].entered.notified().await;
    // The old holder is inside its turn; once its lease has expired, another caller takes it.
    tokio::time::sleep(lease * 3).await;
    assert_eq!(
        call(&new, "expiry", "/put?key=new").await.unwrap(),
        "stored"
    );
    GATES[gate].open.notify_one();
    assert_lease_lost(holding.await.expect("join"));

    assert_eq!(
        call(&new, "expiry", "/get?key=new").await.unwrap(),
        "from the new holder"
    );
    assert_eq!(
        call(&new, "expiry", "/get?key=old").await.unwrap(),
        "<missing>",
        "a write of the holder whose lease was taken over became visible"
    );
    // The old runtime works again, with a fresh lease and a fresh instance.
    assert_eq!(
        call(&old, "expiry", "/get?key=new").await.unwrap(),
        "from the new holder"
    );
}

async fn a_holder_whose_lease_was_taken_by_force_cannot_commit(emulator: Emulator, gate: usize) {
    let table = table(&emulator).await;
    let holder = Arc::new(runtime(&emulator, &table, DynamoActorsOptions::default()).await);
    let id = holder.id_from_name("forced").unwrap().to_string();

    let holding = tokio::spawn({
        let holder = holder.clone();
        async move { call(&holder, "forced", &format!("/hold?gate={gate}&key=old")).await }
    });
    GATES[gate].entered.notified().await;
    // Another holder takes the (unexpired) lease by force: a new fencing token.
    let dynamodb = aws_sdk_dynamodb::Client::new(&emulator.sdk_config());
    let key = HashMap::from([
        ("pk".to_string(), AttributeValue::S(id.clone())),
        ("sk".to_string(), AttributeValue::S("meta".into())),
    ]);
    dynamodb
        .update_item()
        .table_name(&table)
        .set_key(Some(key))
        .update_expression("SET holder = :other ADD fence :one")
        .expression_attribute_values(":other", AttributeValue::S("someone-else".into()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("take the lease over");
    GATES[gate].open.notify_one();
    assert_lease_lost(holding.await.expect("join"));

    let items = dynamodb
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(id))
        .consistent_read(true)
        .send()
        .await
        .expect("query the actor's items");
    let sort_keys: Vec<&str> = items
        .items()
        .iter()
        .filter_map(|item| item.get("sk")?.as_s().ok().map(String::as_str))
        .collect();
    assert_eq!(
        sort_keys,
        ["meta"],
        "the holder whose lease was taken over wrote something"
    );
}

async fn a_slow_turn_that_renews_its_lease_keeps_it(emulator: Emulator, gate: usize) {
    let table = table(&emulator).await;
    let lease = Duration::from_millis(300);
    let options = DynamoActorsOptions::default().lease(lease);
    let slow = Arc::new(runtime(&emulator, &table, options.clone()).await);
    let other = Arc::new(runtime(&emulator, &table, options).await);

    let holding = tokio::spawn({
        let slow = slow.clone();
        async move { call(&slow, "renewed", &format!("/hold?gate={gate}&key=old")).await }
    });
    GATES[gate].entered.notified().await;
    // Another caller comes while the slow turn runs, and waits for it.
    let waiting = tokio::spawn({
        let other = other.clone();
        async move { call(&other, "renewed", "/put?key=new").await }
    });
    // Five leases later, the slow turn still holds its lease, renewed, and commits.
    tokio::time::sleep(lease * 5).await;
    GATES[gate].open.notify_one();
    assert_eq!(holding.await.expect("join").expect("the slow turn"), "held");
    assert_eq!(
        waiting.await.expect("join").expect("the waiting turn"),
        "stored"
    );
    assert_eq!(
        call(&other, "renewed", "/get?key=old").await.unwrap(),
        "from the old holder"
    );
    assert_eq!(
        call(&other, "renewed", "/get?key=new").await.unwrap(),
        "from the new holder"
    );
}

macro_rules! on_both {
    ($($check:ident: $ministack_gate:literal, $moto_gate:literal),* $(,)?) => {
        /// The lease in MiniStack's DynamoDB.
        mod ministack {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let emulator = alchemy_aws::testing::Emulator::ministack().await.expect("start MiniStack");
                    super::$check(emulator, $ministack_gate).await;
                }
            )*
        }
        /// A second opinion on the transaction semantics: moto's DynamoDB.
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let emulator = alchemy_aws::testing::Emulator::moto().await.expect("start moto");
                    super::$check(emulator, $moto_gate).await;
                }
            )*
        }
    };
}

on_both![
    a_holder_whose_lease_expired_and_was_taken_over_cannot_commit: 0, 1,
    a_holder_whose_lease_was_taken_by_force_cannot_commit: 2, 3,
    a_slow_turn_that_renews_its_lease_keeps_it: 4, 5,
];
