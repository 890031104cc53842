//! The links example under `dev`, over real sockets: make, follow, count, list and delete
//! links, with concurrent clicks counted exactly and bad input refused.

mod common;

use alchemy::http::client::Client;
use common::dev::Dev;
use common::links::{make_follow_count_list_and_delete, refuse_bad_input, Target};

fn dev(dir: &std::path::Path) -> (Dev, Target) {
    let dev = Dev::start_program(env!("CARGO_BIN_EXE_links-app"), dir, &[], &[]);
    let target = Target {
        client: Client::new(&dev.url).unwrap(),
        prefix: String::new(),
    };
    (dev, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_are_made_followed_counted_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (dev, target) = dev(dir.path());
    make_follow_count_list_and_delete(&target, 50).await;
    dev.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (dev, target) = dev(dir.path());
    refuse_bad_input(&target).await;
    dev.stop();
}
