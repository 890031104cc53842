//! A 1 MiB put and get through the test Worker's buckets in workerd: the S3 client over
//! `fetch` (SigV4, to S3 in MiniStack on loopback) against the R2 binding (wrangler's local
//! R2), in the same run. Figures, not assertions.
//!
//! ```sh
//! bash scripts/wasm-toolchain.sh
//! cargo bench -p alchemy-cloudflare --features testing --bench s3_workerd
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use alchemy_aws::testing::{Emulator, REGION};
use alchemy_cloudflare::build::{build_worker, BuildOptions};
use alchemy_cloudflare::s3::{S3Config, UNSUPPORTED_VAR};
use alchemy_cloudflare::testing::{WorkerConfig, Workerd};
use alchemy_http::client::Client;
use alchemy_stream::ByteStream;
use http::{Method, Request};

const SIZE: usize = 1 << 20;
const ROUNDS: usize = 30;

/// One put and one get of `data` as `key` in the bucket `id`, through the Worker.
async fn put_get(client: &Client, id: &str, key: &str, data: &[u8]) -> Duration {
    let path = format!("/buckets/{id}/objects/{key}");
    let started = Instant::now();
    let put = Request::builder()
        .method(Method::PUT)
        .uri(&path)
        .body(ByteStream::from(data.to_vec()))
        .expect("request");
    let response = client.send(put).await.expect("a response");
    let status = response.status();
    let body = response.into_body().collect(1 << 16).await.expect("a body");
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let get = Request::get(&path)
        .body(ByteStream::empty())
        .expect("request");
    let response = client.send(get).await.expect("a response");
    assert!(response.status().is_success(), "{}", response.status());
    let body = response
        .into_body()
        .collect(SIZE * 2)
        .await
        .expect("a body");
    let elapsed = started.elapsed();
    assert!(body[..] == data[..], "{id} returned other bytes");
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let emulator = Emulator::ministack().await.expect("start MiniStack");
    let created = emulator.create_bucket("bench").await.expect("a bucket");
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/worker-app");
    let bundle = build_worker(&crate_dir, &BuildOptions::default()).expect("the test Worker");
    let config = WorkerConfig::new("alchemy-bench")
        .bucket("conformance")
        .actors("suite", "SuiteObject")
        .actors("rooms", "RoomObject")
        .var(S3Config::bucket_var("s3-photos"), created.bucket())
        .var("AWS_REGION", REGION)
        .var("AWS_ENDPOINT_URL", emulator.endpoint())
        .var(UNSUPPORTED_VAR, "copy_conditional")
        .secret("AWS_ACCESS_KEY_ID", "test")
        .secret("AWS_SECRET_ACCESS_KEY", "test");
    let dir = tempfile::tempdir().expect("a directory");
    let workerd = Workerd::start(&bundle, &config, &dir.path().join("state")).expect("workerd");
    let client = Client::new(&workerd.url()).expect("client");
    let data: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    // Warm up both paths (the isolate, the connections).
    for id in ["conformance", "s3-photos"] {
        put_get(&client, id, "warm-up", &data).await;
    }
    let mut r2 = Vec::new();
    let mut s3 = Vec::new();
    for round in 0..ROUNDS {
        let key = format!("object-{round}");
        r2.push(put_get(&client, "conformance", &key, &data).await);
        s3.push(put_get(&client, "s3-photos", &key, &data).await);
    }
    let (r2, s3) = (median(r2), median(s3));
    println!("1 MiB put + get through the Worker, median of {ROUNDS} rounds:");
    println!(
        "  R2 binding (local R2):                {:.1} ms",
        r2.as_secs_f64() * 1e3
    );
    println!(
        "  S3 over fetch + SigV4 (MiniStack):    {:.1} ms",
        s3.as_secs_f64() * 1e3
    );
    println!(
        "  S3 / R2:                              {:.2}x",
        s3.as_secs_f64() / r2.as_secs_f64()
    );
    workerd.stop();
}
