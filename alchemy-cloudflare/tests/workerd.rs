//! The Cloudflare runtime in real workerd: the test Worker (`tests/worker-app`) is built to
//! wasm, started with `wrangler dev` on a loopback port, and driven over HTTP and WebSockets.
//!
//! The conformance suites run inside the Worker (`POST /conformance/...`): they take the
//! neutral clients (`BucketClient` over `R2Bucket`, `ActorNamespace` over `DurableObjects`),
//! which exist only in the Worker, so that is where the R2 and Durable Object adapters are
//! exercised; driving them from here would test an HTTP proxy instead. The load, eviction and
//! alarm tests drive the Worker from outside, over real sockets.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use alchemy_aws::testing::{Emulator, REGION};
use alchemy_cloudflare::build::{build_worker, BuildOptions, WorkerBundle};
use alchemy_cloudflare::s3::{S3Config, UNSUPPORTED_VAR};
use alchemy_cloudflare::testing::{WorkerConfig, Workerd};
use alchemy_http::client::Client;
use alchemy_http::websocket::connect;
use alchemy_http::Message;
use alchemy_stream::ByteStream;
use http::{Method, Request, StatusCode};
use serde_json::Value;

/// The test Worker, built once per test run.
fn bundle() -> WorkerBundle {
    static BUNDLE: Mutex<Option<WorkerBundle>> = Mutex::new(None);
    let mut slot = BUNDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(bundle) = slot.as_ref() {
        return bundle.clone();
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/worker-app");
    let bundle = build_worker(&crate_dir, &BuildOptions::default())
        .unwrap_or_else(|error| panic!("building the test Worker failed: {error}"));
    println!("test Worker: {}", bundle.size);
    *slot = Some(bundle.clone());
    bundle
}

fn config() -> WorkerConfig {
    WorkerConfig::new("alchemy-test")
        .bucket("conformance")
        .actors("suite", "SuiteObject")
        .actors("rooms", "RoomObject")
}

/// workerd running the test Worker, persisting under `dir`.
fn start(dir: &Path) -> Workerd {
    start_with(dir, &config())
}

/// workerd running the test Worker bound as `config` says, persisting under `dir`.
fn start_with(dir: &Path, config: &WorkerConfig) -> Workerd {
    Workerd::start(&bundle(), config, dir)
        .unwrap_or_else(|error| panic!("starting workerd failed: {error}"))
}

async fn call(client: &Client, method: Method, path: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method.clone())
        .uri(path)
        .body(ByteStream::empty())
        .expect("request");
    let response = client
        .send(req)
        .await
        .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
    let status = response.status();
    let body = response
        .into_body()
        .collect(16 << 20)
        .await
        .unwrap_or_else(|error| panic!("{method} {path}: reading the body: {error}"));
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn call_json(workerd: &Workerd, client: &Client, method: Method, path: &str) -> Value {
    let (status, body) = call(client, method.clone(), path).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{method} {path} answered {body}\nworkerd said:\n{}",
        workerd.output()
    );
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("{method} {path}: {error} in {body}"))
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| match item {
                    Value::String(name) => name.clone(),
                    other => format!("{} (no {})", other["test"], other["missing"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let persist = dir.path().join("state");
    (dir, persist)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_conformance_suite_on_r2() {
    let (_dir, persist) = scratch();
    let workerd = start(&persist);
    let client = Client::new(&workerd.url()).expect("client");
    let report = call_json(&workerd, &client, Method::POST, "/conformance/bucket").await;
    let ran = names(&report["ran"]);
    let skipped = names(&report["skipped"]);
    println!("r2: {} tests ran: {ran:?}; skipped: {skipped:?}", ran.len());
    assert_eq!(report["provider"], "r2");
    // R2 cannot make a multipart upload conditional; everything else runs.
    assert_eq!(
        skipped,
        ["\"multipart_conditional\" (no \"multipart_conditional\")"]
    );
    assert_eq!(ran.len(), 27, "{ran:?}");
    workerd.stop();
}

/// The bucket `s3-photos` placed in S3 (in MiniStack on loopback) as a stage on AWS places it:
/// its name, region and endpoint as variables, the access key as secrets. The suite runs in
/// the Worker, through `CloudflareRuntime::bucket`, SigV4 and `fetch`.
///
/// `wrangler dev` lets the Worker's `fetch` reach `127.0.0.1` (its local mode allows private
/// addresses), so the generated configuration needs no setting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_conformance_suite_on_s3_over_fetch() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let created = emulator
        .create_bucket("workerd")
        .await
        .expect("create the test bucket");
    let config = config()
        .var(S3Config::bucket_var("s3-photos"), created.bucket())
        .var("AWS_REGION", REGION)
        .var("AWS_ENDPOINT_URL", emulator.endpoint())
        // MiniStack copies regardless of conditions: the store is told so, and declares it.
        .var(UNSUPPORTED_VAR, "copy_conditional")
        .secret("AWS_ACCESS_KEY_ID", "test")
        .secret("AWS_SECRET_ACCESS_KEY", "test");
    let (_dir, persist) = scratch();
    let workerd = start_with(&persist, &config);
    let client = Client::new(&workerd.url()).expect("client");
    let report = call_json(&workerd, &client, Method::POST, "/conformance/s3").await;
    let ran = names(&report["ran"]);
    let skipped = names(&report["skipped"]);
    println!(
        "s3 over fetch: {} tests ran: {ran:?}; skipped: {skipped:?}",
        ran.len()
    );
    assert_eq!(report["provider"], "s3");
    assert_eq!(skipped, ["\"copy_conditional\" (no \"copy_conditional\")"]);
    assert_eq!(ran.len(), 27, "{ran:?}");
    workerd.stop();
}

/// `CloudflareRuntime::bucket` takes the R2 binding when there is one, the S3 variables
/// otherwise, and without either fails naming both ways; `Init::var` reads plain and secret
/// text alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_bind_to_r2_or_s3_or_fail_naming_both() {
    let config = config()
        .var("GREETING", "hello")
        .var(S3Config::bucket_var("s3-photos"), "photos-in-s3")
        .var("AWS_REGION", "eu-west-1")
        .secret("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .secret("AWS_SECRET_ACCESS_KEY", "secret");
    let (_dir, persist) = scratch();
    let workerd = start_with(&persist, &config);
    let client = Client::new(&workerd.url()).expect("client");
    assert_eq!(
        call(&client, Method::GET, "/buckets/conformance").await,
        (StatusCode::OK, "r2".to_string())
    );
    assert_eq!(
        call(&client, Method::GET, "/buckets/s3-photos").await,
        (StatusCode::OK, "s3".to_string())
    );
    let (status, error) = call(&client, Method::GET, "/buckets/nowhere").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    for needle in [
        "bucket `nowhere`",
        "R2 binding `NOWHERE`",
        "`r2_buckets`",
        "`ALCHEMY_BUCKET_NOWHERE`",
        "AWS_ACCESS_KEY_ID",
    ] {
        assert!(error.contains(needle), "{error:?} lacks {needle:?}");
    }
    for (name, answer) in [
        ("GREETING", (StatusCode::OK, "hello".to_string())),
        (
            "AWS_ACCESS_KEY_ID",
            (StatusCode::OK, "AKIDEXAMPLE".to_string()),
        ),
        (
            "NEVER_SET",
            (StatusCode::NOT_FOUND, "no variable NEVER_SET".to_string()),
        ),
    ] {
        assert_eq!(
            call(&client, Method::GET, &format!("/vars/{name}")).await,
            answer,
            "{name}"
        );
    }
    workerd.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_conformance_suite_on_durable_objects() {
    let (_dir, persist) = scratch();
    let workerd = start(&persist);
    let client = Client::new(&workerd.url()).expect("client");
    let report = call_json(&workerd, &client, Method::POST, "/conformance/actors").await;
    let ran = names(&report["ran"]);
    println!("durable objects: {} tests ran: {ran:?}", ran.len());
    assert_eq!(report["provider"], "cloudflare");
    assert_eq!(names(&report["skipped"]), Vec::<String>::new());
    assert_eq!(ran.len(), 19, "{ran:?}");
    workerd.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_times_one_hundred_increments_on_one_object() {
    const CLIENTS: usize = 64;
    const INCREMENTS: u64 = 100;
    let (_dir, persist) = scratch();
    let workerd = start(&persist);
    let client = Client::new(&workerd.url()).expect("client");
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut last = 0u64;
                for _ in 0..INCREMENTS {
                    let (status, body) = call(&client, Method::POST, "/counter/shared").await;
                    assert_eq!(status, StatusCode::OK, "{body}");
                    let count: u64 = body.trim().parse().expect("a count");
                    assert!(count > last, "the counter went from {last} to {count}");
                    last = count;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task");
    }
    let elapsed = started.elapsed();
    let total = call_json(&workerd, &client, Method::GET, "/counter/shared").await;
    println!(
        "{} increments in {elapsed:.2?} ({:.0} requests/s)",
        CLIENTS as u64 * INCREMENTS,
        (CLIENTS as u64 * INCREMENTS) as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(total, CLIENTS as u64 * INCREMENTS);
    workerd.stop();
}

/// The next text message on `socket`.
async fn next_text(socket: &mut alchemy_http::websocket::WebSocket) -> String {
    match socket.recv().await {
        Some(Ok(Message::Text(text))) => text,
        other => panic!("expected a text message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_survives_the_eviction_of_its_object_with_storage_intact() {
    let (_dir, persist) = scratch();
    let workerd = start(&persist);
    let client = Client::new(&workerd.url()).expect("client");
    let ws_url = format!("ws://{}/rooms/lobby/ws", workerd.addr());
    let mut ada = connect(&format!("{ws_url}?name=ada"))
        .await
        .expect("ada connects");
    assert_eq!(next_text(&mut ada).await, "welcome ada, generation 1");
    let mut bob = connect(&format!("{ws_url}?name=bob"))
        .await
        .expect("bob connects");
    assert_eq!(next_text(&mut bob).await, "welcome bob, generation 1");
    ada.send("hello").await.expect("send");
    assert_eq!(next_text(&mut ada).await, "ada: hello");
    assert_eq!(next_text(&mut bob).await, "ada: hello");

    // Idle, the object is evicted while the sockets stay open; the next message rebuilds it.
    let mut idle = Duration::from_secs(12);
    let generation = loop {
        tokio::time::sleep(idle).await;
        ada.send("generation").await.expect("send");
        let answer = next_text(&mut ada).await;
        let generation: u64 = answer
            .strip_prefix("generation ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected answer {answer:?}"));
        if generation > 1 {
            break generation;
        }
        idle += Duration::from_secs(5);
    };
    println!("the room was rebuilt (generation {generation}) after idling");
    bob.send("still here").await.expect("send");
    assert_eq!(next_text(&mut ada).await, "bob: still here");
    assert_eq!(next_text(&mut bob).await, "bob: still here");

    let state = call_json(&workerd, &client, Method::GET, "/rooms/lobby/state").await;
    assert_eq!(
        state["history"],
        serde_json::json!(["ada: hello", "bob: still here"])
    );
    assert_eq!(state["inits"], generation);
    assert_eq!(state["members"], 2);
    ada.close(1000, "bye").await.expect("close");
    workerd.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_fires() {
    let (_dir, persist) = scratch();
    let workerd = start(&persist);
    let client = Client::new(&workerd.url()).expect("client");
    let ws_url = format!("ws://{}/rooms/clock/ws?name=watcher", workerd.addr());
    let mut watcher = connect(&ws_url).await.expect("connect");
    next_text(&mut watcher).await;
    let set = call_json(
        &workerd,
        &client,
        Method::POST,
        "/rooms/clock/alarm?in_ms=200",
    )
    .await;
    assert_eq!(set["set"], 200);
    assert_eq!(next_text(&mut watcher).await, "alarm 1");
    let state = call_json(&workerd, &client, Method::GET, "/rooms/clock/state").await;
    assert_eq!(state["alarms"], 1);
    workerd.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_object_storage_survives_a_restart_of_workerd() {
    let (_dir, persist) = scratch();
    let workerd = start(&persist);
    let client = Client::new(&workerd.url()).expect("client");
    for expected in 1..=3u64 {
        let count = call_json(&workerd, &client, Method::POST, "/counter/kept").await;
        assert_eq!(count, expected);
    }
    workerd.stop();
    let workerd = start(&persist);
    let client = Client::new(&workerd.url()).expect("client");
    let count = call_json(&workerd, &client, Method::GET, "/counter/kept").await;
    assert_eq!(count, 3);
    workerd.stop();
}
