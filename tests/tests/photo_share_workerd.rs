//! photo-share on the local Cloudflare target: `photo-share deploy --stage cloudflare` (the
//! stage its `alchemy.toml` ships) builds the library to wasm and deploys it through the
//! Cloudflare control plane to a `LocalCloudflare` (the checking v4 API server joined with real
//! workerd); the Worker is then driven over real sockets with the same checks as
//! `photo-share dev` (`common::photos`), deployed again without change, and destroyed.
//!
//! Needs the wasm toolchain: `bash scripts/wasm-toolchain.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use alchemy::http::client::Client;
use alchemy_cloudflare::testing::LocalCloudflare;
use common::{photos, text};

const PHOTO_SHARE: &str = env!("CARGO_BIN_EXE_photo-share-app");

/// photo-share's directory: its `alchemy.toml` names the crate as `.`.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/photo-share")
}

/// Runs photo-share with `args` against `cloudflare`, its state under `state`.
fn run(cloudflare: &LocalCloudflare, state: &Path, args: &[&str]) -> Output {
    common::cloudflare::run(PHOTO_SHARE, &example_dir(), cloudflare, state, args)
}

fn ok(cloudflare: &LocalCloudflare, state: &Path, args: &[&str]) -> String {
    common::cloudflare::ok(PHOTO_SHARE, &example_dir(), cloudflare, state, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn photo_share_deploys_to_the_cloudflare_stage_and_serves_the_same_checks() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cloudflare = LocalCloudflare::start(dir.path().join("cloudflare"))
        .await
        .expect("the local Cloudflare target starts");

    let base = common::cloudflare::deploy(
        PHOTO_SHARE,
        &example_dir(),
        &cloudflare,
        &state,
        "cloudflare",
        "api",
    );
    let client = Client::new(&base).expect("client");

    photos::upload_and_download(&client, "big.bin", 6 << 20).await;
    photos::ranges_list_delete_and_bad_names(&client, "set-").await;
    photos::concurrent_views(&client, "cat.jpg", 16, 25).await;
    photos::chat_with_history(&client, &base, "lobby").await;
    photos::alarm_announcement(&client, &base, "hall", 300).await;

    // The same sources again: the same bundle, nothing to change, the Worker left running.
    let script = cloudflare
        .running()
        .into_keys()
        .next()
        .expect("one Worker runs");
    let starts = cloudflare.starts(&script);
    let again = run(
        &cloudflare,
        &state,
        &["plan", "--stage", "cloudflare", "--detailed-exitcode"],
    );
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        text(&again.stdout),
        text(&again.stderr)
    );
    assert_eq!(cloudflare.starts(&script), starts);

    ok(
        &cloudflare,
        &state,
        &["destroy", "--yes", "--stage", "cloudflare"],
    );
    assert!(cloudflare.running().is_empty());
    assert!(cloudflare.api().cloud().scripts.is_empty());
    let violations = cloudflare.api().violations();
    assert!(violations.is_empty(), "{violations:#?}");
}
