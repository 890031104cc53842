//! Requests per second of a Worker in workerd: an alchemy service (the test Worker's
//! `GET /hello`, through `serve!`, the neutral handler and the body conversions) against a
//! minimal handler written with the `worker` crate alone, in the same run. Also reports the
//! size of both bundles. Figures, not assertions.
//!
//! ```sh
//! bash scripts/wasm-toolchain.sh
//! cargo bench -p alchemy-cloudflare --features testing --bench workerd
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use alchemy_cloudflare::build::{build_worker, BuildOptions, WorkerBundle};
use alchemy_cloudflare::testing::{WorkerConfig, Workerd};
use alchemy_http::client::Client;
use alchemy_stream::ByteStream;
use http::Request;

const CLIENTS: usize = 32;
const REQUESTS: usize = 300;
const ROUNDS: usize = 3;

fn build(dir: &str) -> WorkerBundle {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    build_worker(&crate_dir, &BuildOptions::default())
        .unwrap_or_else(|error| panic!("building {dir} failed: {error}"))
}

/// Requests per second of `CLIENTS` clients sending `REQUESTS` requests each.
async fn load(url: &str) -> f64 {
    let client = Client::new(url).expect("client");
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..REQUESTS {
                    let req = Request::get("/hello")
                        .body(ByteStream::empty())
                        .expect("request");
                    let response = client.send(req).await.expect("a response");
                    assert!(response.status().is_success(), "{}", response.status());
                    let body = response.into_body().collect(1024).await.expect("a body");
                    assert_eq!(&body[..], b"hello");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client");
    }
    (CLIENTS * REQUESTS) as f64 / started.elapsed().as_secs_f64()
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let started = Instant::now();
    let app = build("tests/worker-app");
    let app_build = started.elapsed();
    let started = Instant::now();
    let hello = build("benches/hello-worker");
    let hello_build = started.elapsed();
    println!(
        "alchemy test Worker: {} (build {})",
        app.size,
        seconds(app_build)
    );
    println!(
        "worker-crate hello:  {} (build {})",
        hello.size,
        seconds(hello_build)
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let app_config = WorkerConfig::new("bench-app")
        .bucket("conformance")
        .actors("suite", "SuiteObject")
        .actors("rooms", "RoomObject");
    let app_workerd =
        Workerd::start(&app, &app_config, &dir.path().join("app")).expect("workerd (app)");
    let hello_workerd = Workerd::start(
        &hello,
        &WorkerConfig::new("bench-hello"),
        &dir.path().join("hello"),
    )
    .expect("workerd (hello)");

    // Warm both up, then alternate rounds so that neither gets the quieter machine.
    load(&app_workerd.url()).await;
    load(&hello_workerd.url()).await;
    let (mut app_rates, mut hello_rates) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        app_rates.push(load(&app_workerd.url()).await);
        hello_rates.push(load(&hello_workerd.url()).await);
    }
    let best = |rates: &[f64]| rates.iter().cloned().fold(0.0, f64::max);
    let (app_rate, hello_rate) = (best(&app_rates), best(&hello_rates));
    println!(
        "GET /hello, {CLIENTS} clients x {REQUESTS} requests, best of {ROUNDS}: \
         alchemy service {app_rate:.0} req/s, worker-crate handler {hello_rate:.0} req/s, \
         ratio {:.2}",
        app_rate / hello_rate
    );
    app_workerd.stop();
    hello_workerd.stop();
}
