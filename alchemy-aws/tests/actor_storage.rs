//! DynamoDB's limits as DynamoDB-backed actors declare and enforce them, and `delete_all`
//! over more keys than one transaction can hold.

use std::collections::HashMap;

use alchemy::actor::{
    Actor, ActorContext, ActorError, ActorNamespace, Actors, Batch, ByteStream,
    Result as ActorResult,
};
use alchemy::provider::{Context, Provider};
use alchemy_aws::actor::{ActorTableProps, ActorTableProvider, DynamoActors};
use alchemy_aws::testing::Emulator;
use aws_sdk_dynamodb::types::AttributeValue;
use http::{Request, Response};

struct Filler {
    ctx: ActorContext,
}

fn params(req: &Request<ByteStream>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

impl Actor for Filler {
    async fn init(ctx: ActorContext) -> ActorResult<Self> {
        Ok(Filler { ctx })
    }

    async fn fetch(&self, req: Request<ByteStream>) -> ActorResult<Response<ByteStream>> {
        let storage = self.ctx.storage();
        let params = params(&req);
        let number = |name: &str| -> usize { params[name].parse().expect("a number") };
        let answer = match req.uri().path() {
            // `count` keys of `size` bytes under `prefix`, in one batch.
            "/fill" => {
                let mut batch = Batch::new();
                for i in 0..number("count") {
                    let key = format!("{}{i:03}", params["prefix"]);
                    batch = batch.put_bytes(&key, vec![b'x'; number("size")]);
                }
                storage.batch(batch).await?;
                "filled".to_string()
            }
            "/put" => {
                storage.put_bytes("one", vec![b'y'; number("size")]).await?;
                "stored".to_string()
            }
            "/size" => storage
                .get_bytes("one")
                .await?
                .map_or(0, |value| value.len())
                .to_string(),
            "/count" => storage.list_bytes("").await?.len().to_string(),
            "/delete-all" => {
                storage.delete_all().await?;
                "deleted".to_string()
            }
            other => return Err(ActorError::handler(format!("no route {other}"))),
        };
        Ok(Response::new(ByteStream::from(answer)))
    }
}

static FILLERS: Actors<Filler> = Actors::new("fillers");

async fn setup(emulator: &Emulator) -> (String, ActorNamespace<Filler>) {
    let ctx = Context {
        app: "actors".into(),
        stage: "test".into(),
        id: FILLERS.id().into(),
        generation: 0,
    };
    let table = ActorTableProvider::from_sdk_config(&emulator.sdk_config())
        .create(&ctx, &ActorTableProps::default())
        .await
        .expect("create the table")
        .name;
    let name = table.clone();
    let namespace = DynamoActors::new(&emulator.sdk_config(), move |_| name.clone())
        .namespace(&FILLERS)
        .await
        .expect("namespace");
    (table, namespace)
}

async fn call(namespace: &ActorNamespace<Filler>, actor: &str, uri: &str) -> ActorResult<String> {
    let stub = namespace.get_by_name(actor)?;
    let response = stub
        .fetch(Request::post(uri).body(ByteStream::empty())?)
        .await?;
    let body = response.into_body().collect(1024).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The sort keys of every item of actor `name` in `table`.
async fn items(
    emulator: &Emulator,
    table: &str,
    namespace: &ActorNamespace<Filler>,
    name: &str,
) -> Vec<String> {
    let id = namespace.id_from_name(name).unwrap().to_string();
    let dynamodb = aws_sdk_dynamodb::Client::new(&emulator.sdk_config());
    let mut keys = Vec::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(id.clone()))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("query");
        keys.extend(
            page.items()
                .iter()
                .filter_map(|item| item.get("sk")?.as_s().ok().cloned()),
        );
        match page.last_evaluated_key() {
            Some(last) if !last.is_empty() => start = Some(last.clone()),
            _ => return keys,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_limits_are_declared_and_enforced() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let (_table, namespace) = setup(&emulator).await;
    let capabilities = namespace.capabilities();
    assert_eq!(capabilities.max_key_bytes, 1024 - 19);
    assert_eq!(capabilities.max_value_bytes, 400 * 1024 - 2048);
    assert!(!capabilities.sql && !capabilities.alarms && !capabilities.websockets);

    // The largest value goes in and comes back; one byte more is refused.
    let max = capabilities.max_value_bytes;
    call(&namespace, "values", &format!("/put?size={max}"))
        .await
        .unwrap();
    assert_eq!(
        call(&namespace, "values", "/size").await.unwrap(),
        max.to_string()
    );
    let error = call(&namespace, "values", &format!("/put?size={}", max + 1))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&format!("{} bytes", max + 1)),
        "{error}"
    );

    // 99 keys in one turn commit; 100 do not fit in one transaction, and nothing is written.
    call(&namespace, "keys", "/fill?count=99&size=10&prefix=a")
        .await
        .unwrap();
    assert_eq!(call(&namespace, "keys", "/count").await.unwrap(), "99");
    let error = call(&namespace, "many", "/fill?count=100&size=10&prefix=a")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("more than the 99"), "{error}");
    assert_eq!(call(&namespace, "many", "/count").await.unwrap(), "0");

    // Eleven values of 390,000 bytes pass 4 MB: refused, nothing written.
    let error = call(&namespace, "bulk", "/fill?count=11&size=390000&prefix=b")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("4 MB"), "{error}");
    assert_eq!(call(&namespace, "bulk", "/count").await.unwrap(), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_all_removes_more_keys_than_one_transaction_holds() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let (table, namespace) = setup(&emulator).await;
    for prefix in ["a", "b", "c"] {
        call(
            &namespace,
            "full",
            &format!("/fill?count=60&size=100&prefix={prefix}"),
        )
        .await
        .unwrap();
    }
    assert_eq!(call(&namespace, "full", "/count").await.unwrap(), "180");
    assert_eq!(
        items(&emulator, &table, &namespace, "full").await.len(),
        181
    );

    call(&namespace, "full", "/delete-all").await.unwrap();
    assert_eq!(call(&namespace, "full", "/count").await.unwrap(), "0");
    // The old generation's items are gone from the table, not only hidden.
    assert_eq!(items(&emulator, &table, &namespace, "full").await, ["meta"]);

    call(&namespace, "full", "/fill?count=2&size=1&prefix=d")
        .await
        .unwrap();
    assert_eq!(call(&namespace, "full", "/count").await.unwrap(), "2");
}
