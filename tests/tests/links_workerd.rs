//! The links example on the local Cloudflare target, with the same checks as under `dev` and on
//! AWS: `links deploy --stage cloudflare` (the stage its `alchemy.toml` ships) builds the library
//! to wasm and deploys it through the Cloudflare control plane to a `LocalCloudflare` (the
//! checking v4 API server joined with real workerd): the links bucket on R2, the click counters
//! as Durable Objects, the API as the Worker's fetch handler, served over real sockets; a second
//! plan that changes nothing; destroy that leaves nothing, and no request off the API's documents.
//!
//! Needs the wasm toolchain: `bash scripts/wasm-toolchain.sh`.

mod common;

use std::path::{Path, PathBuf};

use alchemy::http::client::Client;
use alchemy_cloudflare::testing::LocalCloudflare;
use common::cloudflare::{deploy, destroy_leaves_nothing, plan_changes_nothing};
use common::links::{make_follow_count_list_and_delete, refuse_bad_input, Target};
use http::{Method, StatusCode};
use serde_json::json;

const LINKS: &str = env!("CARGO_BIN_EXE_links-app");

/// links' directory: its `alchemy.toml` names the crate as `.`.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/links")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_deploys_to_the_cloudflare_stage_and_serves_every_click() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cloudflare = LocalCloudflare::start(dir.path().join("cloudflare"))
        .await
        .expect("the local Cloudflare target starts");
    let example = example_dir();

    let base = deploy(LINKS, &example, &cloudflare, &state, "cloudflare", "api");

    // One Worker, bound to one R2 bucket and to the counters' Durable Object class.
    let account = cloudflare.api().cloud();
    let [bucket] = account.buckets.keys().collect::<Vec<_>>()[..] else {
        panic!("one R2 bucket: {:?}", account.buckets.keys());
    };
    let [script] = account.scripts.values().collect::<Vec<_>>()[..] else {
        panic!("one Worker script: {:?}", account.scripts.keys());
    };
    let links = script.binding("LINKS").expect("the links bucket is bound");
    assert_eq!(links["type"], "r2_bucket");
    assert_eq!(links["bucket_name"], bucket.as_str());
    let clicks = script.binding("CLICKS").expect("the counters are bound");
    assert_eq!(clicks["type"], "durable_object_namespace");
    assert_eq!(clicks["class_name"], "ClicksObject");
    let classes: Vec<&str> = account
        .namespaces
        .iter()
        .map(|n| n.class.as_str())
        .collect();
    assert_eq!(classes, ["ClicksObject"]);

    // The same checks as under `dev` and on AWS, through the workers.dev URL.
    let target = Target {
        client: Client::new(&base).expect("client"),
        prefix: String::new(),
    };
    refuse_bad_input(&target).await;
    make_follow_count_list_and_delete(&target, 50).await;

    // The same sources again: the same bundle, nothing to change, the Worker left running.
    plan_changes_nothing(LINKS, &example, &cloudflare, &state, "cloudflare");

    // The link the checks leave behind is deleted as a user would, then the stage.
    let (status, _, _) = target.call(Method::DELETE, "/links/home", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, listed) = target.call(Method::GET, "/links", None).await;
    assert_eq!(listed["codes"], json!([]));
    destroy_leaves_nothing(LINKS, &example, &cloudflare, &state, "cloudflare");
}
