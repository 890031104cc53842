//! photo-share as a Cloudflare Worker: the library built to wasm with `build_worker`, run in
//! real workerd (`wrangler dev` on a loopback port) with its bucket and both actor namespaces,
//! and driven over real sockets with the same checks as `photo-share dev` (`common::photos`).
//!
//! Needs the wasm toolchain: `bash scripts/wasm-toolchain.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use alchemy::http::client::Client;
use alchemy_cloudflare::build::{build_worker, BuildOptions, WorkerBundle};
use alchemy_cloudflare::testing::{WorkerConfig, Workerd};
use common::photos;

/// photo-share's Worker, built once per test run.
fn bundle() -> WorkerBundle {
    static BUNDLE: Mutex<Option<WorkerBundle>> = Mutex::new(None);
    let mut slot = BUNDLE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(bundle) = slot.as_ref() {
        return bundle.clone();
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share");
    let bundle = build_worker(&crate_dir, &BuildOptions::default())
        .unwrap_or_else(|error| panic!("building photo-share's Worker failed: {error}"));
    println!("photo-share Worker: {}", bundle.size);
    *slot = Some(bundle.clone());
    bundle
}

/// workerd running photo-share, persisting under a fresh directory (kept by the returned guard).
fn start() -> (tempfile::TempDir, Workerd) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let persist: PathBuf = dir.path().join("state");
    let config = WorkerConfig::new("photo-share")
        .bucket("photos")
        .actors("rooms", "RoomObject")
        .actors("counters", "CounterObject");
    let workerd = Workerd::start(&bundle(), &config, &persist)
        .unwrap_or_else(|error| panic!("starting workerd failed: {error}"));
    (dir, workerd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_stream_up_and_down_with_ranges_lists_deletes_and_bad_input() {
    let (_dir, workerd) = start();
    let client = Client::new(&workerd.url()).expect("client");
    photos::upload_and_download(&client, "big.bin", 6 << 20).await;
    photos::ranges_list_delete_and_bad_names(&client, "set-").await;
    workerd.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_clients_count_four_hundred_views_of_one_photo() {
    let (_dir, workerd) = start();
    let client = Client::new(&workerd.url()).expect("client");
    photos::concurrent_views(&client, "cat.jpg", 16, 25).await;
    workerd.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_fans_out_and_keeps_its_history_for_a_newcomer() {
    let (_dir, workerd) = start();
    let client = Client::new(&workerd.url()).expect("client");
    photos::chat_with_history(&client, &workerd.url(), "lobby").await;
    workerd.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_alarm_announces() {
    let (_dir, workerd) = start();
    let client = Client::new(&workerd.url()).expect("client");
    photos::alarm_announcement(&client, &workerd.url(), "hall", 300).await;
    workerd.stop();
}
