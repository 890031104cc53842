//! The links example on AWS, in MiniStack, with the same checks as under `dev`: its bucket, its
//! click-counter table, the function and its URL deployed from `alchemy.toml` by the app's own
//! command line; the links API served inside Lambda by the same program; a second deploy that
//! changes nothing; destroy that leaves nothing (checked through the AWS SDK).

mod common;

use std::path::{Path, PathBuf};

use alchemy::http::client::Client;
use alchemy_aws::testing::Emulator;
use common::aws::{ok, outputs, run, url_prefix};
use common::links::{make_follow_count_list_and_delete, refuse_bad_input, Target};
use common::text;

const LINKS: &str = env!("CARGO_BIN_EXE_links-app");

/// The configuration links ships: stage `aws` on AWS.
fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/links/alchemy.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_deploys_serves_every_click_and_is_destroyed_on_aws() {
    let emulator = Emulator::ministack().await.expect("MiniStack starts");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::copy(example_config(), dir.join("alchemy.toml")).unwrap();
    let sdk = emulator.sdk_config();
    let s3 = emulator.s3_client();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let lambda = aws_sdk_lambda::Client::new(&sdk);

    ok(
        LINKS,
        dir,
        &emulator,
        &["deploy", "--yes", "--stage", "aws"],
    );
    let out = outputs(LINKS, dir, &emulator);
    let bucket = out["links"]["name"].as_str().unwrap().to_string();
    let table = out["clicks"]["name"].as_str().unwrap().to_string();
    let function = out["api"]["name"].as_str().unwrap().to_string();
    let url = out["api-url"]["url"].as_str().unwrap().to_string();
    s3.head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("the bucket exists");
    dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the click counters' table exists");
    let config = lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .expect("the function exists");
    let env = config.environment().and_then(|e| e.variables()).unwrap();
    assert_eq!(env["ALCHEMY_BUCKET_LINKS"], bucket);
    assert_eq!(env["ALCHEMY_ACTORS_CLICKS"], table);

    // The same checks as under `dev`, through the function URL.
    let target = Target {
        client: Client::new(emulator.endpoint()).unwrap(),
        prefix: url_prefix(&url),
    };
    refuse_bad_input(&target).await;
    make_follow_count_list_and_delete(&target, 32).await;

    // The same build again: nothing to do.
    let again = run(
        LINKS,
        dir,
        &emulator,
        &["plan", "--stage", "aws", "--detailed-exitcode"],
    );
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}{}",
        text(&again.stdout),
        text(&again.stderr)
    );

    // A bucket that still holds links is not deleted behind the user's back: the destroy stops
    // and says so, and once the bucket is empty the next destroy finishes.
    let refused = run(
        LINKS,
        dir,
        &emulator,
        &["destroy", "--yes", "--stage", "aws"],
    );
    let said = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert_eq!(refused.status.code(), Some(4), "{said}");
    assert!(
        said.contains(&format!("bucket `{bucket}` is not empty")),
        "{said}"
    );
    s3.delete_object()
        .bucket(&bucket)
        .key("links/home")
        .send()
        .await
        .unwrap();
    ok(
        LINKS,
        dir,
        &emulator,
        &["destroy", "--yes", "--stage", "aws"],
    );
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err());
    assert!(dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .is_err());
    assert!(lambda
        .get_function()
        .function_name(&function)
        .send()
        .await
        .is_err());
}
